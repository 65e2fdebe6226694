"""HTTPS for the console and API: a self-signed certificate made once in the data dir, or the user's own."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from appliance.config import ConfigError, load_settings
from appliance.tls import self_signed
from tests.support import ServerProcess


def test_the_self_signed_pair_names_loopback_is_private_and_is_reused(tmp_path: Path) -> None:
    cert_path, key_path = self_signed(tmp_path / "tls")
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert any(str(ip) == "127.0.0.1" for ip in names.get_values_for_type(x509.IPAddress))
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    first = cert_path.read_bytes()
    assert self_signed(tmp_path / "tls") == (cert_path, key_path)
    assert cert_path.read_bytes() == first  # not regenerated: browsers that trusted it keep trusting it


def test_a_certificate_without_its_key_is_a_configuration_error(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    with pytest.raises(ConfigError, match="tls_cert and tls_key"):
        load_settings(env={"APPLIANCE_TLS_CERT": str(cert)})


def test_serve_over_https_with_the_generated_certificate(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, env={"APPLIANCE_TELEPHONY": "false", "APPLIANCE_HTTPS": "true"}).start()
    try:
        trust = ssl.create_default_context(cafile=str(tmp_path / "tls" / "cert.pem"))
        assert httpx.get(server.url + "/login", verify=trust).status_code == 200
        with httpx.Client(base_url=server.url, verify=trust) as plain:
            with pytest.raises(httpx.HTTPError):
                plain.get(server.url.replace("https", "http") + "/healthz")
        assert any("Console:  https://" in line for line in server.output)
    finally:
        server.stop()
