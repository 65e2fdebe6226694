"""What a conversation knows of its call: built once by the telephony side from the call's row and the
agent as it was when the call was made (telephony/conversation.py `call_brief`), read by voice as fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CallBrief:
    id: str
    direction: str  # "outbound" | "inbound"
    agent_name: str | None = None
    agent_id: str | None = None
    persona: str | None = None
    instructions: str | None = None
    language: str = "en"
    voice: str | None = None  # None: the box's default voice for the language
    first_message: str | None = None  # spoken as written, with the recording notice before it
    voicemail_action: str = "hangup"  # "leave_message" | "hangup"
    voicemail_message: str | None = None
    silence_timeout_seconds: float = 20
    returns: dict[str, Any] | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    to_number: str | None = None
    from_number: str | None = None

    @property
    def outbound(self) -> bool:
        return self.direction == "outbound"

    @property
    def other_party(self) -> str | None:
        """The number at the other end of the line."""
        return self.to_number if self.outbound else self.from_number
