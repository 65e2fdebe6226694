"""A language model on a server on the LAN: an OpenAI-compatible `/v1/completions` endpoint (llama.cpp's
`llama-server`, vLLM) serving the same GGUF as the box's own copy.

The box formats the prompt itself (the model's chat template, as the local contexts do) and sends it as
token ids, so a served reply reads token for token the prompt a local one would, tool calls and the
end-of-call mark included; constrained output is sent as the GBNF text llama-cpp-python writes for the
local grammar (`grammar`), so it keeps the same guarantee on either side. The client is synchronous and
runs in a worker thread, like a local generation.

A server that refuses the connection, times out, answers an error or breaks off is `ServerDown`: the caller
goes on with the local model, and the server is left alone for `retry_seconds` so that the next replies do
not each wait for it again.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import structlog
from prometheus_client import Counter, Gauge

log = structlog.get_logger(__name__)
UP = Gauge(
    "appliance_model_server_up", "Whether the model server of a role answers (1) or is passed over (0)", ["role"]
)
SERVED = Counter("appliance_model_server_generations_total", "Generations a model server wrote", ["role"])
FALLBACKS = Counter(
    "appliance_model_server_fallbacks_total", "Generations the local model wrote because the server failed", ["role"]
)
MAX_LINE = 1 << 20  # one streamed event; a bigger one is not a server we understand


class ServerDown(Exception):
    """The server did not write the generation; `pieces` says how much of it had arrived."""

    def __init__(self, reason: str, pieces: int = 0) -> None:
        super().__init__(reason)
        self.pieces = pieces


class ModelServer:
    def __init__(
        self,
        url: str,
        role: str,
        *,
        timeout_seconds: float = 5.0,
        api_key: str = "",
        retry_seconds: float = 15.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url.rstrip("/")
        self.role = role
        self.retry_seconds = retry_seconds
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # The connection is on the LAN: a server that does not take it within a second is not there. Between
        # two streamed tokens (or before the first: the prompt's reading) it may take `timeout_seconds`.
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout_seconds, connect=min(1.0, timeout_seconds)),
            headers=headers,
            transport=transport,
            follow_redirects=False,
        )
        self._clock = clock
        self._down_until = 0.0
        self.outages = 0  # times it stopped answering (a retry that fails again is the same outage)
        self.last_error = ""
        self._lock = threading.Lock()
        UP.labels(role).set(1)

    @property
    def up(self) -> bool:
        """False while a failure is recent: the caller should not wait for the server now."""
        return self._clock() >= self._down_until

    def close(self) -> None:
        self._http.close()

    def generate(
        self,
        prompt: list[int],
        *,
        max_tokens: int,
        temperature: float,
        top_p: float = 1.0,
        grammar: str | None = None,
        logit_bias: dict[int, float] | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> Iterator[str]:
        """The text pieces of the completion of `prompt` (token ids), as the server streams them. Closing the
        iterator, or `stop()` turning true, closes the connection, which stops the server's generation.
        Raises ServerDown (and marks the server down) when the server fails, before or after some pieces."""
        body: dict[str, Any] = {
            "prompt": prompt,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "top_p": top_p,
            "stream": True,
            "cache_prompt": True,  # llama-server keeps each slot's KV cache: a call's next turn reads only what is new
        }
        if grammar is not None:
            body["grammar"] = grammar
        if logit_bias:
            body["logit_bias"] = {str(token): bias for token, bias in logit_bias.items()}
        pieces = 0
        try:
            with self._http.stream("POST", f"{self.url}/v1/completions", json=body) as response:
                if response.status_code != 200:
                    raise ServerDown(f"HTTP {response.status_code}: {response.read()[:200].decode(errors='replace')}")
                for line in response.iter_lines():
                    if stop is not None and stop():
                        return
                    text = _event_text(line)
                    if text is None:
                        break
                    if text:
                        pieces += 1
                        yield text
        except ServerDown as exc:
            self._failed(str(exc), pieces)
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            self._failed(f"{type(exc).__name__}: {exc}", pieces)
        SERVED.labels(self.role).inc()
        with self._lock:
            if self._down_until:  # it answered again after a failure
                self._down_until = 0.0
                UP.labels(self.role).set(1)
                log.info("model_server.up", role=self.role, url=self.url)

    def _failed(self, reason: str, pieces: int) -> None:
        with self._lock:
            if not self._down_until:
                self.outages += 1
            self.last_error = reason
            self._down_until = self._clock() + self.retry_seconds
        UP.labels(self.role).set(0)
        FALLBACKS.labels(self.role).inc()
        log.warning("model_server.down", role=self.role, url=self.url, error=reason, retry_seconds=self.retry_seconds)
        raise ServerDown(reason, pieces)


def _event_text(line: str) -> str | None:
    """The text of one server-sent event line ("" for anything that carries none); None at the end."""
    if len(line) > MAX_LINE:
        raise ValueError("a streamed event longer than 1 MiB")
    if not line.startswith("data:"):
        return ""  # blank separators, comments, `event:` lines
    data = line[5:].strip()
    if data == "[DONE]":
        return None
    event = json.loads(data)
    if "error" in event:
        raise ValueError(f"the server reported an error: {str(event['error'])[:200]}")
    choice = event["choices"][0]
    text = choice.get("text") or ""
    if not isinstance(text, str):
        raise TypeError("a streamed choice whose text is not a string")
    return text
