"""Waiting, once: a backoff and `wait_until`, with `sleep` and `clock` injected so tests never sleep.

API calls are retried by botocore's own policy (standard or adaptive, AWS_MAX_ATTEMPTS); nothing here
retries a call. This paces *observation*: how often to look again while something settles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from batchdeploy.errors import OperationError

# --wait's first looks after a job changes state (SUBMITTED, RUNNABLE, STARTING, RUNNING, the end): a
# job of a few seconds is seen ending within about half a second, not up to 3 s late. A job changes
# state a handful of times per attempt, so these bursts are bounded (about 3 looks more than the 2, 3
# schedule per change); while nothing changes the pace is the cap's, as before.
QUICK = (0.5, 1.0, 1.5, 2.0, 3.0)


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
