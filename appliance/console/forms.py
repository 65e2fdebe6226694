"""HTML forms → the API's request bodies, so the console and /v1 apply exactly the same rules.

A form error is shown beside its field: errors are `{field: message}`."""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

import msgspec
from litestar.datastructures import FormMultiDict

from appliance.api.edge import describe_validation_error
from appliance.api.schemas import Body
from appliance.errors import ApplianceError

T = TypeVar("T", bound=Body)

_AT_FIELD = re.compile(r"at `\$\.([A-Za-z_]+)")
_UNKNOWN = re.compile(r"field `([A-Za-z_]+)`")


class FormError(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def text(form: FormMultiDict, name: str) -> str | None:
    """A text field; blank means "not set"."""
    value = (form.get(name) or "").strip()
    return value or None


def integer(form: FormMultiDict, name: str, fields: dict[str, Any], errors: dict[str, str]) -> None:
    value = text(form, name)
    if value is None:
        return
    try:
        fields[name] = int(value)
    except ValueError:
        errors[name] = f"{name} must be a whole number"


def json_value(form: FormMultiDict, name: str, fields: dict[str, Any], errors: dict[str, str], empty: Any) -> None:
    """A JSON textarea (returns, tools, context); blank gives `empty`."""
    value = text(form, name)
    if value is None:
        fields[name] = empty
        return
    try:
        fields[name] = json.loads(value)
    except json.JSONDecodeError as exc:
        errors[name] = f"{name} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"


def to_body(kind: type[T], fields: dict[str, Any]) -> T:
    """Strict conversion with the API's messages; raises FormError naming the field."""
    try:
        return msgspec.convert(fields, type=kind, strict=True)
    except msgspec.ValidationError as exc:
        raw = str(exc)
        match = _AT_FIELD.search(raw) or _UNKNOWN.search(raw)
        raise FormError({match.group(1) if match else "form": describe_validation_error(raw)}) from None


def form_errors(exc: FormError | ApplianceError) -> dict[str, str]:
    """`{field: message}` for a form problem or a domain error from the shared checks (sub-paths such as
    `tools[0].url` go beside their top field)."""
    if isinstance(exc, FormError):
        return exc.errors
    field = re.split(r"[.\[]", exc.field)[0] if exc.field else "form"
    return {field: exc.message}
