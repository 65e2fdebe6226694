"""The e2e modules that need only the voice share the run's voice appliance (tests/conftest.py). The campaign
module keeps a box of its own, since it puts the person's number on the do-not-call list.

Each e2e test is one whole call with the sampled model, the simulated person's voice read by Whisper on a
shared machine: one sample of the box, not a function of its inputs. A failed one runs once more, and the
rerun is printed (pytest's "R", and `make test`'s recap lists RERUN lines), so an agent that misses one call
in twenty does not fail the suite while one that fails twice in a row does. How often each kind of call
succeeds is measured in bench/ (BENCHMARKS.md), not here."""

from __future__ import annotations

import pytest

from tests.support import ServerProcess

RERUNS = 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent.name == "e2e" and item.get_closest_marker("flaky") is None:
            item.add_marker(pytest.mark.flaky(reruns=RERUNS))


@pytest.fixture(scope="session")
def appliance(voice_box: ServerProcess) -> ServerProcess:
    return voice_box
