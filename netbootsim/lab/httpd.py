"""A small threaded HTTP/1.1 file server that logs the timing of every request.

One thread per connection, keep-alive as in HTTP/1.1 (iPXE always asks for it,
net/tcp/httpcore.c [ipxe-src]), ``GET`` and ``HEAD`` of regular files under one directory, 404
otherwise. Each request becomes one CSV row with two host ``time.monotonic()``
stamps: when the request head was received and when the last byte of the response
was handed to the kernel (``sendall`` returned; not when the client ACKed it).

Run in the lab namespace as ``python -m netbootsim.lab.httpd --root DIR --bind IP
--port 80 --log http.csv --t0 T``; it prints ``READY <port>`` once listening.

With ``--tls-cert`` and ``--tls-key`` it serves HTTPS (Python's ``ssl``, the host's
OpenSSL; TLS 1.2 at least, as iPXE speaks it): the TLS handshake of each connection is
done, and timed, before its first request is read (``tls_start_s``, ``tls_done_s``: from
the accepted connection to the server's last handshake message handed to the kernel,
with the version and cipher agreed). A handshake that fails (the client refuses the
certificate) is one row with ``method`` ``TLS``, status 0, and the error in ``path``.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import signal
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ["CSV_FIELDS", "LabHTTPServer", "main"]

#: Columns of ``http.csv``. Times ``*_s`` are seconds since the run start, ``mono_*``
#: raw ``time.monotonic()`` of the host.
CSV_FIELDS = ["conn", "seq", "client", "method", "path", "status", "bytes",
              "received_s", "last_byte_s", "mono_received", "mono_last_byte",
              "tls_start_s", "tls_done_s", "tls_version", "tls_cipher", "tcp_cc"]

_CHUNK = 1 << 20


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LabHTTPServer
    server_version = "netbootsim-lab/1"

    def setup(self) -> None:
        self.conn_id = next(self.server.conn_ids)
        self.seq = 0
        self.tls: tuple[float, float, str, str] | None = None
        self.refused = False
        if isinstance(self.request, ssl.SSLSocket):
            start = time.monotonic()
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError) as e:
                self.refused = True
                self.server.record_refused(self, start, time.monotonic(), e)
                return
            cipher = self.request.cipher()
            self.tls = (start, time.monotonic(), self.request.version() or "",
                        cipher[0] if cipher else "")
        super().setup()

    def handle(self) -> None:
        if not self.refused:
            super().handle()

    def finish(self) -> None:
        if not self.refused:
            super().finish()

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        self._serve(body=True)

    def do_HEAD(self) -> None:  # noqa: N802 - http.server API
        self._serve(body=False)

    def _serve(self, body: bool) -> None:
        received = time.monotonic()
        self.seq += 1
        path = self.server.resolve(self.path)
        sent = 0
        if path is None:
            msg = b"not found\n"
            status = 404
            self.send_response(404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            if body:
                self.wfile.write(msg)
                sent = len(msg)
        else:
            status = 200
            size = path.stat().st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            if body:
                with open(path, "rb") as f:
                    while chunk := f.read(_CHUNK):
                        self.wfile.write(chunk)
                        sent += len(chunk)
        self.wfile.flush()
        self.server.record(self, status, sent, received, time.monotonic())

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - API name
        """Silence the default stderr log: the CSV is the log."""


class LabHTTPServer(ThreadingHTTPServer):
    """Serves ``root`` and appends one row per request to ``log_path``.

    Args:
        address: ``(host, port)``; port 0 picks a free one.
        root: directory whose regular files are served (no listings, no ``..``).
        log_path: CSV file written with :data:`CSV_FIELDS`.
        t0: ``time.monotonic()`` of the run start, subtracted in the ``*_s`` columns.
        tcp_cc: the TCP congestion control of every connection (``TCP_CONGESTION`` on the
            listening and each accepted socket: a root process may choose one the
            namespace does not allow by default); ``None``: the namespace's. The column
            ``tcp_cc`` is each connection's, read back from its socket.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], root: Path, log_path: Path, t0: float = 0.0,
                 tls: ssl.SSLContext | None = None, tcp_cc: str | None = None):
        self.tcp_cc = tcp_cc
        super().__init__(address, _Handler)
        if tls is not None:  # the handshake is done (and timed) by each handler
            self.socket = tls.wrap_socket(self.socket, server_side=True,
                                          do_handshake_on_connect=False)
        self.root = Path(root).resolve()
        self.t0 = t0
        self.conn_ids = itertools.count(1)
        self._lock = threading.Lock()
        self._log = open(log_path, "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._csv = csv.writer(self._log)
        self._csv.writerow(CSV_FIELDS)
        self._log.flush()

    def server_bind(self) -> None:  # noqa: D102 - socketserver API
        if self.tcp_cc is not None:
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION,
                                   self.tcp_cc.encode())
        super().server_bind()

    def get_request(self) -> tuple[socket.socket, tuple]:  # noqa: D102 - socketserver API
        conn, addr = super().get_request()
        if self.tcp_cc is not None:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, self.tcp_cc.encode())
        return conn, addr

    def resolve(self, url_path: str) -> Path | None:
        """The file for a request path, or ``None`` (→ 404)."""
        rel = unquote(urlsplit(url_path).path).lstrip("/")
        candidate = (self.root / rel).resolve()
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        return candidate

    def record(self, h: _Handler, status: int, sent: int, received: float, done: float) -> None:
        """Append one CSV row (thread-safe) and flush it."""
        tls = ["", "", "", ""]
        if h.tls is not None:
            tls = [f"{h.tls[0] - self.t0:.6f}", f"{h.tls[1] - self.t0:.6f}", h.tls[2], h.tls[3]]
        cc = h.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16)
        with self._lock:
            self._csv.writerow([h.conn_id, h.seq, h.client_address[0], h.command, h.path,
                                status, sent, f"{received - self.t0:.6f}",
                                f"{done - self.t0:.6f}", f"{received:.6f}", f"{done:.6f}",
                                *tls, cc.rstrip(b"\0").decode()])
            self._log.flush()

    def record_refused(self, h: _Handler, start: float, end: float, error: Exception) -> None:
        """Append the row of a TLS handshake that failed (thread-safe)."""
        why = " ".join(str(error).split())[:200]
        with self._lock:
            self._csv.writerow([h.conn_id, 0, h.client_address[0], "TLS", why, 0, 0,
                                f"{start - self.t0:.6f}", f"{end - self.t0:.6f}",
                                f"{start:.6f}", f"{end:.6f}", f"{start - self.t0:.6f}",
                                f"{end - self.t0:.6f}", "", "", ""])
            self._log.flush()

    def server_close(self) -> None:  # noqa: D102 - socketserver API
        super().server_close()
        with self._lock:
            self._log.close()


def main(argv: list[str] | None = None) -> int:
    """Command line of the lab HTTP server; serves until SIGTERM or SIGINT."""
    p = argparse.ArgumentParser(prog="python -m netbootsim.lab.httpd")
    p.add_argument("--root", required=True, type=Path)
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--log", required=True, type=Path)
    p.add_argument("--t0", type=float, default=0.0, help="monotonic time of the run start")
    p.add_argument("--tls-cert", type=Path, default=None, help="serve HTTPS with this chain")
    p.add_argument("--tls-key", type=Path, default=None)
    p.add_argument("--tcp-cc", default=None, help="TCP congestion control of the connections")
    args = p.parse_args(argv)
    ctx = None
    if args.tls_cert is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
    server = LabHTTPServer((args.bind, args.port), args.root, args.log, args.t0, tls=ctx,
                           tcp_cc=args.tcp_cc)

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
