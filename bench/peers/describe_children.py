"""Scenario 12's peer: one poll of an array's children as a tool that tracks every task's job does it,
DescribeJobs with 100 child ids a call (AWS's most) from one process.

Usage: python bench/peers/describe_children.py IDS_FILE
Prints one JSON line: {"jobs": N, "ended": SUCCEEDED or FAILED, "rounds": 1, "describe_calls": N/100}.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from batchdeploy.aws import Aws, AwsSettings  # noqa: E402


def main() -> int:
    ids = [line.strip() for line in Path(sys.argv[1]).read_text().splitlines() if line.strip()]
    aws = Aws(AwsSettings(region=os.environ.get("AWS_REGION"), endpoint_url=os.environ.get("AWS_ENDPOINT_URL")))
    batch = aws.client("batch")
    calls = ended = 0
    for start in range(0, len(ids), 100):
        calls += 1
        for job in batch.describe_jobs(jobs=ids[start:start + 100])["jobs"]:
            ended += job.get("status") in ("SUCCEEDED", "FAILED")
    print(json.dumps({"jobs": len(ids), "ended": ended, "rounds": 1, "describe_calls": calls}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
