"""The schemathesis fuzz of tests/api at full size: at least 5,000 generated requests over every operation."""

from __future__ import annotations

import time

from tests.api.test_schemathesis import fuzz
from tests.support import ServerProcess

from .budget import full_only, report

EXAMPLES_PER_OPERATION = 200  # 34 operations; a few (no parameters) run out of distinct cases sooner


@full_only
def test_5000_generated_requests_give_no_server_error_and_match_the_schema(api_server: ServerProcess) -> None:
    started = time.monotonic()
    sent, failures = fuzz(api_server, EXAMPLES_PER_OPERATION)
    errors = [line for line in api_server.output if "http.unhandled_error" in line]
    report("schemathesis", requests=sent, failures=len(failures), unhandled_errors=len(errors),
           seconds=round(time.monotonic() - started, 1))  # fmt: skip
    assert not failures, "\n\n".join(failures)
    assert not errors
    assert sent >= 5000, f"only {sent} generated requests"
