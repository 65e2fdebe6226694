"""DIDs the box can take into use: the ranges trunks offer (`did_ranges`, and the loopback carrier's own
test range) minus the numbers already registered. The hosted service's "search available numbers"."""

from __future__ import annotations

from collections.abc import Iterator

import phonenumbers
import sqlite_utils
from phonenumbers import geocoder

from appliance import did_ranges, validation
from appliance.store import trunks as trunk_store
from appliance.store.records import AvailableNumber

NUMBER_TYPES = ("local", "toll_free")
CURRENCY = "USD"  # the hosted service's only currency; costs here are the chargeback settings'


def _offers(db: sqlite_utils.Database) -> Iterator[tuple[str, str]]:
    """(trunk id, range) of every range a trunk offers, the loopback's test range first."""
    for row in trunk_store.trunk_rows(db):
        if row["builtin"]:
            yield row["id"], did_ranges.LOOPBACK_RANGE
        for value in row["did_ranges"]:
            yield row["id"], value


def trunk_offering(db: sqlite_utils.Database, e164: str) -> str | None:
    """The trunk whose ranges hold this number, if any."""
    return next((trunk_id for trunk_id, value in _offers(db) if did_ranges.contains(value, e164)), None)


def available_numbers(
    db: sqlite_utils.Database,
    *,
    country_code: str,
    area_code: str | None,
    number_type: str | None,
    limit: int,
    monthly_cost_cents: int,
) -> list[AvailableNumber]:
    taken = {r[0] for r in db.execute("SELECT e164 FROM numbers")}
    out: list[AvailableNumber] = []
    seen: set[str] = set()
    for _, value in _offers(db):
        for e164 in did_ranges.numbers_in(value):
            if e164 in taken or e164 in seen:
                continue
            seen.add(e164)
            found = _describe(e164, monthly_cost_cents)
            if found.country_code != country_code.upper() or (number_type and found.number_type != number_type):
                continue
            if area_code and not _national(e164).startswith(area_code):
                continue
            out.append(found)
            if len(out) >= limit:
                return out
    return out


def _national(e164: str) -> str:
    return phonenumbers.national_significant_number(phonenumbers.parse(e164, None))


def _describe(e164: str, monthly_cost_cents: int) -> AvailableNumber:
    if validation.is_test_number(e164):
        country, kind = "US", "local"
    else:
        country, kind = validation.number_info(e164)
    # "San Francisco, CA" → locality and state; a place without a state ("Washington D.C.") is a locality.
    place = geocoder.description_for_number(phonenumbers.parse(e164, None), "en")
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
