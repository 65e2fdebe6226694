"""The test carrier calling into the appliance: `appliance carrier call --to <DID>`.

The carrier side of the call runs the `carrier-caller` dialplan (a tone, a spoken line, recording what
it hears); the INVITE travels over real SIP from the carrier transport to the appliance's trunk side.
"""

from __future__ import annotations

import configparser
import uuid
from pathlib import Path

import httpx

from appliance.config import Settings


def ari_credentials(settings: Settings) -> tuple[str, str, str]:
    """(base url, user, password) of the running appliance's Asterisk, from its rendered ari.conf."""
    conf = settings.data_path / "asterisk" / "etc" / "ari.conf"
    if not conf.exists():
        raise RuntimeError(f"{conf} not found: is the appliance running with this data_dir?")
    parser = configparser.ConfigParser(strict=False, inline_comment_prefixes=(";",))
    parser.read_string(Path(conf).read_text())
    user = next(s for s in parser.sections() if s != "general")
    return f"http://127.0.0.1:{settings.ari_port}/ari", user, parser[user]["password"].strip()


def place_call(settings: Settings, to: str, caller_id: str = "+12025550199") -> str:
    """Originate a call from the carrier to `to`; returns the carrier-side channel id."""
    base, user, password = ari_credentials(settings)
    channel_id = f"carrier-{uuid.uuid4()}"
    r = httpx.post(
        f"{base}/channels",
        auth=(user, password),
        params={
            "endpoint": f"PJSIP/{to}@carrier-uplink",
            "context": "carrier-caller",
            "extension": "s",
            "priority": 1,
            "callerId": caller_id,
            "channelId": channel_id,
            "timeout": 30,
        },
        timeout=10,
    )
    if r.status_code >= 300:
        raise RuntimeError(f"carrier could not place the call: {r.status_code} {r.text}")
    return channel_id
