"""Property-based fuzzing of every documented operation from /openapi.json against the real server:
no 5xx, and every response matches the documented status codes, content types and schemas."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support import ServerProcess

# 30 generated cases per operation in `make test` (about 30 s); `make reliability` fuzzes every operation
# 200 times (tests/reliability/test_fuzz.py).
EXAMPLES_PER_OPERATION = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def fuzz(server: ServerProcess, examples: int) -> tuple[int, list[str]]:
    """Run every operation with `examples` generated cases; returns (requests sent, failures)."""
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    sent = 0
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)  # fmt: skip
        def run(case: schemathesis.Case) -> None:
            nonlocal sent
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {server.key}"}
            sent += 1
            case.call_and_validate(checks=CHECKS)

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them together
            failures.append(f"{operation.label}: {exc}")
    return sent, failures


def test_api_never_errors_and_matches_its_schema(server: ServerProcess) -> None:
    sent, failures = fuzz(server, EXAMPLES_PER_OPERATION)
    assert not failures, "\n\n".join(failures)
    assert sent >= 20 * EXAMPLES_PER_OPERATION, f"only {sent} generated requests"  # every operation was run
