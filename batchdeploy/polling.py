"""Waiting, once: a backoff and `wait_until`, with `sleep` and `clock` injected so tests never sleep.

API calls are retried by botocore's own policy (standard or adaptive, AWS_MAX_ATTEMPTS); nothing here
retries a call. This paces *observation*: how often to look again while something settles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from batchdeploy.errors import OperationError


@dataclass
class Backoff:
    """Seconds between looks: `first` after a change, times `factor` per quiet look, never above `cap`."""

    first: float = 2.0
    factor: float = 1.5
    cap: float = 5.0
    current: float = field(default=0.0, init=False)

    def __post_init__(self):
        self.current = self.first

    def reset(self) -> None:
        self.current = self.first

    def next(self) -> float:
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
