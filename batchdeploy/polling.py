"""Waiting, once: a backoff and `wait_until`, with `sleep` and `clock` injected so tests never sleep.

API calls are retried by botocore's own policy (standard or adaptive, AWS_MAX_ATTEMPTS); nothing here
retries a call. This paces *observation*: how often to look again while something settles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from batchdeploy.errors import OperationError

# --wait's looks after a job takes a new state (SUBMITTED, RUNNABLE, STARTING, RUNNING, its end): about
# once a second for its first 4.5 s, then 1.5, 2, 3 s apart, then Backoff's x1.5 to its cap. A job
# that ends within 6 s of a state is seen ending 0.56 s after on average (1.41 s with the 2 s, x1.5
# schedule), at most 1.4 s (2.9 s). A job takes a handful of states per attempt, so these looks are
# bounded: a 10-minute job costs 21 DescribeJobs in its first minute instead of 14, and 12 a minute
# (one per 5 s cap) after it, as before (tests/unit/jobs/test_watch.py measures both with an
# injected clock).
QUICK = (0.5, 1.0, 1.0, 1.0, 1.0, 1.5, 2.0, 3.0)


@dataclass
class Backoff:
    """Seconds between looks: `first` after a change, times `factor` per quiet look, never above `cap`.
    `reset(quick=True)` plays `quick` first, then grows by `factor` from its last step."""

    first: float = 2.0
    factor: float = 1.5
    cap: float = 5.0
    quick: tuple[float, ...] = ()
    current: float = field(default=0.0, init=False)
    _queue: list = field(default_factory=list, init=False, repr=False)

    def __post_init__(self):
        self.current = self.first

    def reset(self, quick: bool = False) -> None:
        self.current = self.first
        self._queue = list(self.quick) if quick else []

    def next(self) -> float:
        if self._queue:
            delay = min(self.cap, self._queue.pop(0))
            self.current = min(self.cap, delay * self.factor)
            return delay
        delay = self.current
        self.current = min(self.cap, self.current * self.factor)
        return delay


def wait_until(check, what: str, timeout: float, sleep, clock, backoff: Backoff | None = None) -> None:
    """Call `check()` until it says done. `check` returns (done, status text) and raises on a failure
    that waiting cannot mend (INVALID). Bounded by `timeout` seconds of `clock`."""
    pace = backoff or Backoff(first=2.0, factor=1.5, cap=15.0)
    deadline = clock() + timeout
    while True:
        done, status = check()
        if done:
            return
        left = deadline - clock()
        if left <= 0:
            raise OperationError(f"{what}: not done after {timeout:g} s ({status})")
        sleep(min(pace.next(), left))
