"""Debian's Chromium as every headless run here starts it (the tests, the benchmark, the
build's interpreter snapshot): Playwright drives it through ``executable_path``; a browser is
never downloaded (no ``playwright install``)."""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # these runs are often root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # Resolve every name to an unreachable address, so nothing can leave the machine.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
