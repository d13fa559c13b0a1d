"""A real HTTP(S) file server with byte-range requests, on 127.0.0.1, that logs requests.

GDAL's /vsicurl/ reads a remote file with HEAD and ``Range: bytes=a-b`` GETs; this
server answers them as a static file server does (206 Partial Content, ETag,
Last-Modified, 404 for a missing file) and records every request, so tests can
count what was fetched.  It runs in its own process (``python rangeserver.py ROOT
LOG [CERT]``): rasterio holds the GIL while GDAL opens a file, so a server thread in
the test's process could not answer.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import re
import ssl
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


@dataclass
class Request:
    method: str
    path: str
    start: int | None = None
    end: int | None = None  # inclusive

    @property
    def nbytes(self) -> int:
        return 0 if self.start is None or self.end is None else self.end - self.start + 1


def _handler(root: Path, log, fail_first: bool = False) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()
    failed: set[tuple[str, str]] = set()  # (path, Range) answered 503 once already

    def record(method: str, path: str, a: int | None = None, b: int | None = None) -> None:
        with lock:
            log.write(json.dumps([method, path, a, b]) + "\n")
            log.flush()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _file(self) -> Path | None:
            rel = self.path.split("?")[0].lstrip("/")
            f = (root / rel).resolve()
            return f if f.is_file() and root.resolve() in f.parents else None

        def _not_found(self) -> None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _headers(self, f: Path, status: int, length: int, extra=()) -> None:
            st = f.stat()
            self.send_response(status)
            self.send_header("Content-Length", str(length))
            self.send_header("Accept-Ranges", "bytes")
            etag = hashlib.md5(f"{f}{st.st_mtime_ns}{st.st_size}".encode()).hexdigest()
            self.send_header("ETag", f'"{etag}"')
            self.send_header("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True))
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()

        def do_HEAD(self):
            f = self._file()
            record("HEAD", self.path)
            if f is None:
                return self._not_found()
            self._headers(f, 200, f.stat().st_size)

        def do_GET(self):
            f = self._file()
            m = _RANGE.match(self.headers.get("Range", ""))
            if f is None:
                record("GET", self.path)
                return self._not_found()
            data = f.read_bytes()
            size = len(data)
            key = (self.path, self.headers.get("Range", ""))
            if fail_first and m and int(m[1]) > 0 and key not in failed:
                with lock:
                    failed.add(key)
                record("GET-503", self.path, int(m[1]), int(m[2]) if m[2] else None)
                self.send_response(503)  # a transient failure, as a loaded server gives
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if m:
                a, b = int(m[1]), min(int(m[2]) if m[2] else size - 1, size - 1)
                record("GET", self.path, a, b)
                body = data[a : b + 1]
                self._headers(f, 206, len(body), [("Content-Range", f"bytes {a}-{b}/{size}")])
            else:
                record("GET-WHOLE", self.path, 0, size - 1)
                body = data
                self._headers(f, 200, len(body))
            self.wfile.write(body)

    return Handler


def serve(root: Path, log_path: Path, certfile: Path | None, fail_first: bool = False) -> None:
    """Serve ``root`` until killed; print the port on stdout.

    With ``fail_first``, the first GET of each byte range (but the file's first bytes,
    which GDAL reads when it opens it) is answered 503 Service Unavailable.
    """
    with open(log_path, "a", encoding="utf-8") as log:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(root, log, fail_first))
        httpd.daemon_threads = True
        if certfile is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(certfile)
            httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        print(httpd.server_address[1], flush=True)
        httpd.serve_forever()


@dataclass
class RangeServer:
    """The server process and its request log."""

    root: Path
    log: Path
    certfile: Path | None = None
    fail_first: bool = False
    _proc: subprocess.Popen | None = None
    _port: int = 0

    @property
    def url(self) -> str:
        return f"{'https' if self.certfile else 'http'}://127.0.0.1:{self._port}"

    def start(self) -> RangeServer:
        args = [sys.executable, __file__, str(self.root), str(self.log)]
        args.append(str(self.certfile) if self.certfile is not None else "-")
        if self.fail_first:
            args.append("--fail-first")
        self._proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        self._port = int(self._proc.stdout.readline())
        return self

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)

    @property
    def requests(self) -> list[Request]:
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [Request(*json.loads(ln)) for ln in lines if ln]

    def clear(self) -> None:
        self.log.write_text("")

    def fetched(self, name: str) -> list[Request]:
        """The GETs of one file that were answered (not a ``GET-503``)."""
        return [
            r
            for r in self.requests
            if r.method in ("GET", "GET-WHOLE") and r.path.lstrip("/") == name
        ]


def self_signed_cert(folder: Path) -> Path:
    """A throw-away self-signed certificate + key for 127.0.0.1 (PEM, one file)."""
    key, crt = folder / "key.pem", folder / "crt.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(crt),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    pem = folder / "server.pem"
    pem.write_text(crt.read_text() + key.read_text())
    return pem


if __name__ == "__main__":
    cert = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] != "-" else None
    serve(
        Path(sys.argv[1]),
        Path(sys.argv[2]),
        Path(cert) if cert else None,
        "--fail-first" in sys.argv,
    )
