"""Settings: one typed object read once from `appliance.toml` and `APPLIANCE_*` environment variables.

Precedence (highest first): environment, the TOML file named by `APPLIANCE_CONFIG` (or
`./appliance.toml` when present), the defaults below.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from pathlib import Path

import msgspec
from cryptography.fernet import Fernet


class ConfigError(Exception):
    """A setting has a wrong type or value."""


class Settings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # HTTP API and console
    host: str = "0.0.0.0"
    port: int = 8080
    data_dir: str = "./data"
    # HTTPS for the API and console (browsers give the microphone only to secure origins): your certificate
    # and key, or "" for a self-signed pair made once in data_dir/tls
    https: bool = False
    tls_cert: str = ""
    tls_key: str = ""
    # Fernet key sealing stored secrets (trunk passwords, webhook secrets); "" = `secret.key` in data_dir
    secret_key: str = ""
    # Calls
    max_concurrent_calls: int = 4
    max_queued_calls: int = 1000
    # SIP answer to an inbound call while max_concurrent_calls are live: 503 (a proxy in front of several
    # boxes, e.g. Kamailio's dispatcher, tries the next one) or 486 (busy here)
    inbound_full_code: int = 503
    calls_per_minute: int = 600  # rate limit on POST /v1/calls; 0 disables it
    price_per_minute_milli_cents: int = 0  # chargeback rate: billed minutes x this
    number_monthly_cost_cents: int = 0  # chargeback price of a number taken with POST /v1/numbers/purchase
    auth_failures_per_minute: int = 20  # wrong API keys from one address before 429 for the minute; 0 disables
    # On SIGTERM live calls may finish for this long (a second SIGTERM, or the bound, ends them: `shutdown`)
    shutdown_grace_seconds: float = 300.0
    # Campaigns: the outer limits of any calling window, in each callee's local time (TCPA: 8:00-21:00), the
    # dials of one number allowed in any 24 h across every campaign (Florida: 3), the key that opts out in a call
    campaign_hours: str = "08:00-21:00"
    campaign_dials_per_day: int = 3
    opt_out_key: str = "9"
    retention_check_seconds: float = 86_400.0  # how often expired recordings and transcripts are deleted
    # Telephony (every port configurable so two boxes can share one host)
    sip_host: str = "0.0.0.0"
    sip_port: int = 5060
    carrier_sip_port: int = 5062  # the loopback test carrier's own transport on 127.0.0.1
    rtp_start: int = 20000
    rtp_end: int = 20999
    ari_port: int = 8088
    ami_port: int = 5038
    asterisk_root: str = ""  # a chroot holding Asterisk; "" = auto-detect
    loopback_trunk: bool = True
    telephony: bool = True  # false: API only (no Asterisk, calls stay queued) — for API tests and benchmarks
    # Voice engine (models are looked up by id in `appliance models`; "" = the default)
    voice: bool = True  # false: answered calls keep the media path open but nobody talks (telephony tests)
    llm_model: str = ""
    stt_model: str = ""
    llm_contexts: int = 1  # llama.cpp contexts sharing one copy of the weights: replies generated at once
    # > 0: instead, one context whose N sequences hold N calls' KV caches, their replies decoded in one batch
    llm_sequences: int = 0
    threads: int = 2  # CPU threads per model run
    # Model servers on the LAN (model_server.py): an OpenAI-compatible endpoint (llama.cpp's llama-server serving
    # the same GGUF as llm_model) for the conversation's replies and for the extraction; "" = the local model.
    # The local model stays loaded and takes over whenever the server fails (a `model_server_fallback` event).
    llm_server_url: str = ""
    extraction_server_url: str = ""
    model_server_api_key: str = ""  # sent as a bearer token (llama-server's --api-key)
    model_server_timeout_ms: int = 5000  # longest wait for the first token, or between two
    # Outbound HTTP (webhooks, tools): hosts, ".domain" suffixes or networks (CIDR); empty = any
    url_allowlist: list[str] = []
    # Logging
    log_level: str = "info"
    log_json: bool = False

    def __post_init__(self) -> None:
        for name in ("port", "sip_port", "carrier_sip_port", "rtp_start", "rtp_end", "ari_port", "ami_port"):
            value = getattr(self, name)
            if not 1 <= value <= 65535:
                raise ConfigError(f"{name} must be a port number 1-65535, got {value}")
        if self.rtp_end <= self.rtp_start:
            raise ConfigError("rtp_end must be greater than rtp_start")
        if self.max_concurrent_calls < 1:
            raise ConfigError("max_concurrent_calls must be at least 1")
        if self.inbound_full_code not in (486, 503):
            raise ConfigError(f"inbound_full_code must be 503 or 486, got {self.inbound_full_code}")
        if self.secret_key:
            try:
                Fernet(self.secret_key)
            except ValueError:
                raise ConfigError("secret_key must be a Fernet key: 32 url-safe base64-encoded bytes") from None
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("tls_cert and tls_key go together: set both, or neither for a self-signed pair")
        for name in ("tls_cert", "tls_key"):
            if getattr(self, name) and not Path(getattr(self, name)).is_file():
                raise ConfigError(f"{name}: no such file {getattr(self, name)}")
        if self.auth_failures_per_minute < 0:
            raise ConfigError("auth_failures_per_minute must be >= 0")
        if self.shutdown_grace_seconds < 0:
            raise ConfigError("shutdown_grace_seconds must be >= 0")
        if self.retention_check_seconds < 1:
            raise ConfigError("retention_check_seconds must be at least 1")
        if self.calls_per_minute < 0 or self.price_per_minute_milli_cents < 0 or self.max_queued_calls < 1:
            raise ConfigError("calls_per_minute, price_per_minute_milli_cents must be >= 0, max_queued_calls >= 1")
        if self.number_monthly_cost_cents < 0:
            raise ConfigError("number_monthly_cost_cents must be >= 0")
        for entry in self.url_allowlist:
            try:
                if "/" in entry:
                    ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise ConfigError(f"url_allowlist: {entry!r} is not a network: {exc}") from None
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", self.campaign_hours) or (
            self.campaign_hours[:5] >= self.campaign_hours[6:]
        ):
            raise ConfigError(
                f"campaign_hours must be HH:MM-HH:MM with the end after the start, got {self.campaign_hours!r}"
            )
        if self.campaign_dials_per_day < 1:
            raise ConfigError("campaign_dials_per_day must be at least 1")
        if self.opt_out_key not in ("", *"0123456789*#"):
            raise ConfigError(
                f"opt_out_key must be one DTMF key 0-9, * or #, or empty for none; got {self.opt_out_key!r}"
            )
        for name in ("llm_server_url", "extraction_server_url"):
            if getattr(self, name) and not re.fullmatch(r"https?://[^/\s]+(/\S*)?", getattr(self, name)):
                raise ConfigError(f"{name} must be an http:// or https:// URL, got {getattr(self, name)!r}")
        if not 100 <= self.model_server_timeout_ms <= 60_000:
            raise ConfigError(f"model_server_timeout_ms must be 100-60000, got {self.model_server_timeout_ms}")
        if self.llm_contexts < 1 or self.threads < 1:
            raise ConfigError("llm_contexts and threads must be at least 1")
        if not 0 <= self.llm_sequences <= 64:
            raise ConfigError(f"llm_sequences must be 0 (the pool of contexts) to 64, got {self.llm_sequences}")
        if self.log_level not in ("debug", "info", "warning", "error"):
            raise ConfigError(f"log_level must be debug|info|warning|error, got {self.log_level!r}")

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).resolve()

    @property
    def db_path(self) -> Path:
        return self.data_path / "appliance.db"


ENV_PREFIX = "APPLIANCE_"
LIST_SETTINGS = {"url_allowlist"}  # comma-separated in the environment


def load_settings(env: dict[str, str] | None = None, config_file: str | None = None) -> Settings:
    """Merge defaults, the TOML file and the environment into a validated `Settings`."""
    env = dict(os.environ if env is None else env)
    raw: dict[str, object] = {}
    path = config_file or env.get("APPLIANCE_CONFIG") or ("appliance.toml" if Path("appliance.toml").exists() else None)
    if path:
        try:
            raw.update(tomllib.loads(Path(path).read_text()))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    fields = {f.name for f in msgspec.structs.fields(Settings)}
    for key, value in env.items():
        if key.startswith(ENV_PREFIX) and key != "APPLIANCE_CONFIG":
            name = key[len(ENV_PREFIX) :].lower()
            if name in fields:
                raw[name] = [v.strip() for v in value.split(",") if v.strip()] if name in LIST_SETTINGS else value
    try:
        # strict=False lets "8081" from the environment become an int, "true" a bool.
        return msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(str(exc)) from exc
