"""One voice appliance for the whole run, for the tests that need nothing but the voice on (the console in a
browser, and the e2e modules): its models load once, about 15 s each time. Each test writes the person's
script it needs and reads only its own calls.

Every test that runs the models (the calls with the voice on, the browser, the unit tests of the default model)
is marked `models`. `make test` (scripts/test.sh) runs them in one pytest while a second runs the rest: two
calls' models at once would halve each one's share of the 2 cores, and the tests that listen at the far end
of a line would hear a box no real one is."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import ServerProcess

MODEL_DIRS = ("e2e", "browser")
MODEL_FIXTURES = {"voice_box", "default_model"}


def pytest_itemcollected(item: pytest.Item) -> None:
    fixtures = set(getattr(item, "fixturenames", ()))
    if item.path.parent.name in MODEL_DIRS or fixtures & MODEL_FIXTURES:
        item.add_marker(pytest.mark.models)


@pytest.fixture(scope="session")
def voice_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("voice"), env={"APPLIANCE_VOICE": "true"}).start(timeout=120)
    yield proc.wait_for_voice()
    proc.stop()
