"""The static server of `build.py serve`: MIME types, headers, 404s and path traversal."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest

from static_server import CONTENT_SECURITY_POLICY


def get(base_url: str, path: str, method: str = "GET"):
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request(method, path)  # sent as is: no client-side normalisation of ".."
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response, body


@pytest.mark.parametrize(
    ("path", "mime"),
    [
        ("/", "text/html; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/lib/minimodel.js", "text/javascript; charset=utf-8"),
        ("/lib/worker.js", "text/javascript; charset=utf-8"),
        ("/lib/pyodide.mjs", "text/javascript; charset=utf-8"),
        ("/lib/pyodide.asm.wasm", "application/wasm"),
        ("/lib/pyodide-lock.json", "application/json"),
        ("/lib/python_stdlib.zip", "application/zip"),
        ("/lib/minimodel-0.1.0-py3-none-pyodide_2024_0_wasm32.whl", "application/zip"),
        ("/style.css", "text/css; charset=utf-8"),
    ],
)
def test_files_are_served_with_correct_types_and_headers(base_url, dist, path, mime):
    response, body = get(base_url, path)
    assert response.status == 200
    assert response.getheader("Content-Type") == mime
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("Content-Security-Policy") == CONTENT_SECURITY_POLICY
    name = path.lstrip("/") or "index.html"
    assert body == (dist / name).read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/missing.wasm",
        "/nope/",
        "/../build.py",
        "/%2e%2e/build.py",
        "/%2E%2E%2Fbuild.py",
        "/..%2fbuild.py",
        "/a/../../build.py",
        "/....//build.py",
        "/%252e%252e/build.py",
        "/%00index.html",
        "/..\\build.py",
        "//etc/passwd",
        "/%ff",
    ],
)
def test_missing_and_escaping_paths_are_404(base_url, path):
    response, body = get(base_url, path)
    assert response.status == 404
    assert b"<html" not in body.lower() or b"404" in body
    assert b"def main" not in body and b"root:" not in body
    assert response.getheader("X-Content-Type-Options") == "nosniff"


def test_no_directory_listing(dist, tmp_path):
    from static_server import start_in_thread

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "file.txt").write_text("x")
    server, url = start_in_thread(tmp_path)
    try:
        response, body = get(url, "/sub/")
        assert response.status == 404 and b"file.txt" not in body
        response, body = get(url, "/")
        assert response.status == 404 and b"sub" not in body
    finally:
        server.shutdown()
        server.server_close()


def test_binds_loopback_by_default(base_url):
    assert urlsplit(base_url).hostname == "127.0.0.1"


def test_a_client_that_hangs_up_mid_download_is_not_an_error(tmp_path, capfd):
    """A page closed during a download resets the connection: the server says nothing (it
    printed a traceback for each), and goes on serving."""
    import socket
    import struct
    import time

    from static_server import start_in_thread

    (tmp_path / "big.bin").write_bytes(bytes(32 << 20))
    server, url = start_in_thread(tmp_path)
    try:
        host, port = urlsplit(url).hostname, urlsplit(url).port
        for _ in range(3):
            client = socket.create_connection((host, port))
            client.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            client.recv(1024)
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
            client.close()
        time.sleep(1)  # the server's threads meet the reset while writing
        (tmp_path / "small.txt").write_text("still here")
        response, body = get(url, "/small.txt")
        assert response.status == 200 and body == b"still here"
    finally:
        server.shutdown()
        server.server_close()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "ConnectionResetError" not in err, err
