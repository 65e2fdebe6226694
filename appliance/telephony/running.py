"""Secrets of the Asterisk a running appliance started, read from its rendered (owner-only) config files:
how the command line (`appliance carrier`, `appliance doctor`) reaches that Asterisk."""

from __future__ import annotations

import configparser
from pathlib import Path

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


def manager_credentials(settings: Settings) -> tuple[int, str, str]:
    """(port, user, secret) of the running appliance's AMI, from its rendered manager.conf."""
    conf = settings.data_path / "asterisk" / "etc" / "manager.conf"
    if not conf.exists():
        raise RuntimeError(f"{conf} not found: is the appliance running with this data_dir?")
    parser = configparser.ConfigParser(strict=False, inline_comment_prefixes=(";",))
    parser.read_string(conf.read_text())
    user = next(s for s in parser.sections() if s != "general")
    return settings.ami_port, user, parser[user]["secret"].strip()
