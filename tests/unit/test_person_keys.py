"""The simulated person's keypad lines: `{press: "1234#"}` in a script presses those keys, after the words
when a line has both, and its turn ends when the last key has been sent."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from appliance.telephony.carrier import person as person_module
from appliance.telephony.carrier.person import BETWEEN_KEYS_MS, KEY_MS, Line, PersonCall, Script


def test_a_script_line_can_press_keys(tmp_path: Path) -> None:
    path = tmp_path / "pin.yaml"
    path.write_text('name: pin\nlines:\n  - "Yes."\n  - {press: "1234#"}\n  - {say: "It is", press: "42"}\n')
    assert Script.load(path).lines == [Line(say="Yes."), Line(press="1234#"), Line(say="It is", press="42")]


async def test_pressing_sends_the_keys_after_the_words_and_ends_the_turn_when_they_have_been_played(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(person_module, "ANSWER_PAUSE_S", 0.0)
    monkeypatch.setattr(person_module, "HANG_UP_AFTER_S", 0.0)
    done: list[str] = []

    async def keys(digits: str) -> None:
        done.append(f"keys {digits}")

    class Media:
        sending = False

        def send(self, pcm: bytes) -> None:
            done.append("words")

        async def drained(self) -> None: ...

    script = Script(greeting=None, lines=[Line(say="It is", press="42#")])
    person = PersonCall(Media(), script, {"It is": bytes(320)}, keys=keys)  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()

    async def agent_speaks_once() -> None:
        await asyncio.sleep(0.01)
        person.agent_turns += 1  # what the listener counts when the agent has gone quiet

    agent = asyncio.create_task(agent_speaks_once())
    started = loop.time()
    await person.run()
    await agent
    assert done == ["words", "keys 42#"]
    assert person.results["said"] == ["It is"] and person.results["pressed"] == ["42#"]
    played = (3 * (KEY_MS + BETWEEN_KEYS_MS) - BETWEEN_KEYS_MS) / 1000  # 3 keys of 100 ms, 150 ms apart
    assert person.our_end is not None and loop.time() >= person.our_end >= started + played
