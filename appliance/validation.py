"""Field checks shared by the API and the CLI. Each raises InvalidInput naming the field."""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

import phonenumbers

from appliance.errors import InvalidInput

LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)

_TYPE_NAMES = {
    phonenumbers.PhoneNumberType.TOLL_FREE: "toll_free",
    phonenumbers.PhoneNumberType.MOBILE: "mobile",
    phonenumbers.PhoneNumberType.PREMIUM_RATE: "premium_rate",
    phonenumbers.PhoneNumberType.VOIP: "voip",
}


def e164(value: str, field: str) -> str:
    """Return `value` if it is a valid E.164 number (`+` and digits, a real numbering plan)."""
    if not re.fullmatch(r"\+[1-9]\d{1,14}", value or ""):
        raise InvalidInput(f"{field} must be an E.164 number like +12025550123, got {value!r}", field=field)
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise InvalidInput(f"{field} is not a valid phone number: {value!r}", field=field) from None
    if not phonenumbers.is_valid_number(parsed) and not is_test_number(value):
        raise InvalidInput(f"{field} is not a valid phone number: {value!r}", field=field)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_test_number(value: str) -> bool:
    """Numbers only the loopback test carrier reaches: +1 202 555 xxxx (its own range), and the North
    American area code 555, which is in service nowhere and is what the hosted service's docs dial
    (+15551234567): phonenumbers calls those invalid, the carrier answers them as unknown numbers."""
    return re.fullmatch(r"\+1(202555\d{4}|555\d{7})", value) is not None


def network(value: str, field: str) -> str:
    """An IP address or a CIDR network with no host bits set ("203.0.113.7", "198.51.100.0/24", "2001:db8::/32")."""
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise InvalidInput(
            f"{field} must be an IP address or a CIDR network like 198.51.100.0/24, got {value!r}", field=field
        ) from None
    widest = 8 if net.version == 4 else 32  # a carrier's ranges are far narrower; /0 would trust the internet
    if net.prefixlen < widest:
        raise InvalidInput(f"{field} is wider than /{widest}: {value!r}", field=field)
    return str(net.network_address) if net.num_addresses == 1 else str(net)


def number_info(value: str) -> tuple[str | None, str]:
    """(ISO country code, number_type) of a valid E.164 number."""
    parsed = phonenumbers.parse(value, None)
    region = phonenumbers.region_code_for_number(parsed)
    kind = _TYPE_NAMES.get(phonenumbers.number_type(parsed), "local")
    return region, kind


def language(value: str, field: str = "language") -> str:
    if not LANGUAGE.match(value):
        raise InvalidInput(f"{field} must be a BCP-47 language tag like en or en-US, got {value!r}", field=field)
    return value


def http_url(value: str, field: str) -> str:
    """An absolute http(s) URL with a host (LAN hosts allowed: this is an on-prem box)."""
    if len(value) > 2048:
        raise InvalidInput(f"{field} is longer than 2048 characters", field=field)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise InvalidInput(f"{field} is not a valid URL: {value!r}", field=field) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{field} must be an absolute http:// or https:// URL, got {value!r}", field=field)
    if port == 0 or not (host(parts.hostname, field, raise_=False)):
        raise InvalidInput(f"{field} has an invalid host: {value!r}", field=field)
    return value


def host(value: str, field: str, *, raise_: bool = True) -> bool:
    """A hostname or an IP address."""
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    if HOSTNAME.match(value):
        return True
    if raise_:
        raise InvalidInput(f"{field} must be a hostname or an IP address, got {value!r}", field=field)
    return False


def host_allowed(hostname: str, allowlist: Sequence[str], resolved: Sequence[str] = ()) -> bool:
    """Whether a URL host may be called: named in the list (exactly, or under a ".domain" entry), or its
    address (the literal, or every address it resolved to) inside a listed network. An empty list allows
    everything."""
    if not allowlist:
        return True
    name = hostname.lower().rstrip(".")
    for entry in allowlist:
        entry = entry.lower()
        if entry.startswith(".") and (name.endswith(entry) or name == entry[1:]):
            return True
        if name == entry:
            return True
    networks = [ipaddress.ip_network(e, strict=False) for e in allowlist if "/" in e or _is_ip(e)]
    addresses = list(resolved) or ([name] if _is_ip(name) else [])
    return bool(networks and addresses) and all(
        any(ipaddress.ip_address(a) in net for net in networks) for a in addresses
    )


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def allowed_url(value: str, field: str, allowlist: Sequence[str]) -> str:
    """`http_url`, and its host within the `url_allowlist` setting."""
    http_url(value, field)
    hostname = urlsplit(value).hostname or ""
    if not host_allowed(hostname, allowlist):
        raise InvalidInput(
            f"{field} host {hostname!r} is not allowed by the url_allowlist setting ({', '.join(allowlist)})",
            field=field,
        )
    return value


async def url_blocked(url: str, allowlist: Sequence[str]) -> str | None:
    """Why `url` may not be called now, or None: checked again at call time (after the check at write time),
    as settings change and a name can resolve elsewhere than it did."""
    if not allowlist:
        return None
    hostname = urlsplit(url).hostname or ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(hostname, None)
    except OSError as exc:
        return f"cannot resolve {hostname}: {exc}"
    if host_allowed(hostname, allowlist, [i[4][0] for i in infos]):
        return None
    return f"{hostname} is not allowed by the url_allowlist setting"
