"""Scenario 16 (issue #19): `.map` of a Python function over 1,000 inputs, the requests, batchdeploy's
functions API (one job definition, found or registered once, and one array job through the launcher's
manifest) against covalent-awsbatch-plugin's pattern (per element: an upload, a RegisterJobDefinition,
a SubmitJob, then its own polling), on one moto server (API-level Batch: every job ends at once, no
container runs). Time to all results on the local stack, where the calls really run, is measured by
its stack half, `python -m bench.functions_stack` (bench/functions_stack.py), added to the same RESULTS file."""

from __future__ import annotations

import json

from bench.harness import PEERS, Scenario, Side, measure
from bench.scenarios import QUEUE, Bench
from bench.stats import rotate

IMAGE = "127.0.0.1:5000/bench:fn"


def fn_project(b: Bench):
    """A project folder of its own: the image is declared as built by -b with the launcher and this Python."""
    import sys

    folder = b.work / "fn-project"
    (folder / ".batchdeploy").mkdir(parents=True, exist_ok=True)
    (folder / ".aws_env").write_text((b.project / ".aws_env").read_text())
    py = f"{sys.version_info[0]}.{sys.version_info[1]}"
    (folder / ".batchdeploy" / "images.json").write_text(json.dumps({"images": {"bench": {
        "repository": IMAGE.rsplit(":", 1)[0], "tag": "fn", "launcher": True, "python": py}}}))
    return folder


def functions(b: Bench) -> list[Scenario]:
    n = 200 if b.mode.name == "quick" else 1000
    sc = Scenario("16", f"A .map of a Python function over {n} inputs",
                  f"{n} calls of one function with small arguments; moto ends each job at once and runs no container, "
                  "so each side ends by reading N result objects that do not exist",
                  count_order=("RegisterJobDefinition", "SubmitJob", "DescribeJobs", "DescribeJobDefinitions",
                               "PUT", "GET", "HEAD", "POST /"))
    sc.sides = [Side("batchdeploy functions .map (one array job)", "python bench/peers/functions.py --side batchdeploy",
                     ours=True),
                Side("covalent-awsbatch-plugin pattern (per element)", "python bench/peers/functions.py --side covalent")]
    sc.notes.append("batchdeploy: one DescribeJobDefinitions finds the function's definition (registered on the first "
                    "round's reset account, so once per side and round), one SubmitJob for the array; its PUTs are "
                    "the function's pickle, one manifest (arguments inline) and the run record; its GETs the N results.")
    sc.notes.append("covalent registers one job definition per element and never deregisters them (their #48); the "
                    "counts are its pattern re-played with boto3, not covalent itself (which also builds a Docker "
                    "image per task).")
    folder = fn_project(b)
    rounds = 1 if b.mode.name == "quick" else 2
    for r in range(rounds):
        b.log(f"  round {r + 1}/{rounds}")
        for side in rotate(sc.sides, r):
            b.reset_batch()
            which = "batchdeploy" if side.ours else "covalent"
            measure(b.runner, sc, side, [b.py, PEERS / "functions.py", "--side", which, "--n", n, "--image", IMAGE,
                                         "--queue", QUEUE, "--bucket", b.values["S3_BUCKET"]], folder)
    return [sc]
