"""Scenario 14's sides: a pipeline of 100 steps (a root, a fan-out of 50, a fan-in through 3 joins of
at most 20 dependencies each (AWS's limit) and a final join, then a chain of 45), on one job definition.

    pipeline.py --side batchdeploy   the executor behind `batchdeploy pipeline run` (pipelines.verb.run_pipeline,
                                     from a context the real CLI made): every step submitted at once with
                                     dependsOn, the run record written; returns once all are submitted
    pipeline.py --side driver        a driver loop: submit each step (no dependsOn) once every step it
                                     depends on SUCCEEDED, DescribeJobs of the unfinished (100 ids a call)
                                     every POLL_S, until every step ended; the process must live that long

    --shape small                    scenario 15's pipeline on the local stack: three roots, a join of
                                     them, then a chain of three after it (real containers)
    --poll-s S                       the driver's DescribeJobs interval (default 0.2)

Prints one JSON line: {"steps", "submits", "describe_calls", "polls", "ids": {step: job id}}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from batchdeploy.pipelines.model import Dependency, Pipeline, Step  # noqa: E402

POLL_S = 0.2


def hundred(job_definition: str) -> Pipeline:
    fan = [f"f{i:02d}" for i in range(1, 51)]
    groups = [fan[0:17], fan[17:34], fan[34:50]]
    steps = [Step("prep", parameters={"set": "prep"})]
    steps += [Step(f, parameters={"set": f}, depends_on=[Dependency("prep")]) for f in fan]
    steps += [Step(f"join{k}", depends_on=[Dependency(f) for f in g]) for k, g in enumerate(groups, 1)]
    steps.append(Step("join", depends_on=[Dependency(f"join{k}") for k in (1, 2, 3)]))
    prev = "join"
    for i in range(1, 46):
        steps.append(Step(f"c{i:02d}", depends_on=[Dependency(prev)]))
        prev = f"c{i:02d}"
    assert len(steps) == 100
    return Pipeline("bench", steps, {"job_definition": job_definition})


def small(job_definition: str) -> Pipeline:
    """Scenario 15's: r1, r2, r3; join after all three (a fan-in of 3); c1, c2, c3 after it (with join,
    a chain of 4). Four steps start after others: join, c1, c2, c3."""
    steps = [Step(r, parameters={"set": r}) for r in ("r1", "r2", "r3")]
    steps.append(Step("join", parameters={"set": "join"}, depends_on=[Dependency(r) for r in ("r1", "r2", "r3")]))
    prev = "join"
    for c in ("c1", "c2", "c3"):
        steps.append(Step(c, parameters={"set": c}, depends_on=[Dependency(prev)]))
        prev = c
    return Pipeline("bench", steps, {"job_definition": job_definition})


SHAPES = {"hundred": hundred, "small": small}


def ours(job_definition: str, shape: str = "hundred") -> dict:
    import contextlib
    import io

    from batchdeploy import cli
    from batchdeploy.pipelines import verb

    pipeline = SHAPES[shape](job_definition)
    args = cli.parse(["pipeline", "run", "pipeline.yaml", "--no-credentials", "--output", "json"])
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):  # the context's output is made here, so its JSON lands in `shown`
        ctx = cli.make_context(args)
        code = verb.run_pipeline(ctx, pipeline, list(pipeline.steps), verb.PipelineOptions.from_args(args))
    ids = json.loads(shown.getvalue()).get("job_ids") if code == 0 else None
    return {"steps": len(pipeline.steps), "exit": code, "ids": ids}


def driver(queue: str, job_definition: str, shape: str = "hundred", poll_s: float = POLL_S) -> dict:
    from batchdeploy.aws import Aws, AwsSettings

    batch = Aws(AwsSettings(region="us-east-1")).client("batch")
    pipeline = SHAPES[shape](job_definition)
    ids: dict[str, str] = {}
    state: dict[str, str] = {}
    submits = calls = polls = 0
    while True:
        for s in pipeline.steps:
            if s.name not in ids and all(state.get(d.step) == "SUCCEEDED" for d in s.depends_on):
                ids[s.name] = batch.submit_job(jobName=f"bench-{s.name}", jobQueue=queue, jobDefinition=job_definition,
                                               parameters=s.parameters or {"set": s.name})["jobId"]
                submits += 1
        pending = [ids[n] for n in ids if state.get(n) not in ("SUCCEEDED", "FAILED")]
        if not pending and len(ids) == len(pipeline.steps):
            break
        if any(v == "FAILED" for v in state.values()):
            break
        time.sleep(poll_s)
        polls += 1
        by_id = {v: k for k, v in ids.items()}
        for i in range(0, len(pending), 100):
            calls += 1
            for job in batch.describe_jobs(jobs=pending[i:i + 100])["jobs"]:
                state[by_id[job["jobId"]]] = job["status"]
    return {"steps": len(pipeline.steps), "submits": submits, "describe_calls": calls, "polls": polls, "ids": ids}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--side", choices=("batchdeploy", "driver"), required=True)
    p.add_argument("--queue", default="bench-queue")
    p.add_argument("--job-definition", default="bench-fanout")
    p.add_argument("--shape", choices=tuple(SHAPES), default="hundred")
    p.add_argument("--poll-s", type=float, default=POLL_S)
    a = p.parse_args()
    out = (ours(a.job_definition, a.shape) if a.side == "batchdeploy"
           else driver(a.queue, a.job_definition, a.shape, a.poll_s))
    print(json.dumps(out), flush=True)
    return 0 if out.get("exit", 0) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
