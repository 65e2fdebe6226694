"""The test carrier calling into the appliance: `appliance carrier call --to <DID>`.

The carrier side of the call runs the `carrier-caller` dialplan (a tone, a spoken line, recording what
it hears); the INVITE travels over real SIP from the carrier transport to the appliance's trunk side.
"""

from __future__ import annotations

import uuid

import httpx

from appliance.config import Settings
from appliance.telephony.running import ari_credentials


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
