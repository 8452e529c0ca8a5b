"""Scenario 12's batchdeploy side at library level: batchdeploy.sweeps.watch.SweepWatcher (what a sweep's
`--wait` is built on) following one array job of SIZE tasks to its end, with real time.

Usage: python bench/peers/watch_sweep.py PARENT_JOB_ID SIZE
Prints one JSON line: {"tasks": SIZE, "ended": tasks ended, "rounds": polls, "describe_calls": N, "list_calls": N}.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from batchdeploy.aws import Aws, AwsSettings  # noqa: E402
from batchdeploy.sweeps.watch import SweepWatcher, Tracked  # noqa: E402


class CountingWatcher(SweepWatcher):
    """SweepWatcher counting its polls (it counts its requests itself)."""

    rounds = 0

    def poll(self) -> bool:
        self.rounds += 1
        return super().poll()


def main() -> int:
    parent, size = sys.argv[1], int(sys.argv[2])
    aws = Aws(AwsSettings(region=os.environ.get("AWS_REGION"), endpoint_url=os.environ.get("AWS_ENDPOINT_URL")))
    watcher = CountingWatcher(aws.client("batch"), [Tracked(parent, list(range(1, size + 1)))],
                              sleep=time.sleep, clock=time.monotonic)
    watcher.run(lambda counts, elapsed: None)
    counts = watcher.counts()
    ended = counts.get("SUCCEEDED", 0) + counts.get("FAILED", 0)
    print(json.dumps({"tasks": size, "ended": ended, "rounds": watcher.rounds, "describe_calls": watcher.describe_calls,
                      "list_calls": watcher.list_calls}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
