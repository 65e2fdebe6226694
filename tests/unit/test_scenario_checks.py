"""The task-success checks of bench/scenarios.py: each one fails on the call it is meant to catch."""

from datetime import date

from bench import scenario_checks as checks

TODAY = date(2026, 12, 1)  # a Tuesday


def segments(*turns: str) -> list[dict]:
    return [{"role": "agent" if t.startswith("A:") else "user", "text": t[2:].strip()} for t in turns]


def test_an_outbound_opening_must_say_who_and_why() -> None:
    call = segments("U: Hello?", "A: Hi, this is Sam from Bright Smile Dental about your appointment.")
    assert checks.introduced(call, ["sam"], ["appointment"], outbound=True)
    assert not checks.introduced(segments("A: Hello! How can I help?"), ["sam"], ["appointment"], outbound=True)


def test_a_field_counts_as_asked_only_in_a_question() -> None:
    call = segments("A: Your gate code is needed.", "A: Morning or afternoon?")
    assert checks.asked(call, {"gate_code": ["code"], "window": ["morning"]}) == ["gate_code"]


def test_numbers_and_weekdays_nobody_gave_are_invented() -> None:
    brief = "Confirm the appointment on 2026-12-03 at 10:00."  # a Thursday
    ok = segments("A: Is Thursday at 10 still good?", "U: Can we do 11?", "A: Sure, 11 on Thursday.")
    assert checks.invented(ok, brief, TODAY) == []
    bad = segments("A: The cleaning costs 80 dollars.", "A: Or Saturday?")
    assert checks.invented(bad, brief, TODAY) == ["The cleaning costs 80 dollars.", "Or Saturday?"]


def test_identity_hearing_out_questions_and_the_close() -> None:
    assert checks.speaks_as_a_model(segments("A: I'm an AI language model."))
    assert checks.heard_out(["Hello?", "Yes."], ["Yes.", "No, bye."], greeting=True)  # the goodbye may go unsaid
    assert not checks.heard_out(["Hello?"], ["Yes.", "Friday works.", "Bye."], greeting=True)
    assert not checks.answered(segments("A: Can you come?", "U: What time was it?"))
    assert checks.polite_end(segments("U: Bye.", "A: Thanks, goodbye!"))
    assert not checks.polite_end(segments("A: Is there anything else?"))


def test_result_fields_are_scored_apart() -> None:
    expect = {"ok": True, "code": ["4719"], "when": None, "n": 9, "day": ["friday"]}
    got = {"ok": None, "code": "4 7 1 9", "when": "today", "n": 8, "day": "Friday at ten"}
    assert checks.score_result(got, expect) == {
        "ok": "missed",
        "code": "right",
        "when": "invented",
        "n": "wrong",
        "day": "right",
    }


def test_expected_days_are_counted_from_the_day_of_the_call() -> None:
    expect = {"today": ["@today"], "friday": ["@friday"], "monday": ["@monday"]}
    got = {"today": "2026-12-04", "friday": "2026-12-11", "monday": "2026-12-07"}
    on_a_friday = checks.score_result(got, expect, date(2026, 12, 4))
    assert on_a_friday == {"today": "right", "friday": "right", "monday": "right"}  # "on Friday": the next one
    on_a_tuesday = checks.score_result(got, expect, date(2026, 12, 1))
    assert on_a_tuesday == {"today": "wrong", "friday": "wrong", "monday": "right"}
