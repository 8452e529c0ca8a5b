"""wait_until: bounded by its timeout, paced by its backoff, never sleeping for real in a test."""

from __future__ import annotations

import pytest

from batchdeploy import polling
from batchdeploy.errors import OperationError

# --- waiting -----------------------------------------------------------------------------------


class FakeTime:
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def sleep(self, s):
        self.slept.append(s)
        self.now += s

    def clock(self):
        return self.now


def test_wait_returns_as_soon_as_done():
    t = FakeTime()
    answers = iter([(False, "CREATING"), (False, "CREATING"), (True, "VALID")])
    polling.wait_until(lambda: next(answers), "ce", 600, t.sleep, t.clock)
    assert t.slept == [2.0, 3.0]


def test_wait_is_bounded_and_says_the_last_status():
    t = FakeTime()
    with pytest.raises(OperationError) as caught:
        polling.wait_until(
            lambda: (False, "status CREATING: no capacity"), "ce X to become VALID", 100, t.sleep, t.clock
        )
    assert caught.value.message == "ce X to become VALID: not done after 100 s (status CREATING: no capacity)"
    assert sum(t.slept) == pytest.approx(100) and max(t.slept) <= 15


def test_wait_stops_at_once_on_a_failure_the_check_raises():
    t = FakeTime()

    def check():
        raise OperationError("compute environment X is INVALID: CLIENT_ERROR")

    with pytest.raises(OperationError, match="INVALID"):
        polling.wait_until(check, "ce", 100, t.sleep, t.clock)
    assert t.slept == []
