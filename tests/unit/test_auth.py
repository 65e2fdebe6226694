from __future__ import annotations

from appliance.api.auth import MAX_CLIENTS, FailedAuthWindow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_client_is_blocked_at_the_limit_until_the_oldest_counted_failure_is_a_minute_old() -> None:
    clock = Clock()
    window = FailedAuthWindow(clock)
    for _ in range(3):
        assert window.blocked_for("10.0.0.1", 3) == 0
        window.record("10.0.0.1")
        clock.now += 10
    assert window.blocked_for("10.0.0.1", 3) == 31  # first failure at 1000, now 1030: free at 1060
    assert window.blocked_for("10.0.0.2", 3) == 0
    clock.now = 1060.5
    assert window.blocked_for("10.0.0.1", 3) == 0


def test_failures_older_than_a_minute_are_forgotten() -> None:
    clock = Clock()
    window = FailedAuthWindow(clock)
    window.record("a")
    clock.now += 61
    window.record("a")
    assert window.blocked_for("a", 2) == 0


def test_memory_is_bounded_by_forgetting_the_least_recent_client() -> None:
    window = FailedAuthWindow(Clock())
    for n in range(MAX_CLIENTS + 5):
        window.record(f"client-{n}")
    assert window.blocked_for("client-0", 1) == 0
    assert window.blocked_for(f"client-{MAX_CLIENTS + 4}", 1) > 0
