"""What a running appliance's Asterisk holds and where it listens, read from outside."""

from __future__ import annotations

import httpx

from appliance.config import load_settings
from appliance.telephony.running import ari_credentials
from tests.support import ServerProcess


def asterisk_pid(server: ServerProcess) -> int:
    return int((server.data_dir / "asterisk" / "var" / "run" / "asterisk.pid").read_text().strip())


def sip_target(server: ServerProcess, setting: str) -> str:
    """ "127.0.0.1:port" of the SIP transport named by `setting` (APPLIANCE_SIP_PORT or the carrier's)."""
    return f"127.0.0.1:{server.env[setting]}"


def ari_list(server: ServerProcess, what: str) -> list[dict]:
    """GET /ari/<what> (channels, bridges) with the appliance's generated ARI credentials."""
    base, user, password = ari_credentials(load_settings(server.env, config_file=None))
    return httpx.get(f"{base}/{what}", auth=(user, password), timeout=5).json()
