"""Contact lists: CSV with a `to` column (other columns become the call's context), JSON; every bad number is
listed with its line and nothing is accepted."""

from __future__ import annotations

import pytest

from appliance.campaigns.contacts import from_csv, from_json
from appliance.errors import InvalidInput


def test_csv_columns_become_the_contacts_context() -> None:
    contacts = from_csv("name,To,slot\nAda,+12025550101,9:00\n\nBob, +12025550102 ,10:30\n")
    assert [(c.to, c.columns, c.line) for c in contacts] == [
        ("+12025550101", {"name": "Ada", "slot": "9:00"}, 2),
        ("+12025550102", {"name": "Bob", "slot": "10:30"}, 4),
    ]


def test_a_byte_order_mark_before_the_header_is_ignored() -> None:
    assert [c.to for c in from_csv("\ufeffto,name\n+12025550101,Ada\n")] == ["+12025550101"]


def test_csv_without_a_to_column_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        from_csv("name,phone\nAda,+12025550101\n")
    assert caught.value.field == "contacts_csv"
    assert "no to column" in caught.value.message and "name, phone" in caught.value.message


def test_every_bad_number_is_listed_with_its_line() -> None:
    text = "to,name\n+12025550101,Ada\n12025550102,Bob\n+1555,Cy\n+12025550103,Di\n"
    with pytest.raises(InvalidInput) as caught:
        from_csv(text)
    message = caught.value.message
    assert caught.value.code == "invalid_contacts"
    assert "2 of 4 contacts are bad" in message
    assert "line 3: '12025550102'" in message and "line 4: '+1555'" in message
    assert "line 2" not in message and "line 5" not in message


def test_a_row_longer_than_the_header_is_refused_with_its_line() -> None:
    with pytest.raises(InvalidInput, match="line 3 has 3 fields"):
        from_csv("to,name\n+12025550101,Ada\n+12025550102,Bob,extra\n")


def test_a_repeated_column_is_refused() -> None:
    with pytest.raises(InvalidInput, match="names a column twice: name"):
        from_csv("to,name,name\n+12025550101,Ada,Ada\n")


def test_json_contacts_name_the_bad_index() -> None:
    with pytest.raises(InvalidInput) as caught:
        from_json([{"to": "+12025550101"}, {"to": "nope"}, {"name": "no number"}])
    assert "contacts[1].to" in caught.value.message and "contacts[2].to is missing" in caught.value.message


def test_an_empty_list_is_refused() -> None:
    with pytest.raises(InvalidInput, match="holds no contact"):
        from_csv("to\n")
