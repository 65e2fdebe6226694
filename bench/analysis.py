"""Post-call analysis against a small labelled set written here: outcome, sentiment and success accuracy, and
how faithful the summaries are to their transcripts.

Faithfulness is scored without a second model, two ways: (1) invented facts: a number, a weekday, a month or
a capitalised name in the summary that appears nowhere in the transcript, the instructions or the context
(the inventions a consumer would act on); (2) lexical support: the share of the summary's content words
(four letters or more, not a stop word) whose stem is in the call. Every summary is also written to the
results file so a person can read them. Also the time of the pass with the analysis, and with `--compare`
without it (result only) on the same calls, to show what the analysis costs.

    .venv/bin/python bench/analysis.py [--model-path FILE.gguf] [--only ID,ID] [--compare]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance import models
from appliance.logs import configure_logging
from appliance.results.analysis import check_analysis
from appliance.results.extraction import Extractor
from appliance.spoken_numbers import numbers_in
from bench.procstat import machine

RESULTS = Path(__file__).resolve().parent / "results" / "analysis.json"
INSTRUCTIONS = "Confirm Alex's dental cleaning on Thursday March 5 at 3 pm. If Alex cannot come, offer Friday at 10 am."
CONTEXT = {"patient": "Alex Kim", "appointment": "2026-03-05 15:00", "today": "2026-03-02 (Monday)"}
RETURNS = {"confirmed": "boolean", "new_time": "string"}
ANALYSIS = check_analysis(
    {
        "outcomes": ["confirmed", "rescheduled", "declined", "wrong_person", "voicemail", "no_decision"],
        "success_rubric": "Alex keeps the appointment or agrees to a new time.",
    }
)
OPENING = ("agent", "Hi, this is Sam from Bright Smile Dental. Am I speaking with Alex?")

# (id, transcript after the opening, outcome, sentiment, success)
SET: list[tuple[str, list[tuple[str, str]], str, str, bool]] = [
    (
        "confirmed-plain",
        [
            ("user", "Yes, this is Alex."),
            ("agent", "Great. I'm calling to confirm your cleaning on Thursday at 3 pm. Can you make it?"),
            ("user", "Yes, that works for me. I'll be there."),
            ("agent", "Wonderful, see you Thursday. Goodbye!"),
        ],
        "confirmed",
        "positive",
        True,
    ),
    (
        "confirmed-happy",
        [
            ("user", "Speaking! Oh, is it about my cleaning?"),
            ("agent", "Yes, it's on Thursday at 3 pm. Does that still suit you?"),
            ("user", "Absolutely, thanks so much for the reminder, I'd totally forgotten."),
            ("agent", "Happy to help. See you then!"),
        ],
        "confirmed",
        "positive",
        True,
    ),
    (
        "rescheduled-friday",
        [
            ("user", "Yes, speaking."),
            ("agent", "I'm calling to confirm your cleaning on Thursday at 3 pm."),
            ("user", "Oh, Thursday doesn't work, I'm travelling."),
            ("agent", "No problem. Could you come on Friday at 10 am instead?"),
            ("user", "Friday at ten is fine."),
            ("agent", "Perfect, I've moved you to Friday at 10 am. Goodbye."),
        ],
        "rescheduled",
        "neutral",
        True,
    ),
    (
        "rescheduled-own-time",
        [
            ("user", "This is Alex."),
            ("agent", "I'm calling about your cleaning on Thursday at 3 pm. Can you make it?"),
            ("user", "Not really. Could we do next Monday morning instead, around nine?"),
            ("agent", "Monday at 9 am is open. I've booked it for you."),
            ("user", "Great, thanks."),
        ],
        "rescheduled",
        "positive",
        True,
    ),
    (
        "declined-angry",
        [
            ("user", "Yeah, what is it?"),
            ("agent", "I'm calling to confirm your cleaning on Thursday at 3 pm."),
            ("user", "Cancel it. I'm not coming back after the bill you sent me last time."),
            ("agent", "I'm sorry to hear that. Would Friday at 10 am work instead?"),
            ("user", "No. Just cancel it and stop calling me."),
        ],
        "declined",
        "negative",
        False,
    ),
    (
        "declined-polite",
        [
            ("user", "Yes, hi."),
            ("agent", "I'm calling to confirm your cleaning on Thursday at 3 pm."),
            ("user", "Oh, I've actually moved to another city, so I won't need it any more. Please cancel it."),
            ("agent", "Of course, I've cancelled it. Good luck with the move!"),
        ],
        "declined",
        "neutral",
        False,
    ),
    (
        "wrong-person",
        [
            ("user", "No, this is his roommate. Alex is at work."),
            ("agent", "Could you ask Alex to call Bright Smile Dental back?"),
            ("user", "Sure, I'll tell him."),
        ],
        "wrong_person",
        "neutral",
        False,
    ),
    (
        "wrong-number",
        [
            ("user", "Who? There's no Alex here, you have the wrong number."),
            ("agent", "I'm sorry to have bothered you. Goodbye."),
        ],
        "wrong_person",
        "neutral",
        False,
    ),
    (
        "voicemail",
        [
            (
                "user",
                "Hi, you've reached Alex. I can't take your call right now, please leave a message after the tone.",
            ),
            (
                "agent",
                "Hi Alex, this is Sam from Bright Smile Dental about your cleaning on Thursday. Please call us back.",
            ),
        ],
        "voicemail",
        "neutral",
        False,
    ),
    (
        "undecided",
        [
            ("user", "Yes, this is Alex."),
            ("agent", "I'm calling to confirm your cleaning on Thursday at 3 pm. Can you make it?"),
            ("user", "I'm not sure yet, it depends on my work schedule. I'll call you back."),
            ("agent", "That's fine. Please let us know by Wednesday."),
        ],
        "no_decision",
        "neutral",
        False,
    ),
    (
        "undecided-friday",
        [
            ("user", "Speaking."),
            ("agent", "Your cleaning is on Thursday at 3 pm. Can you make it?"),
            ("user", "Thursday is hard. Maybe Friday, but I need to check with my boss first."),
            ("agent", "Friday at 10 am is open. Shall I hold it for you?"),
            ("user", "Don't book anything yet, I'll get back to you."),
        ],
        "no_decision",
        "neutral",
        False,
    ),
    (
        "confirmed-annoyed",
        [
            ("user", "Yes. This is the third time you've called about this."),
            ("agent", "Sorry about that. Just to confirm: your cleaning on Thursday at 3 pm?"),
            ("user", "Yes, I'll be there, I already said so. Please stop calling."),
        ],
        "confirmed",
        "negative",
        True,
    ),
]

STOP = set(
    """about after again also been before being call called calling could does doing done from have having here
    into just know like made make more much need only other over said same says should some such than that
    their them then there they this those through time very want were what when where which while will with
    would your yours the and for not but agent person caller call patient customer summary they them agreed
    asked says said told tells wants wanted asks""".split()
)
WEEKDAYS = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
MONTHS = set("january february march april may june july august september october november december".split())


def _stem(word: str) -> str:
    return word[:5]


def faithfulness(summary: str, source: str) -> dict[str, Any]:
    """Invented facts (numbers, weekdays, months, names absent from the call) and lexical support."""
    words = re.findall(r"[A-Za-z]+", summary)
    source_words = {w.casefold() for w in re.findall(r"[A-Za-z]+", source)}
    stems = {_stem(w) for w in source_words}
    invented = sorted(
        str(n)
        for n in numbers_in(summary) - numbers_in(source)
        if not (0 <= n <= 1)  # "one call" is no fact
    )
    for i, word in enumerate(words):
        low = word.casefold()
        named = word[0].isupper() and i > 0 and low not in STOP and len(low) > 2
        if (low in WEEKDAYS or low in MONTHS or named) and low not in source_words:
            invented.append(word)
    content = [w.casefold() for w in words if len(w) >= 4 and w.casefold() not in STOP]
    supported = [w for w in content if _stem(w) in stems]
    return {"invented": invented, "support": len(supported) / len(content) if content else 1.0}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-path", type=Path)
    parser.add_argument("--only", default="")
    parser.add_argument("--compare", action="store_true", help="also time the pass without the analysis")
    args = parser.parse_args()
    configure_logging("warning", False)
    path = args.model_path or models.resolve("llm", None).path
    extractor = Extractor(model_path=path)
    only, compare = set(filter(None, args.only.split(","))), args.compare
    items = [item for item in SET if not only or item[0] in only]
    extractor.extract(RETURNS, [OPENING, ("user", "Yes.")], INSTRUCTIONS, CONTEXT)  # load and warm the model
    rows, with_s, without_s = [], [], []
    for name, turns, outcome, sentiment, success in items:
        transcript = [OPENING, *turns]
        started = time.perf_counter()
        got = extractor.extract(RETURNS, transcript, INSTRUCTIONS, CONTEXT, ANALYSIS)
        with_s.append(time.perf_counter() - started)
        if compare:
            started = time.perf_counter()
            extractor.extract(RETURNS, transcript, INSTRUCTIONS, CONTEXT)
            without_s.append(time.perf_counter() - started)
        analysis = got.analysis or {}
        source = "\n".join(text for _, text in transcript) + "\n" + INSTRUCTIONS + "\n" + json.dumps(CONTEXT)
        faithful = faithfulness(analysis.get("summary") or "", source)
        row = {
            "id": name,
            "status": got.status,
            "summary": analysis.get("summary"),
            "outcome": [outcome, analysis.get("outcome")],
            "sentiment": [sentiment, analysis.get("sentiment")],
            "success": [success, analysis.get("success")],
            "result": got.result,
            **faithful,
        }
        rows.append(row)
        print(json.dumps(row, ensure_ascii=False), flush=True)

    def accuracy(key: str) -> float:
        return sum(r[key][0] == r[key][1] for r in rows) / len(rows)

    report = {
        "machine": machine(),
        "model": path.name,
        "items": len(rows),
        "outcome_accuracy": accuracy("outcome"),
        "sentiment_accuracy": accuracy("sentiment"),
        "success_accuracy": accuracy("success"),
        "summaries_with_an_invented_fact": sum(bool(r["invented"]) for r in rows),
        "lexical_support_mean": statistics.fmean(r["support"] for r in rows),
        "seconds_with_analysis_p50": statistics.median(with_s),
        "seconds_result_only_p50": statistics.median(without_s) if without_s else None,
        "rows": rows,
    }
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "rows"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
