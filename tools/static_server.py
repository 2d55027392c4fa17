"""A small, safe static file server for dist/ (used by `build.py serve` and the tests).

It binds 127.0.0.1 unless told otherwise, serves only files under its root, answers 404
for anything else (no directory listings, no index.html fallback), and sends the MIME
types WebAssembly and ES modules need plus a strict Content-Security-Policy.
"""

from __future__ import annotations

import http.server
import posixpath
import sys
import threading
import urllib.parse
from functools import partial
from pathlib import Path

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; "
    "worker-src 'self'; object-src 'none'; base-uri 'none'"
)

MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".zip": "application/zip",
    ".whl": "application/zip",
    ".ts": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".safetensors": "application/octet-stream",
}


class StaticHandler(http.server.SimpleHTTPRequestHandler):
    server_version = "minimodel-static"
    sys_version = ""
    # HTTP/1.1: keep-alive, and Chromium revalidates with ETags only for HTTP/1.1 responses.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: with Nagle's algorithm on, the body of
    # every 200 waited for the client's delayed ACK (about 40 ms per file, a chain of them
    # on a first visit, where each module's imports are fetched after it arrives).
    disable_nagle_algorithm = True

    def __init__(self, *args, root: Path, quiet: bool, extra_headers: dict[str, str], csp: str, **kwargs) -> None:
        self.root = root
        self.quiet = quiet
        self.extra_headers = extra_headers
        self.csp = csp
        super().__init__(*args, directory=str(root), **kwargs)

    def resolve(self) -> Path | None:
        """The file a request path names, or None if it is not a file inside the root."""
        raw = urllib.parse.urlsplit(self.path).path
        decoded = urllib.parse.unquote(raw, errors="strict")
        if "\x00" in decoded or "\\" in decoded:
            return None
        parts = [p for p in decoded.split("/") if p not in ("", ".")]
        if any(p == ".." for p in parts):
            return None
        if decoded.endswith("/") or not parts:
            parts.append("index.html")
        candidate = (self.root / posixpath.join(*parts)).resolve()
        try:
            candidate.relative_to(self.root)
        except ValueError:
            return None
        return candidate if candidate.is_file() else None

    def send_head(self):  # noqa: ANN201 (signature of the base class)
        try:
            path = self.resolve()
        except UnicodeDecodeError:
            path = None
        if path is None:
            self.send_error(404, "Not Found")
            return None
        try:
            handle = open(path, "rb")  # noqa: SIM115 (closed by the base class)
        except OSError:
            self.send_error(404, "Not Found")
            return None
        stat = path.stat()
        etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
        last_modified = self.date_time_string(int(stat.st_mtime))
        if etag in self.headers.get("If-None-Match", "") or (
            "If-None-Match" not in self.headers and self.headers.get("If-Modified-Since") == last_modified
        ):
            # A repeat visit revalidates and reuses its cache (and Chromium's compiled wasm).
            handle.close()
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return None
        self.send_response(200)
        self.send_header("Content-Type", MIME_TYPES.get(path.suffix, "application/octet-stream"))
        self.send_header("Content-Length", str(stat.st_size))
        self.send_header("Last-Modified", last_modified)
        self.send_header("ETag", etag)
        self.end_headers()
        return handle

    def end_headers(self) -> None:
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", self.csp)
        self.send_header("Cache-Control", "no-cache")
        for name, value in self.extra_headers.items():
            self.send_header(name, value)
        super().end_headers()

    def list_directory(self, path):  # noqa: ANN001, ANN201
        self.send_error(404, "Not Found")
        return None

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        if not self.quiet:
            super().log_message(format, *args)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001
        # A browser that stops reading a response (a page closed or navigated away during a
        # download, a request it aborted) is not the server's error: no traceback for it.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def make_server(
    root: Path, host: str = "127.0.0.1", port: int = 0, quiet: bool = True, extra_headers: dict[str, str] | None = None,
    csp: str = CONTENT_SECURITY_POLICY, handler_class: type[StaticHandler] = StaticHandler,
    server_class: type[Server] = Server,
) -> Server:
    handler = partial(handler_class, root=Path(root).resolve(), quiet=quiet, extra_headers=extra_headers or {}, csp=csp)
    return server_class((host, port), handler)


def start_in_thread(
    root: Path, host: str = "127.0.0.1", port: int = 0, extra_headers: dict[str, str] | None = None,
    csp: str = CONTENT_SECURITY_POLICY, handler_class: type[StaticHandler] = StaticHandler,
    server_class: type[Server] = Server,
) -> tuple[Server, str]:
    """Start a server in a daemon thread; return it and its base URL. ``csp``: the
    Content-Security-Policy to send (by default the strict one the site needs);
    ``handler_class`` and ``server_class``: subclasses of StaticHandler and Server, for
    tools that watch what is served."""
    server = make_server(root, host, port, extra_headers=extra_headers, csp=csp, handler_class=handler_class,
                         server_class=server_class)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    bound_host, bound_port = server.server_address[:2]
    return server, f"http://{bound_host}:{bound_port}/"


def serve_forever(root: Path, host: str, port: int) -> None:
    server = make_server(root, host, port, quiet=False)
    bound_host, bound_port = server.server_address[:2]
    shown = "127.0.0.1" if bound_host in ("0.0.0.0", "") else bound_host
    print(f"\nServing {root} at  http://{shown}:{bound_port}/  (Ctrl+C to stop)\n", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
