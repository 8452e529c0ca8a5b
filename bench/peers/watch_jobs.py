"""Scenario 7's batchdeploy side at library level: batchdeploy.jobs.watch.JobWatcher (what `-r --wait` and
any many-job wait are built on) following the jobs in IDS_FILE to completion, with real time.

Usage: python bench/peers/watch_jobs.py IDS_FILE
Prints one JSON line: {"jobs": N, "rounds": polls made, "describe_calls": DescribeJobs calls made}.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from batchdeploy.aws import Aws, AwsSettings  # noqa: E402


def main() -> int:
    try:
        from batchdeploy.jobs.watch import JobWatcher
    except ImportError:
        print("batchdeploy: error: the job watcher (batchdeploy.jobs.watch) is not implemented yet", file=sys.stderr)
        return 2
    ids = [line.strip() for line in Path(sys.argv[1]).read_text().splitlines() if line.strip()]
    aws = Aws(AwsSettings(region=os.environ.get("AWS_REGION"), endpoint_url=os.environ.get("AWS_ENDPOINT_URL")))
    watcher = JobWatcher(aws.client("batch"), ids, sleep=time.sleep, clock=time.monotonic)
    final = watcher.run()
    done = sum(1 for job in final.values() if job.get("status") in ("SUCCEEDED", "FAILED"))
    print(json.dumps({"jobs": len(ids), "ended": done, "rounds": watcher.rounds, "describe_calls": watcher.describe_calls}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
