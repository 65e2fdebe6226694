"""A real HTTP server on loopback standing in for an agent's HTTP tools: each path answers as its handler
says (JSON, a status, a hang, a huge body, a redirect), and every request is recorded."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ToolRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


# A handler gets the request and returns (status, headers, body bytes).
Answer = tuple[int, dict[str, str], bytes]


def ok(value: Any) -> Callable[[ToolRequest], Answer]:
    return lambda _request: (200, {"content-type": "application/json"}, json.dumps(value).encode())


@dataclass
class ToolServer:
    routes: dict[str, Callable[[ToolRequest], Answer]] = field(default_factory=dict)
    requests: list[ToolRequest] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def url(self, path: str) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def start(self) -> ToolServer:
        tools = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0) or 0))
                path = self.path.split("?")[0]
                request = ToolRequest(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                tools.requests.append(request)
                route = tools.routes.get(path)
                status, headers, payload = route(request) if route else (404, {}, b"{}")
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up on a huge answer, as it should

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def hang(seconds: float) -> Callable[[ToolRequest], Answer]:
    def answer(_request: ToolRequest) -> Answer:
        time.sleep(seconds)
        return 200, {"content-type": "application/json"}, b"{}"

    return answer
