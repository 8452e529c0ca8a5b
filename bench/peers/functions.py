"""Scenario 16's sides: a `.map` of a Python function over N inputs on one moto server (API-level Batch:
every job ends at once, no container runs, so no result is written: both sides read each element's
result object once all ended, and find none).

    functions.py --side batchdeploy   batchdeploy.functions: `batch(...).map_async(range(N))`, then wait for
                                      the array to end and read the N results (the API, from the project's
                                      .aws_env in the working folder)
    functions.py --side covalent      covalent-awsbatch-plugin's pattern per element: cloudpickle the call
                                      to S3, RegisterJobDefinition, SubmitJob; then DescribeJobs of each job
                                      (one id a call, as its get_status does) every POLL_S until it ended,
                                      and GET its result object

Prints one JSON line: {"calls", "submits", "registers", "describe_calls"}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

POLL_S = 0.2  # covalent's poll_freq is 10 s; moto ends jobs at once, so one poll each either way


def square(x):
    return x * x


def ours(n: int, image: str) -> dict:
    from batchdeploy.functions import batch

    remote = batch(square, image=image, vcpus=1, memory=512, poll=POLL_S)
    handle = remote.map_async(range(n))
    got = handle.results(return_exceptions=True)  # moto runs nothing: every element is a CallFailed
    return {"calls": n, "submits": len(handle.job_ids), "results_read": len(got), "run_id": handle.run_id}


def covalent(n: int, image: str, queue: str, bucket: str) -> dict:
    import cloudpickle

    from batchdeploy.aws import Aws, AwsSettings

    aws = Aws(AwsSettings(region="us-east-1"))
    s3, batch = aws.client("s3"), aws.client("batch")
    jobs = []
    for i in range(n):
        key = f"covalent/func-dispatch-{i}.pkl"
        s3.put_object(Bucket=bucket, Key=key, Body=cloudpickle.dumps((square, [i], {})))
        name = f"covalent-batch-jobs-dispatch-{i}"
        batch.register_job_definition(
            jobDefinitionName=name, type="container", platformCapabilities=["EC2"],
            containerProperties={"image": image, "command": ["python", "/exec.py", "--func", key],
                                 "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                          {"type": "MEMORY", "value": "512"}]},
            retryStrategy={"attempts": 3}, timeout={"attemptDurationSeconds": 300})
        jobs.append(batch.submit_job(jobName=name, jobQueue=queue, jobDefinition=name)["jobId"])
    describes = 0
    for i, job_id in enumerate(jobs):
        while True:
            describes += 1
            if batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] in ("SUCCEEDED", "FAILED"):
                break
            time.sleep(POLL_S)
        try:
            s3.get_object(Bucket=bucket, Key=f"covalent/result-dispatch-{i}.pkl")
        except Exception as exc:  # noqa: BLE001 - moto ran no container: no result (NoSuchKey)
            if "NoSuchKey" not in str(exc):
                raise
    return {"calls": n, "submits": len(jobs), "registers": n, "describe_calls": describes}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--side", choices=("batchdeploy", "covalent"), required=True)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--image", default="127.0.0.1:5000/bench:fn")
    p.add_argument("--queue", default="bench-queue")
    p.add_argument("--bucket", default="bench-default")
    a = p.parse_args()
    out = ours(a.n, a.image) if a.side == "batchdeploy" else covalent(a.n, a.image, a.queue, a.bucket)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
