"""DIDs the box can take into use: the ranges trunks offer (`did_ranges`, and the loopback carrier's own
test range) minus the numbers already registered. The hosted service's "search available numbers"."""

from __future__ import annotations

import phonenumbers
import sqlite_utils
from phonenumbers import geocoder

from appliance import did_ranges, validation
from appliance.store import trunks as trunk_store
from appliance.store.records import AvailableNumber

NUMBER_TYPES = ("local", "toll_free")
CURRENCY = "USD"  # the hosted service's only currency; costs here are the chargeback settings'


def offers(db: sqlite_utils.Database) -> list[tuple[str, str]]:
    """(trunk id, range) of every range a trunk offers, the loopback's test range first."""
    out = []
    for row in trunk_store.trunk_rows(db):
        if row["builtin"]:
            out.append((row["id"], did_ranges.LOOPBACK_RANGE))
        out.extend((row["id"], value) for value in row["did_ranges"])
    return out


def taken(db: sqlite_utils.Database) -> set[str]:
    return {r[0] for r in db.execute("SELECT e164 FROM numbers")}


def trunk_offering(db: sqlite_utils.Database, e164: str) -> str | None:
    """The trunk whose ranges hold this number, if any."""
    return next((trunk_id for trunk_id, value in offers(db) if did_ranges.contains(value, e164)), None)


def pick_available(
    offered: list[tuple[str, str]],
    taken: set[str],
    *,
    country_code: str,
    area_code: str | None,
    number_type: str | None,
    limit: int,
    monthly_cost_cents: int,
) -> list[AvailableNumber]:
    """The first `limit` free numbers matching the filters. Pure CPU work (a filter that matches nothing
    classifies every number of every range: about 1.3 s for a 10,000-number range), so the API runs it in a
    thread, away from the event loop."""
    out: list[AvailableNumber] = []
    seen: set[str] = set()
    for _, value in offered:
        for e164 in did_ranges.numbers_in(value):
            if e164 in taken or e164 in seen:
                continue
            seen.add(e164)
            parsed = phonenumbers.parse(e164, None)
            if area_code and not phonenumbers.national_significant_number(parsed).startswith(area_code):
                continue
            country, kind = ("US", "local") if validation.is_test_number(e164) else validation.number_info(e164)
            if country != country_code.upper() or (number_type and kind != number_type):
                continue
            out.append(_describe(e164, parsed, country, kind, monthly_cost_cents))
            if len(out) >= limit:
                return out
    return out


def _describe(
    e164: str, parsed: phonenumbers.PhoneNumber, country: str | None, kind: str, monthly_cost_cents: int
) -> AvailableNumber:
    # "San Francisco, CA" → locality and state; a place without a state ("Washington D.C.") is a locality.
    place = geocoder.description_for_number(parsed, "en")
    locality, _, state = place.rpartition(", ") if ", " in place else (place, "", "")
    return AvailableNumber(
        phone_number=e164,
        country_code=country,
        number_type=kind,
        state=state or None,
        locality=locality or None,
        monthly_cost_cents=monthly_cost_cents,
        upfront_cost_cents=0,
        currency=CURRENCY,
    )
