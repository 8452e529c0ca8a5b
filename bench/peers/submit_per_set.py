"""Scenario 6's Python peer: one SubmitJob per parameter set from one process, what a user's own
script would do. Scenario 7's set-up uses it too (--ids-out) to make the jobs to watch.

Usage: python bench/peers/submit_per_set.py --n N --queue Q --job-definition JD [--ids-out FILE]
The client comes from batchdeploy.aws (nothing else in the repository makes boto3 clients).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from batchdeploy.aws import Aws, AwsSettings  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--queue", required=True)
    p.add_argument("--job-definition", required=True)
    p.add_argument("--name", default="set")
    p.add_argument("--ids-out")
    args = p.parse_args()
    aws = Aws(AwsSettings(region=os.environ.get("AWS_REGION"), endpoint_url=os.environ.get("AWS_ENDPOINT_URL")))
    batch = aws.client("batch")
    ids = []
    for i in range(args.n):
        answer = batch.submit_job(
            jobName=f"{args.name}-{i}", jobQueue=args.queue, jobDefinition=args.job_definition, parameters={"set": str(i)}
        )
        ids.append(answer["jobId"])
    if args.ids_out:
        Path(args.ids_out).write_text("".join(f"{i}\n" for i in ids))
    return 0


if __name__ == "__main__":
    sys.exit(main())
