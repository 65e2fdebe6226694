"""Media both ways through real Asterisk and real SIP: the carrier's 1 kHz tone reaches the engine,
and a 440 Hz tone the engine sends reaches the carrier (found in the carrier's recording)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from appliance.config import load_settings
from appliance.store import agents, calls, trunks
from appliance.store.db import open_db
from appliance.telephony.media import RtpEndpoint
from appliance.telephony.service import TelephonyService
from tests.audio import dominant_frequency, read_wav, tone
from tests.support import telephony_ports

from .conftest import requires_asterisk


class ToneProbe:
    """A session that sends 2 s of 440 Hz and keeps what it hears."""

    received: list[bytes] = []

    def __init__(self, call: dict[str, Any], media: RtpEndpoint, line: object = None) -> None:
        self.media = media

    async def run(self) -> str | None:
        self.media.send(tone(440, 2.0))
        async for frame in self.media.frames():
            ToneProbe.received.append(frame.pcm)
            if len(ToneProbe.received) >= 150:  # 3 s heard: the probe ends the call, as an agent would
                await self.media.drained()
                return "agent_ended"
        return None


@requires_asterisk
async def test_audio_flows_both_ways(tmp_path: Path) -> None:
    env = {k: v for k, v in telephony_ports().items()}
    settings = load_settings({**env, "APPLIANCE_DATA_DIR": str(tmp_path), "APPLIANCE_VOICE": "false"}, config_file=None)
    db = open_db(settings.db_path)
    trunks.ensure_loopback(db, settings.carrier_sip_port)
    agent_id = agents.create_agent(db, {"name": "probe", "type": "outbound"})
    service = TelephonyService(settings, db, session_factory=ToneProbe)
    await service.start()
    try:
        call, _ = calls.create_call(
            db,
            agent=agents.agent_row(db, agent_id),
            direction="outbound",
            to_number="+12025550101",
            from_number=None,
            trunk_id=trunks.loopback_id(db),
            instructions=None,
            context={},
            metadata={},
            webhook_url=None,
        )
        service.wake()
        for _ in range(300):
            if calls.get_call(db, call.id).status in ("completed", "failed", "busy", "no_answer"):
                break
            await asyncio.sleep(0.1)
        final = calls.get_call(db, call.id)
        assert final.status == "completed" and final.end_reason == "agent_ended", final
    finally:
        await service.stop()

    heard = b"".join(ToneProbe.received)
    assert len(heard) >= 8000 * 2 * 1.0  # at least a second of the carrier's tone
    assert abs(dominant_frequency(heard[: 8000 * 2]) - 1000) < 20

    recordings = sorted((tmp_path / "asterisk" / "carrier").glob("person-*-heard.wav"))
    assert recordings, "the carrier recorded nothing"
    pcm, rate = read_wav(recordings[-1])
    assert abs(dominant_frequency(pcm[: rate * 2 * 2], rate) - 440) < 20


pytestmark = pytest.mark.integration
