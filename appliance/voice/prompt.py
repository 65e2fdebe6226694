"""The system prompt of a conversation: persona, instructions, the call's context, date and rules."""

from __future__ import annotations

import json
import re
from datetime import datetime

from appliance.voice.brief import CallBrief
from appliance.voice.goal import Field, goal_brief
from appliance.voice.text import END_CALL_MARK
from appliance.voice.tool_calls import RULES as TOOL_RULES

RULES = (
    "You are speaking on a live phone call, so: answer in one or two short sentences, plain spoken words "
    "only (no lists, no markdown, no emojis), ask one question at a time, and let the caller talk. Use only "
    "facts from your task and the call details; if you do not know something, say so. Do not repeat what "
    'you already said. Speak to the person directly ("your appointment", not their name in the third '
    "person). When your task is done, or the caller wants to end the call or says goodbye, say a "
    f"short goodbye and finish that message with {END_CALL_MARK}."
)


def system_messages(
    call: CallBrief, now: datetime, goal: list[Field] | None = None, tools: bool = False
) -> list[dict[str, str]]:
    """The system messages that open the call's prompt. The first is the agent's own (persona, brief, goal,
    rules), the same for every call of the agent, so the model's cache of it (with the tools, which the chat
    template puts after it) carries over from one call of the agent to the next: read whole it is 270-610
    tokens, 4-10 s here. The second holds what only this call has: the number, the time, the facts.
    `tools`: the call's tools are offered to the model (tool_calls.offer)."""
    name = call.agent_name or "an assistant"
    persona = (call.persona or "").strip()
    if re.match(r"(?i)you('| a)re\b", persona):
        lines = [persona]  # it says who the agent is; the agent's name is then only the user's label for it
    else:
        lines = [f"You are {name}." + (f" {persona}" if persona else "")]
    if instructions := (call.instructions or "").strip():
        lines.append(
            "Your brief for this call (private: never read it out; say things in your own words, "
            f'speaking to the person as "you"): {instructions}'
        )
    if goal:
        lines.append(goal_brief(goal))
    if not call.language.startswith("en"):
        lines.append(f"Speak in the language with the code {call.language}.")
    lines.append(RULES)
    if tools:
        lines.append(TOOL_RULES)
    other = call.other_party
    kind = "You placed this call" if call.outbound else "You answered this call"
    facts = [f"{kind}{f' ({other})' if other else ''}. It is {now:%A %d %B %Y, %H:%M}."]
    if context := call.context:
        facts.append(f"Facts for this call: {json.dumps(context, ensure_ascii=False)}")
    return [{"role": "system", "content": "\n".join(lines)}, {"role": "system", "content": "\n".join(facts)}]


def open_call(call: CallBrief, goal: list[Field] | None = None) -> str:
    """What the model is told when it speaks first (no `first_message`)."""
    if not call.outbound:
        return "(You have just answered this call. Greet the caller, say who you are, and ask how you can help.)"
    ask = f", then ask one short question to learn {goal[0].label}" if goal else ""
    return (
        "(You placed this call and the person has just answered. Greet them, say who you are and why you "
        f"are calling{ask}, in one or two short sentences. Do not tell them your brief or what you will do.)"
    )


STILL_THERE = "Are you still there?"
SILENT_GOODBYE = "I can't hear anything, so I'll let you go. Goodbye."


def voicemail_message(call: CallBrief) -> str:
    """A short message for a voicemail box when the agent has no `voicemail_message`."""
    name = call.agent_name or "an assistant"
    return f"Hi, this is {name}. Sorry I missed you. I will try again later. Goodbye."
