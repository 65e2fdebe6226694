"""Phone menus as Whisper writes them, and the option an agent's brief asks for."""

from __future__ import annotations

import pytest

from appliance.voice.menus import choice, options

SUPPORT = "You have called the supplier's phone menu. Reach support: when the menu lists its options, press the key."


@pytest.mark.parametrize(
    ("heard", "menu"),
    [
        ("Press 1 for AL. Press 2 for support.", {"1": "al", "2": "support"}),
        ("For sales, press one. For support, press two.", {"1": "sales", "2": "support"}),
        ("To repeat this menu, press star.", {"*": "repeat this menu"}),
        ("Yes, I can help you with your order.", {}),
    ],
)
def test_the_options_of_a_menu_are_read_from_what_was_heard(heard: str, menu: dict[str, str]) -> None:
    assert options(heard) == menu


@pytest.mark.parametrize(
    ("heard", "brief", "key"),
    [
        ("Press 1 for AL. Press 2 for support.", SUPPORT, "2"),
        ("press 1 for sales, press 2 for support, or press 9 to hear these options again", SUPPORT, "2"),
        ("For billing, press 3. For sales, press 1.", "Ask about the invoice you were sent.", None),  # no clear one
        ("Press 1 for sales. Press 2 for support.", "Book a cleaning appointment.", None),
        ("Press 2 for support.", SUPPORT, None),  # one option is not a menu to choose from
    ],
)
def test_the_key_is_the_option_the_brief_names_and_none_when_it_names_none(heard: str, brief: str, key: str) -> None:
    assert choice(heard, brief) == key
