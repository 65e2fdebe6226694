"""A real HTTP webhook receiver on loopback for tests: answers as told (ok, fail, slow), records requests."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    # The outbox opens up to 16 connections at once; with socketserver's default backlog of 5 the kernel
    # dropped some handshakes and the appliance saw resets (then rightly waited a minute to retry).
    request_queue_size = 64
    daemon_threads = True


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    mode: str = "ok"  # ok | fail | slow
    slow_seconds: float = 2.0
    received: list[Received] = field(default_factory=list)
    begun: int = 0  # requests whose body was read, answered or not (a slow answer is still in flight)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def start(self, port: int = 0) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.begun += 1
                if receiver.mode == "slow":
                    time.sleep(receiver.slow_seconds)
                receiver.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(500 if receiver.mode == "fail" else 200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = _Server(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
