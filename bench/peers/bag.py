"""Scenario 13's sides: a bag of N tasks submitted, watched and its logs read, one step per run, so the
server counts each step's requests apart. `--side batchdeploy` is batchdeploy.bags.execute's BagRunner
(paced SubmitJob with client tokens, DescribeJobs of 100 per poll on jobs' backoff, FilterLogEvents of
up to 100 streams); `--side arrays` is the same with an image that has the launcher (one array job through the manifest);
`--side pegasus` is pegasus-aws-batch's pattern read from its source (one SubmitJob
per task, DescribeJobs of 100 ids every 5 s, one GetLogEvents per task's stream).

    bag.py submit --side S --n N --queue Q --job-definition JD --bucket B --state FILE
    bag.py watch  --side S --state FILE        (writes the final DescribeJobs records into FILE)
    bag.py logs   --side S --state FILE --out DIR
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from batchdeploy.aws import Aws, AwsSettings  # noqa: E402
from batchdeploy.bags import arrays  # noqa: E402
from batchdeploy.bags.arrays import Unit  # noqa: E402
from batchdeploy.bags.execute import BagRunner, Placed, new_token, request_for  # noqa: E402
from batchdeploy.bags.submitfile import BagTask  # noqa: E402

PEGASUS_POLL_S = 5


def placed_of(state: dict) -> list[Placed]:
    return [Placed(BagTask(t["name"], ["myjob.sh", t["name"]]), {}, job_id=t["job_id"], status="SUBMITTED",
                   record=t.get("record") or {}) for t in state["tasks"]]


def units_of(state: dict, placed: list[Placed]) -> list[Unit]:
    by_id = {p.job_id: p for p in placed}
    return [Unit({}, [by_id[i] for i in u["tasks"]], manifest=True if u["array"] else None, job_id=u["job_id"])
            for u in state["units"]]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("step", choices=("submit", "watch", "logs"))
    p.add_argument("--side", choices=("batchdeploy", "arrays", "pegasus"), required=True)
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--queue")
    p.add_argument("--job-definition")
    p.add_argument("--state", type=Path, required=True)
    p.add_argument("--out", type=Path)
    p.add_argument("--bucket", default="bench-bucket")
    a = p.parse_args()
    aws = Aws(AwsSettings(region="us-east-1"))
    batch = aws.client("batch")
    runner = BagRunner(aws, sleep=time.sleep, clock=time.monotonic, now=lambda: None, note=lambda _: None,
                       logs_dir=a.out or Path("."))
    if a.step == "submit":
        token = new_token()
        tasks = [BagTask(f"bag-{i}", ["myjob.sh", str(i)]) for i in range(1, a.n + 1)]
        placed = [Placed(t, request_for(t, {}, a.job_definition, a.queue, f"{token}-t{i}")) for i, t in enumerate(tasks, 1)]
        if a.side == "pegasus":
            for pl in placed:
                pl.job_id = batch.submit_job(**{k: v for k, v in pl.request.items() if k != "tags"})["jobId"]
            units = [Unit(pl.request, [pl], job_id=pl.job_id) for pl in placed]
        else:
            launcher = {a.job_definition: "/usr/local/bin/batchdeploy-launch" if a.side == "arrays" else None}
            units = arrays.plan(placed, launcher, bucket=a.bucket, key_prefix="bags/", token=token)
            runner.submit(units)
        a.state.write_text(json.dumps({
            "tasks": [{"name": pl.task.name, "job_id": pl.job_id} for pl in placed],
            "units": [{"job_id": u.job_id, "array": u.is_array, "tasks": [pl.job_id for pl in u.placed]} for u in units]}))
        return 0
    state = json.loads(a.state.read_text())
    placed = placed_of(state)
    if a.step == "watch":
        if a.side != "pegasus":
            runner.watch(units_of(state, placed))
        else:
            while True:
                pending = [pl for pl in placed if pl.status not in ("SUCCEEDED", "FAILED")]
                for i in range(0, len(pending), 100):
                    found = {j["jobId"]: j for j in batch.describe_jobs(jobs=[x.job_id for x in pending[i:i + 100]])["jobs"]}
                    for pl in pending[i:i + 100]:
                        if pl.job_id in found:
                            pl.record, pl.status = found[pl.job_id], found[pl.job_id]["status"]
                if all(pl.status in ("SUCCEEDED", "FAILED") for pl in placed):
                    break
                time.sleep(PEGASUS_POLL_S)
        for t, pl in zip(state["tasks"], placed):
            t["record"] = pl.record
        a.state.write_text(json.dumps(state))
        return 0
    a.out.mkdir(parents=True, exist_ok=True)
    if a.side != "pegasus":
        runner.write_files(placed, runner.fetch_logs(placed))
    else:
        logs = aws.client("logs")
        for pl in placed:
            stream = pl.record["container"]["logStreamName"]
            events = logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=stream, startFromHead=True)["events"]
            (a.out / f"{pl.task.name}.out").write_text("".join(e["message"] + "\n" for e in events))
    written = len(list(a.out.glob("*.out")))
    print(json.dumps({"files": written}))
    return 0 if written == len(placed) else 1


if __name__ == "__main__":
    sys.exit(main())
