"""The benchmark's moto server and request counters. Starting moto and reading its request log are
batchdeploy.local.moto's (the one start-up the stack and the tests' fixtures share); what the
benchmark adds is counting the requests by label.

Requests are counted from the server's log, never from the clients: every side of a comparison is
counted the same way, whatever tool it is.
"""

from __future__ import annotations

import sys
from collections import Counter

from batchdeploy.local import moto
from bench.stats import classify, count


class LogCounter(moto.RequestLog):
    """Counts requests a server logged between two points (`mark`, then `counts_since`)."""

    def __init__(self, marker_url, log_path, skip_prefixes=("/moto-api",), classifier=classify):
        super().__init__(marker_url, log_path, skip_prefixes)
        self.classifier = classifier

    def counts_since(self, mark: int) -> tuple[Counter, int]:
        """(requests by label, how many got a 5xx)."""
        reqs = self.requests_since(mark)
        return count(reqs, self.classifier), sum(1 for r in reqs if r.status >= 500)


class MotoServer(moto.MotoServer):
    """`python -m moto.server` on a free loopback port; its log is WORKDIR/moto.log, counted by `counter`."""

    def __init__(self, workdir, python: str = sys.executable):
        super().__init__(workdir, python)
        self.counter = LogCounter(self.url + "/moto-api/", self.log_path)
