"""A campaign's contact list from JSON or CSV: a `to` number and any other columns (the call's `context`).
Every bad number is reported at once, with its line, and nothing is created."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from appliance import validation
from appliance.errors import InvalidInput

MAX_CONTACTS = 10_000
SHOWN_ERRORS = 20  # a list of 5,000 bad lines helps nobody: the first ones, and how many there were


@dataclass
class ContactIn:
    to: str
    columns: dict[str, Any] = field(default_factory=dict)
    line: int | None = None  # the CSV line (the header is line 1); None for JSON contacts


def from_json(items: list[dict[str, Any]]) -> list[ContactIn]:
    contacts, errors = [], []
    for i, item in enumerate(items):
        to = item.get("to")
        if not isinstance(to, str):
            errors.append(f"contacts[{i}].to is missing or not a string")
            continue
        try:
            number = validation.e164(to.strip(), f"contacts[{i}].to")
        except InvalidInput as exc:
            errors.append(exc.message)
            continue
        contacts.append(ContactIn(number, {k: v for k, v in item.items() if k != "to"}))
    _raise_if_any(errors, "contacts", len(items))
    return _bounded(contacts, "contacts")


def from_csv(text: str) -> list[ContactIn]:
    """Rows of a CSV with a header naming a `to` column (any letter case); blank lines are skipped."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))  # spreadsheets often start with a BOM
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise InvalidInput(
            "contacts_csv is empty: it needs a header line naming a to column", field="contacts_csv"
        ) from None
    except csv.Error as exc:
        raise InvalidInput(f"contacts_csv line 1 is not CSV: {exc}", field="contacts_csv") from None
    lowered = [name.lower() for name in header]
    if "to" not in lowered:
        raise InvalidInput(
            f"contacts_csv has no to column (its header names: {', '.join(header) or 'nothing'})", field="contacts_csv"
        )
    if len(set(lowered)) != len(lowered):
        repeated = sorted({n for n in header if lowered.count(n.lower()) > 1})
        raise InvalidInput(f"contacts_csv names a column twice: {', '.join(repeated)}", field="contacts_csv")
    to_index = lowered.index("to")
    contacts, errors = [], []
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):
                errors.append(f"line {line} has {len(row)} fields, the header {len(header)}")
                continue
            row = row + [""] * (len(header) - len(row))
            try:
                number = validation.e164(row[to_index].strip(), "to")
            except InvalidInput:
                errors.append(f"line {line}: {row[to_index]!r} is not a valid E.164 number like +12025550123")
                continue
            columns = {name: value for i, (name, value) in enumerate(zip(header, row, strict=True)) if i != to_index}
            contacts.append(ContactIn(number, columns, line))
    except csv.Error as exc:
        raise InvalidInput(f"contacts_csv line {reader.line_num} is not CSV: {exc}", field="contacts_csv") from None
    _raise_if_any(errors, "contacts_csv", len(contacts) + len(errors))
    return _bounded(contacts, "contacts_csv")


def _raise_if_any(errors: list[str], field_name: str, total: int) -> None:
    if not errors:
        return
    shown = "; ".join(errors[:SHOWN_ERRORS])
    more = f" (and {len(errors) - SHOWN_ERRORS} more)" if len(errors) > SHOWN_ERRORS else ""
    raise InvalidInput(
        f"{field_name}: {len(errors)} of {total} contacts are bad, the campaign was not created: {shown}{more}",
        field=field_name,
        code="invalid_contacts",
    )


def _bounded(contacts: list[ContactIn], field_name: str) -> list[ContactIn]:
    if not contacts:
        raise InvalidInput(f"{field_name} holds no contact", field=field_name)
    if len(contacts) > MAX_CONTACTS:
        raise InvalidInput(f"{field_name} holds {len(contacts)} contacts; at most {MAX_CONTACTS}", field=field_name)
    return contacts
