from __future__ import annotations

from pathlib import Path

import pytest

from appliance.config import ConfigError, load_settings


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    conf = tmp_path / "appliance.toml"
    conf.write_text('port = 9000\nmax_concurrent_calls = 8\ndata_dir = "/srv/x"\n')
    s = load_settings({"APPLIANCE_PORT": "9100", "APPLIANCE_LOOPBACK_TRUNK": "false"}, config_file=str(conf))
    assert s.port == 9100 and s.max_concurrent_calls == 8 and s.data_dir == "/srv/x" and s.loopback_trunk is False


@pytest.mark.parametrize(
    "env",
    [
        {"APPLIANCE_PORT": "eighty"},
        {"APPLIANCE_PORT": "70000"},
        {"APPLIANCE_RTP_START": "30000"},
        {"APPLIANCE_MAX_CONCURRENT_CALLS": "0"},
        {"APPLIANCE_LOG_LEVEL": "loud"},
        {"APPLIANCE_INBOUND_FULL_CODE": "404"},
    ],
)
def test_bad_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_settings(env, config_file=None)


def test_unknown_keys_in_the_file_are_refused(tmp_path: Path) -> None:
    conf = tmp_path / "appliance.toml"
    conf.write_text("prot = 1\n")
    with pytest.raises(ConfigError):
        load_settings({}, config_file=str(conf))


def test_a_full_box_answers_inbound_calls_503_unless_told_486() -> None:
    assert load_settings({}, config_file=None).inbound_full_code == 503
    assert load_settings({"APPLIANCE_INBOUND_FULL_CODE": "486"}, config_file=None).inbound_full_code == 486
