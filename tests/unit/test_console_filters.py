"""How the console shows a tool call's transcript segment."""

from __future__ import annotations

import json

from appliance.console.filters import tool_call


def test_a_tool_segment_reads_as_a_call_with_its_outcome() -> None:
    record = {"name": "find_slots", "arguments": {"day": "Friday"}, "outcome": "ok", "ms": 58}
    assert tool_call(json.dumps(record)) == "find_slots(day=Friday) → ok, 58 ms"
    failed = {**record, "name": "transfer_call", "arguments": {}, "outcome": "error", "error": "nobody answered"}
    assert tool_call(json.dumps(failed)) == "transfer_call() → error, 58 ms: nobody answered"
    assert tool_call("not json") == "not json"
