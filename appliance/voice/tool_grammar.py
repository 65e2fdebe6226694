"""What the model is offered of an agent's tools, and the grammar a call is written under: always one of their
names, always arguments of their schema."""

from __future__ import annotations

import json
from typing import Any

LINE_BUILTINS = ("transfer_call", "send_dtmf")  # run by the line (telephony), through the same runner port
VOICE_BUILTINS = ("collect_digits",)  # run by the conversation itself: it holds the caller's keypad


def callable_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The agent's tools the model may call by name: HTTP tools, a transfer, pressing keys, waiting for the
    caller's keys. (`end_call` is the reply's end mark, which the model writes as it says goodbye.)"""
    return [t for t in tools if t.get("type") == "http" or t.get("builtin") in (*LINE_BUILTINS, *VOICE_BUILTINS)]


def function_specs(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tools as chat templates expect them (OpenAI's function format)."""
    return [
        {
            "type": "function",
            "function": {"name": t["name"], "description": t.get("description") or "", "parameters": t["parameters"]},
        }
        for t in tools
    ]


def call_schema(tools: list[dict[str, Any]]) -> dict[str, Any]:
    """JSON Schema of one call: `{"name": <a tool>, "arguments": <its parameters>}`."""
    options = [
        {
            "type": "object",
            "properties": {"name": {"const": t["name"]}, "arguments": t["parameters"]},
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for t in tools
    ]
    return options[0] if len(options) == 1 else {"anyOf": options}


def call_grammar(tools: list[dict[str, Any]]) -> str:
    """The grammar (GBNF text) of one call, ending with the template's closing tag."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf  # imported late: llama.cpp is loaded only where a model is

    return json_schema_to_gbnf(json.dumps(call_schema(tools)))
