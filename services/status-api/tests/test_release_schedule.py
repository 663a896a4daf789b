"""When a held connection is read again (api/server.py's ReleaseSchedule): after its own hold, one per interval
of its token's rate, never past the cap, and a table that forgets what has passed."""

from __future__ import annotations

import pytest

from offerflow_status_api.api.server import Hold, ReleaseSchedule


def test_connections_of_one_token_are_released_one_interval_apart() -> None:
    schedule = ReleaseSchedule()
    hold = Hold(1.0, ("token-a", True), 0.05)
    assert [schedule.delay(hold, 100.0) for _ in range(4)] == pytest.approx([1.0, 1.05, 1.10, 1.15])


def test_other_tokens_do_not_wait_for_the_queue() -> None:
    schedule = ReleaseSchedule()
    for _ in range(50):
        schedule.delay(Hold(1.0, ("token-a", True), 0.05), 100.0)
    assert schedule.delay(Hold(1.0, ("token-b", True), 0.05), 100.0) == pytest.approx(1.0)
    assert schedule.delay(Hold(1.0, ("token-a", False), 0.02), 100.0) == pytest.approx(1.0)  # reads apart


def test_a_longer_hold_is_kept_and_an_emptied_queue_starts_again() -> None:
    schedule = ReleaseSchedule()
    assert schedule.delay(Hold(1.0, "q", 0.5), 100.0) == pytest.approx(1.0)
    assert schedule.delay(Hold(3.0, "q", 0.5), 100.0) == pytest.approx(3.0)  # its own Retry-After first
    assert schedule.delay(Hold(1.0, "q", 0.5), 100.0) == pytest.approx(3.5)  # then after that one
    assert schedule.delay(Hold(1.0, "q", 0.5), 200.0) == pytest.approx(1.0)  # long after: no queue left


def test_no_hold_goes_past_the_cap_and_the_overflow_is_spread() -> None:
    draws = iter([0.0, 0.5, 1.0])
    schedule = ReleaseSchedule(max_hold=2.0, random=lambda: next(draws))
    delays = [schedule.delay(Hold(1.0, "q", 0.5), 100.0) for _ in range(6)]
    # Three places fit within the cap; the rest come back at random over its second half.
    assert delays == pytest.approx([1.0, 1.5, 2.0, 1.0, 1.5, 2.0])
    assert schedule.delay(Hold(1.0, "q", 0.5), 101.0) == pytest.approx(1.5)  # the queue itself did not move


def test_the_table_forgets_queues_whose_last_release_has_passed() -> None:
    schedule = ReleaseSchedule(max_queues=3)
    for i in range(3):
        schedule.delay(Hold(1.0, f"old-{i}", 0.1), 100.0)
    schedule.delay(Hold(1.0, "new", 0.1), 500.0)
    assert len(schedule) == 1
