"""Scenarios 11 and 12 (issue #16): a 10,000-task sweep submitted, and watched, against what a user would
do without batchdeploy's arrays.

11. Submitting: `./deploy.sh -r sweep --tasks FILE` (one array job through the launcher's manifest: one
    SubmitJob per 10,000 tasks, the manifest's and the run record's PUTs) against a loop of one SubmitJob
    per task from one Python process, as dsub-like tools submit (bench/peers/submit_per_set.py),
    measured on a sample and scaled linearly (each task is one independent call).
12. Watching: batchdeploy's SweepWatcher on the array (one DescribeJobs of the parent per poll while
    nothing fails; bench/peers/watch_sweep.py) against describing the 10,000 children 100 ids a call
    (bench/peers/describe_children.py: 100 DescribeJobs per poll).

moto runs with `{"batch": {"use_docker": false}}` (Bench.reset_batch): its simple backend marks each
array child SUCCEEDED inside SubmitJob, in the server's request thread, and starts no thread per child
(the Docker backend starts one thread per child, which a 10,000-child array would drown a 2-core machine
in). That marking is part of moto's answer to the one SubmitJob and so of batchdeploy's measured time.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from bench.harness import PEERS, Scenario, Side, measure
from bench.stats import rotate

SWEEP_JD = "bench-sweep"
SWEEP_DEFINITION = {
    "jobDefinitionName": SWEEP_JD,
    "type": "container",
    "parameters": {"seed": "1", "learning_rate": "0.1"},
    "containerProperties": {
        "image": "busybox",
        "command": ["python3", "train.py", "--seed", "Ref::seed", "--lr", "Ref::learning_rate"],
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
        # the image has the launcher (what -b records for a Dockerfile with the launcher line)
        "environment": [{"name": "BATCHDEPLOY_LAUNCHER", "value": "/usr/local/bin/batchdeploy-launch"}],
    },
}


def tasks_file_text(n: int) -> str:
    """A dsub tasks file of `n` tasks: two parameters, every row different."""
    rows = ["--param seed\t--param learning_rate"]
    rows += [f"{i}\t{0.001 * (1 + i % 100):.3f}" for i in range(1, n + 1)]
    return "\n".join(rows) + "\n"


def child_ids(parent: str, size: int) -> list[str]:
    """An array job's children as AWS names them: PARENT:0 ... PARENT:size-1."""
    return [f"{parent}:{i}" for i in range(size)]


def per_poll(info: dict) -> float | None:
    """DescribeJobs per poll from a watcher's JSON line ({"rounds": polls, "describe_calls": calls})."""
    polls, calls = info.get("rounds"), info.get("describe_calls")
    if not polls or calls is None:
        return None
    return calls / polls


def first_json(text: str) -> dict:
    """The first JSON object in a command's output, on one line or pretty-printed over several."""
    start = text.find("{")
    return json.JSONDecoder().raw_decode(text[start:])[0] if start >= 0 else {}


def _setup(b) -> None:
    b.reset_batch()
    b.batch.register_job_definition(**SWEEP_DEFINITION)


def _sweep_cmd(b, tasks: Path, *more) -> list[str]:
    return b.deploy("-r", "sweep", "--tasks", tasks, "--job-definition", SWEEP_JD, "--no-credentials", *more)


def sweep_submit(b) -> list[Scenario]:
    m = b.mode
    n, sample = m.sweep_n, m.sweep_loop_n
    tasks = b.work / "sweep-tasks.tsv"
    tasks.write_text(tasks_file_text(n))
    sc = Scenario("11", f"Submitting a {n:,}-task sweep",
                  "a reset moto account per side and round, with the queue, a job definition whose image has the "
                  "launcher, and the project's bucket; moto's simple Batch marks every child SUCCEEDED inside "
                  "SubmitJob and starts no thread for it", count_order=("SubmitJob", "PUT", "GET", "HEAD", "LIST"))
    ours = Side("batchdeploy, one array job", f"./deploy.sh -r sweep --tasks TASKS.tsv ({n:,} rows)", ours=True, n=n)
    loop = Side("one SubmitJob per task (dsub-like)", f"python bench/peers/submit_per_set.py --n {sample}",
                n=sample, scale_to=n if sample != n else None)
    sc.sides = [ours, loop]
    if loop.scale_to:
        sc.notes.append(f"{loop.name}: measured on {sample:,} tasks and scaled linearly to {n:,} (each task is one "
                        "independent SubmitJob from the same process, so time grows with the count); its "
                        f"requests are shown for the {sample:,} measured.")
    cmds = {
        ours.name: _sweep_cmd(b, tasks),
        loop.name: [b.py, PEERS / "submit_per_set.py", "--n", sample, "--queue", "bench-queue",
                    "--job-definition", SWEEP_JD],
    }
    for r in range(m.sweep_rounds):
        b.log(f"  round {r + 1}/{m.sweep_rounds}")
        for side in rotate(sc.sides, r):
            _setup(b)
            measure(b.runner, sc, side, cmds[side.name], b.project)
    return [sc]


def sweep_watch(b) -> list[Scenario]:
    m = b.mode
    n = m.sweep_n
    tasks = b.work / "sweep-tasks.tsv"
    tasks.write_text(tasks_file_text(n))
    sc = Scenario("12", f"Watching a {n:,}-task sweep",
                  f"the {n:,}-task sweep submitted first by batchdeploy (not measured); moto's simple Batch has "
                  "ended every child by then, so one poll sees it done and nothing failed; what is measured is "
                  "the requests one poll costs", count_order=("DescribeJobs", "ListJobs"))
    ours = Side("batchdeploy SweepWatcher", "python bench/peers/watch_sweep.py PARENT SIZE "
                "(batchdeploy.sweeps.watch.SweepWatcher.run)", ours=True)
    few = min(m.sweep_watch_sample, n)
    peer = Side("describe the children, 100 ids a call", "python bench/peers/describe_children.py CHILD_IDS "
                "(DescribeJobs of PARENT:0 ... PARENT:N-1, 100 a call)", n=few, scale_to=n if few != n else None)
    sc.sides = [ours, peer]
    if peer.scale_to:
        sc.notes.append(f"{peer.name}: measured over the first {few:,} children ({few // 100} DescribeJobs) and "
                        f"scaled linearly to {n:,}: moto answers a DescribeJobs of 100 children of a {n:,}-child "
                        "array in about 2.5 s of its own CPU, so the whole poll would take minutes a round here. "
                        f"Its requests are shown for the {few:,} measured; its per-poll count is scaled.")
    ids_file = b.work / "sweep-children.txt"
    for r in range(m.sweep_rounds):
        b.log(f"  round {r + 1}/{m.sweep_rounds}")
        _setup(b)
        done = subprocess.run(_sweep_cmd(b, tasks, "--output", "json"), env=b.env, cwd=b.project,
                              capture_output=True, text=True, check=True)
        parent = first_json(done.stdout)["job_ids"][0]
        ids_file.write_text("".join(f"{i}\n" for i in child_ids(parent, n)[:few]))
        cmds = {ours.name: [b.py, PEERS / "watch_sweep.py", parent, n],
                peer.name: [b.py, PEERS / "describe_children.py", ids_file]}
        for side in rotate(sc.sides, r):
            sample = measure(b.runner, sc, side, cmds[side.name], b.project)
            if sample is None:
                continue
            info = first_json(Path(sample.extra["stdout_file"]).read_text(errors="replace"))
            polls = max(1, int(info.get("rounds") or 1))
            calls = sample.counts.get("DescribeJobs", 0) * (side.scale_to / side.n if side.scale_to else 1)
            sample.extra.update(polls=polls, per_poll=calls / polls, ended=info.get("ended"))
    return [sc]
