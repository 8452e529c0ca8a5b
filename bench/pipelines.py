"""Scenario 14 (issue #18): a pipeline of 100 steps (a fan-out of 50, a fan-in, a chain) on one moto
server (API-level Batch: every job ends at once), the requests to get it run: batchdeploy's executor,
which submits the whole graph at once with dependsOn and returns, against a driver loop that submits
each step when its dependencies end (bench/peers/pipeline.py). Requests from inside jobs are 0 on
both sides by construction (no job submits anything); magnus's traverse executor, where each job
submits the next, would make them from inside the jobs instead."""

from __future__ import annotations

from bench.harness import PEERS, Scenario, Side, measure
from bench.scenarios import FANOUT_JD, QUEUE, Bench
from bench.stats import rotate


def pipelines(b: Bench) -> list[Scenario]:
    sc = Scenario("14", "A pipeline of 100 steps",
                  "a root, a fan-out of 50, a fan-in (3 joins of <= 20 dependencies, AWS's limit, then one), a chain "
                  "of 45; one job definition; a reset moto account per side and round; moto ends each job at once",
                  count_order=("SubmitJob", "DescribeJobs", "PUT", "POST /"))
    sc.sides = [Side("batchdeploy pipeline run (dependsOn)", "python bench/peers/pipeline.py --side batchdeploy",
                     ours=True),
                Side("driver loop (submit when the dependencies end)", "python bench/peers/pipeline.py --side driver")]
    sc.notes.append("batchdeploy returns once the 100 steps are submitted (the laptop can close); the driver must "
                    "run until the last step ended, here one poll per level of the graph (49 levels) because moto "
                    "ends each job at once; on AWS every level costs its jobs' run time of polling too.")
    sc.notes.append("batchdeploy's PUTs are its run record: run.json and one object per step (101).")
    rounds = 1 if b.mode.name == "quick" else 3
    for r in range(rounds):
        b.log(f"  round {r + 1}/{rounds}")
        for side in rotate(sc.sides, r):
            b.reset_batch()
            which = "batchdeploy" if side.ours else "driver"
            measure(b.runner, sc, side, [b.py, PEERS / "pipeline.py", "--side", which, "--queue", QUEUE,
                                         "--job-definition", FANOUT_JD], b.project)
    return [sc]
