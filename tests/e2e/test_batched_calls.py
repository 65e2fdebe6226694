"""Two calls at once on a box whose language model is one batched context (`llm_sequences`,
appliance/voice/llm_batch.py): both are held to the end, each with its own replies and its own result."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from appliance.call_status import TERMINAL
from tests.e2e.test_conversation import APPOINTMENT, RETURNS, use_script
from tests.integration.conftest import requires_asterisk
from tests.support import ServerProcess

pytestmark = [requires_asterisk, pytest.mark.integration]


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"APPLIANCE_VOICE": "true", "APPLIANCE_LLM_SEQUENCES": "2"}
    proc = ServerProcess(tmp_path_factory.mktemp("batched-voice"), env=env).start(timeout=120)
    yield proc.wait_for_voice()
    proc.stop()


def test_two_calls_written_in_one_batch_are_each_held_to_their_end(box: ServerProcess) -> None:
    use_script(box, "appointment")
    with box.client() as api:
        agent = api.post("/v1/agents", json={**APPOINTMENT, "returns": RETURNS}).json()
        ids = [api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+12025550101"}).json()["id"] for _ in "ab"]
        calls = [box.wait_for(i, TERMINAL, timeout=240) for i in ids]
        assert [c["status"] for c in calls] == ["completed", "completed"], calls
        for call in calls:
            segments = api.get(f"/v1/calls/{call['id']}/transcript").json()["segments"]
            assert [s for s in segments if s["role"] == "agent"][1:], segments  # replies after the first message
            assert box.wait_for_result(call["id"])["result"] == {"confirmed": True}
