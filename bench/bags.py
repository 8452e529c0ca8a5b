"""Scenario 13: a bag of 500 tasks (issue #17), the requests to submit, to watch and to read the logs,
batchdeploy's bag executor against pegasus-aws-batch's pattern, on one moto server (API-level Batch:
every job ends at once, so both watches see them ended on their first poll; the count per poll is
what differs between patterns that poll more often). Each step is its own measured command; the log
streams the tasks would have written are made between the watch and the log read, not counted."""

from __future__ import annotations

import json
import time

from bench.harness import PEERS, Scenario, Side, measure
from bench.scenarios import FANOUT_JD, QUEUE, Bench
from bench.stats import rotate

STEPS = ("submit", "watch", "logs")


def bag_n(b: Bench) -> int:
    return 100 if b.mode.name == "quick" else 500


def _streams(b: Bench, state_file) -> None:
    """One event in each task's stream, as its container would have written (set-up, not counted)."""
    logs = b.aws.client("logs")
    try:
        logs.create_log_group(logGroupName="/aws/batch/job")
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    now = int(time.time() * 1000)
    for t in json.loads(state_file.read_text())["tasks"]:
        stream = t["record"]["container"]["logStreamName"]
        logs.create_log_stream(logGroupName="/aws/batch/job", logStreamName=stream)
        logs.put_log_events(logGroupName="/aws/batch/job", logStreamName=stream,
                            logEvents=[{"timestamp": now, "message": f"hello from {t['name']}"}])


def bags(b: Bench) -> list[Scenario]:
    n = bag_n(b)
    scenarios = {step: Scenario(f"13{step[0]}", f"A bag of {n} tasks: {step}",
                                f"{n} tasks of one job definition and queue (pegasus submit file shape); moto ends "
                                "each job at once", count_order=("SubmitJob", "DescribeJobs", "POST /"))
                 for step in STEPS}
    peer = PEERS / "bag.py"
    for step, sc in scenarios.items():
        sc.sides = [Side("batchdeploy bags, image with the launcher", f"python bench/peers/bag.py {step} --side arrays",
                         ours=True),
                    Side("batchdeploy bags, no launcher", f"python bench/peers/bag.py {step} --side batchdeploy",
                         ours=True),
                    Side("pegasus-aws-batch pattern", f"python bench/peers/bag.py {step} --side pegasus")]
    scenarios["submit"].notes.append("The array side's S3 requests are its manifest (HEAD, then PUT); moto runs no "
                                     "container, so the launcher is declared, not exercised, here.")
    scenarios["watch"].notes.append("moto ends every job at once, so each side polls once; the array side then "
                                    "describes the children once (to know each task's state and log stream). "
                                    "Per later poll: 1 DescribeJobs per 100 arrays against 1 per 100 tasks.")
    scenarios["logs"].notes.append("POST / is CloudWatch Logs: FilterLogEvents (100 streams a call) against "
                                   "GetLogEvents per task.")
    rounds = 1 if b.mode.name == "quick" else 2
    for r in range(rounds):
        b.log(f"  round {r + 1}/{rounds}")
        for side_no in rotate([0, 1, 2], r):
            b.reset_batch()
            side = ("arrays", "batchdeploy", "pegasus")[side_no]
            state = b.work / f"bag-{side}.json"
            for step in STEPS:
                sc = scenarios[step]
                cmd = [b.py, peer, step, "--side", side, "--state", state]
                if step == "submit":
                    cmd += ["--n", n, "--queue", QUEUE, "--job-definition", FANOUT_JD, "--bucket", b.values["S3_BUCKET"]]
                if step == "logs":
                    _streams(b, state)
                    cmd += ["--out", b.work / f"bag-logs-{side}"]
                if measure(b.runner, sc, sc.sides[side_no], cmd, b.project) is None:
                    break
    return list(scenarios.values())
