"""The Python API: `batch(**options)` as a decorator, or `batch(fn, **options)` as a wrapper.

    from batchdeploy.functions import batch

    @batch(vcpus=2, memory=4096)
    def fit(rate):
        ...

    fit(0.1)                       # submits one job and waits: the value, or the remote exception
    future = fit.submit(0.1)       # a Future: .result(timeout), .done(), .cancel(), .logs(), .job_id, .run_id
    fit.map([0.1, 0.2, 0.3])       # ONE array job; the values in order, or MapError (results and errors)
    fit.map(rates, return_exceptions=True)   # each failed call's exception in its place

The options are checked when the function is decorated (options.py); the project (`.aws_env`, found
from the working folder as the CLI finds it) is read at the first submit.
"""

from __future__ import annotations

import functools
import time

from batchdeploy.aws import translate
from batchdeploy.functions import options as opts
from batchdeploy.functions import session
from batchdeploy.functions.futures import Future, Tracker, gather
from batchdeploy.functions.submit import submit


class Remote:
    """A function that runs on AWS Batch."""

    def __init__(self, fn, options: opts.Options, *, sleep=time.sleep, clock=time.monotonic, cwd=None, environ=None):
        if not callable(fn):
            raise TypeError(f"batch() wraps a function, not {type(fn).__name__}")
        functools.update_wrapper(self, fn)
        self.fn, self.options = fn, options
        self._time = {"sleep": sleep, "clock": clock, "cwd": cwd, "environ": environ}
        self._ctx = None

    def __repr__(self):
        return f"<batch function {getattr(self.fn, '__qualname__', self.fn)!r}>"

    @property
    def ctx(self):
        if self._ctx is None:
            self._ctx = session.context(self.options, **self._time)
        return self._ctx

    def submit(self, *args, **kwargs) -> Future:
        """Submit one call; returns at once with its Future."""
        submitted = submit(self.ctx, self.options, self.fn, [(args, kwargs)])
        return Future(Tracker(self.ctx, submitted, self.options.poll))

    def __call__(self, *args, **kwargs):
        """Submit one call and wait for it: its value, or its exception raised here."""
        return self.submit(*args, **kwargs).result()

    def map(self, *iterables, timeout: float | None = None, return_exceptions: bool = False) -> list:
        """fn(x) for each x (fn(x, y) over several iterables, as map does) as one array job, the values in
        order. A failed call raises MapError after every call ended (its `results` and `errors`), or,
        with return_exceptions=True, its exception is returned in its place."""
        arguments = [(tuple(args), {}) for args in zip(*iterables)]
        submitted = submit(self.ctx, self.options, self.fn, arguments)
        return gather(Tracker(self.ctx, submitted, self.options.poll), len(arguments), timeout, return_exceptions)

    def map_async(self, *iterables) -> MapFuture:
        """As `map`, returning at once: `.results(timeout, return_exceptions)` waits."""
        arguments = [(tuple(args), {}) for args in zip(*iterables)]
        submitted = submit(self.ctx, self.options, self.fn, arguments)
        return MapFuture(Tracker(self.ctx, submitted, self.options.poll), len(arguments))


class MapFuture:
    """A map submitted: `.results(timeout, return_exceptions)`, `.futures()` (one per call: `.logs()`,
    `.job_id` PARENT:INDEX), `.cancel()`, `.run_id`, `.job_ids`."""

    def __init__(self, tracker: Tracker, count: int):
        self._tracker, self.count = tracker, count

    @property
    def run_id(self) -> str:
        return self._tracker.submitted.run_id

    @property
    def job_ids(self) -> list[str]:
        return self._tracker.job_ids

    def futures(self) -> list[Future]:
        return [Future(self._tracker, n + 1) for n in range(self.count)]

    def results(self, timeout: float | None = None, return_exceptions: bool = False) -> list:
        return gather(self._tracker, self.count, timeout, return_exceptions)

    def cancel(self) -> bool:
        """Terminate the map's array jobs that have not ended (their children with them); True if any."""
        return any([Future(self._tracker, ids[0]).cancel() for _, ids in self._tracker.submitted.units
                    if len(ids) == 1] + [self._cancel_array(job_id) for job_id, ids in self._tracker.submitted.units
                                         if len(ids) > 1])

    def _cancel_array(self, job_id: str) -> bool:
        self._tracker.look([job_id])
        if self._tracker.ended([job_id]):
            return False
        with translate(f"terminate array job {job_id} (batch:TerminateJob)"):
            self._tracker.ctx.aws.client("batch").terminate_job(jobId=job_id, reason="cancelled from Python")
        return True


def batch(fn=None, /, **options):
    """`@batch(**options)`, `@batch`, or `batch(fn, **options)`: see the module docstring."""
    checked = opts.parse(options)
    if fn is not None:
        return Remote(fn, checked)
    return lambda f: Remote(f, checked)


def from_covalent(fn=None, /, **settings):
    """covalent's AWSBatchExecutor settings, with covalent's names and units (memory in GB)."""
    return batch(fn, **opts.from_covalent(settings)) if fn is not None else batch(**opts.from_covalent(settings))
