"""HTTP tools during a call: one signed request per tool call, bounded in time and size, never retried.

The body is `{call_id, agent_id, tool, arguments, context, metadata}`. It is signed like a webhook delivery
(both schemes, with the inline webhook secret that `appliance webhooks secret` prints), the tool call's id
standing for the event id, plus an `Idempotency-Key` per call: a receiver can verify it with the same code and
drop a duplicate. The URL's host is checked against `url_allowlist` again after DNS (it was checked when the
agent was written); redirects are not followed. A 2xx JSON answer of at most 64 KiB is the result; anything
else (a timeout, a 500, HTML, a huge body) is an error the model words, and the call goes on.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any

import httpx
import structlog

from appliance import validation
from appliance.results.webhooks import signed_headers
from appliance.voice.brief import CallBrief
from appliance.voice.tool_calls import ToolResult

log = structlog.get_logger(__name__)

MAX_RESPONSE_BYTES = 64 * 1024  # as webhook responses
EVENT_TYPE = "tool.call"


class HttpToolRunner:
    """Runs a call's HTTP tools (the voice loop's `ToolRunner` port)."""

    def __init__(
        self,
        call: CallBrief,
        secret: str,
        url_allowlist: Sequence[str] = (),
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.call = call
        self.secret = secret
        self.url_allowlist = list(url_allowlist)
        self._transport = transport  # tests: an in-process server

    def request(self, tool: dict[str, Any], arguments: dict[str, Any], call_key: str) -> tuple[str, dict[str, str]]:
        """The body and headers of one tool call (signed)."""
        body = json.dumps(
            {
                "call_id": self.call.id,
                "agent_id": self.call.agent_id,
                "tool": tool["name"],
                "arguments": arguments,
                "context": self.call.context or {},
                "metadata": self.call.metadata or {},
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        signed = signed_headers(self.secret, call_key, int(time.time()), body, EVENT_TYPE, self.call.id)
        headers = {**tool.get("headers", {}), **signed, "idempotency-key": call_key, "accept": "application/json"}
        return body, headers

    async def run(self, tool: dict[str, Any], arguments: dict[str, Any], call_key: str) -> ToolResult:
        if tool.get("type") != "http":
            return ToolResult("error", error=f"{tool.get('name')} is not an HTTP tool")
        if blocked := await validation.url_blocked(tool["url"], self.url_allowlist):
            return ToolResult("error", error=blocked)
        body, headers = self.request(tool, arguments, call_key)
        timeout = tool.get("timeout_ms", 5000) / 1000
        try:
            async with asyncio.timeout(timeout):
                return await self._send(tool, body, headers, arguments)
        except TimeoutError:
            return ToolResult("timeout", error=f"no answer within {timeout:g} s")

    async def _send(
        self, tool: dict[str, Any], body: str, headers: dict[str, str], arguments: dict[str, Any]
    ) -> ToolResult:
        method = tool.get("method", "POST")
        # GET carries the arguments as query parameters (a GET body is dropped by many servers), the
        # signature still covers the envelope, sent in no body.
        params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in arguments.items()}
        async with httpx.AsyncClient(follow_redirects=False, transport=self._transport, timeout=None) as client:
            try:
                request = client.build_request(
                    method,
                    tool["url"],
                    content=body.encode() if method == "POST" else None,
                    params=params if method == "GET" else None,
                    headers={**headers, **({"content-type": "application/json"} if method == "POST" else {})},
                )
                response = await client.send(request, stream=True)
            except httpx.HTTPError as exc:
                return ToolResult("error", error=f"{type(exc).__name__}: {exc}")
            try:
                if not 200 <= response.status_code < 300:
                    return ToolResult("error", error=f"HTTP {response.status_code}")
                received = bytearray()
                async for chunk in response.aiter_bytes():
                    received += chunk
                    if len(received) > MAX_RESPONSE_BYTES:
                        return ToolResult("error", error=f"the answer is larger than {MAX_RESPONSE_BYTES} bytes")
            except httpx.HTTPError as exc:
                return ToolResult("error", error=f"{type(exc).__name__}: {exc}")
            finally:
                await response.aclose()
        try:
            return ToolResult("ok", result=json.loads(bytes(received)) if received.strip() else None)
        except ValueError:
            return ToolResult("error", error="the answer is not JSON")
