"""Scenario 10: iteration time on the local AWS Batch (jobs really run in containers), and the launcher's
own overhead inside the container, read from its task records.

Set-up (not timed): the local stack (its own moto with containers, registry, engine; the same state
folder as scenario 8b), a copy of examples/quickstart, and `scripts/demo.sh` on it (--create, -b, -u,
--sync-to-s3, a first -r --code --wait). Then each round edits one line of the experiment code
(experiment/run.py) and runs, in an order rotated from round to round:

- **image way**: `-b`, `-u`, `-r --no-code --wait` (rebuild and push, register, run to SUCCEEDED);
- **plain -r**: `-r --no-code --wait` of the same job on the image as it is (no edit reaches it);
- **-r --code**: `-r --code --wait` (the edit goes as a code bundle; no -b, no -u).

Targets (issue #15): -r --code at most a quarter of the image way, and within 1 s of plain -r. The
launcher's overhead (process start to the command, command end to exit, `overhead_s` in the task
record) is read from every --code run, and from runs with a 10 MB bundle (a random file in the code
folder) after the rounds: target under 1 s each.

    .venv/bin/python -m bench.iteration [--rounds N]     # alone, printing the numbers
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from bench.harness import ROOT, Sample, Scenario, Side
from bench.stats import rotate

BUCKET = "quickstart-local-bucket"
PARAMS = [f"experiment_file=s3://{BUCKET}/experiments/linear.yaml", f"output_path=s3://{BUCKET}/results/bench"]
EDIT_MARK = "import argparse\n"


def stack_env(stack_dir: Path, base: dict) -> dict:
    """The environment a user of the stack has: its export lines over `base`, no bench endpoint."""
    env = {k: v for k, v in base.items() if not k.startswith(("AWS_", "BATCHDEPLOY_", "S3_"))}
    env.update(BATCHDEPLOY_LOCAL_DIR=str(stack_dir), PYTHONPATH=str(ROOT), AWS_EC2_METADATA_DISABLED="true")
    shown = subprocess.run([sys.executable, "-m", "batchdeploy.local", "env"], env=env, capture_output=True,
                           text=True, timeout=120, check=True).stdout
    for line in shown.splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line[len("export "):].partition("=")
            words = shlex.split(value)
            env[key] = words[0] if words else ""
    return env


def edit(example: Path, n: int) -> None:
    """One line of the experiment code changed, as a user edits it (a new line each time)."""
    run_py = example / "experiment" / "run.py"
    lines = [ln for ln in run_py.read_text().splitlines(keepends=True) if not ln.startswith("ITERATION = ")]
    text = "".join(lines).replace(EDIT_MARK, f"{EDIT_MARK}ITERATION = {n}\n", 1)
    run_py.write_text(text)


def timed(cmds: list, cwd: Path, env: dict, log: Path) -> float:
    start = time.perf_counter()
    with open(log, "ab") as out:
        for cmd in cmds:
            done = subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=900)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(map(str, cmd))} exited {done.returncode} (see {log})")
    return time.perf_counter() - start


def launcher_overhead(example: Path, env: dict) -> dict | None:
    """overhead_s of the last run's task record (batchdeploy.runs), via .batchdeploy/last-run.json."""
    from batchdeploy import runs
    from batchdeploy.aws import Aws, AwsSettings

    last = json.loads((example / ".batchdeploy" / runs.LAST_RUN).read_text())
    s3 = Aws(AwsSettings(region="us-east-1", endpoint_url=env["AWS_ENDPOINT_URL"], access_key_id="testing",
                         secret_access_key="testing")).client("s3")
    records = runs.task_records(s3, BUCKET, "runs", last["run_id"]).get(0) or []
    return records[-1].get("overhead_s") if records else None


def setup(work: Path, stack_dir: Path, base_env: dict, log, logs: Path) -> tuple[Path, dict]:
    script = str(ROOT / "scripts" / "local-stack.sh")
    up = subprocess.run([script, "up"], env={**base_env, "BATCHDEPLOY_LOCAL_DIR": str(stack_dir)},
                        capture_output=True, text=True, timeout=900, check=False)
    if up.returncode != 0:
        raise RuntimeError((up.stderr.strip().splitlines() or ["local stack did not start"])[-1])
    example = work / "iteration" / "quick start"
    shutil.rmtree(example.parent, ignore_errors=True)
    shutil.copytree(ROOT / "examples" / "quickstart", example,
                    ignore=shutil.ignore_patterns(".batchdeploy", "results", "__pycache__", "batchdeploy-launch"))
    env = stack_env(stack_dir, base_env)
    log("  set-up: scripts/demo.sh on a copy of the quickstart")
    demo_log = logs / "10-setup-demo.out"
    with open(demo_log, "wb") as out:
        demo = subprocess.run([str(ROOT / "scripts" / "demo.sh")], env={**env, "BATCHDEPLOY_EXAMPLE": str(example)},
                              stdout=out, stderr=subprocess.STDOUT, timeout=1500, check=False)
    if demo.returncode != 0:
        raise RuntimeError(f"scripts/demo.sh exited {demo.returncode} (its output: {demo_log})")
    return example, env


def measure_rounds(sc: Scenario, example: Path, env: dict, rounds: int, logs: Path, log) -> list:
    deploy = str(ROOT / "deploy.sh")
    cmds = {
        "image way (-b, -u, -r --wait)": [[deploy, "-b"], [deploy, "-u"], [deploy, "-r", "it", *PARAMS, "--no-code", "--wait"]],
        "plain -r --wait": [[deploy, "-r", "it", *PARAMS, "--no-code", "--wait"]],
        "-r --code --wait": [[deploy, "-r", "it", *PARAMS, "--code", "--wait"]],
    }
    overheads = []
    for r in range(rounds):
        log(f"  round {r + 1}/{rounds}")
        edit(example, r + 1)
        for side in rotate(sc.sides, r):
            if not side.ok:
                continue
            try:
                seconds = timed(cmds[side.name], example, env, logs / f"10-{side.name.split()[0]}.out")
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                side.mark(f"failed: {exc}")
                continue
            side.samples.append(Sample(seconds, Counter()))
            if side.ours:
                overheads.append(launcher_overhead(example, env))
    return overheads


def big_bundle_overheads(example: Path, env: dict, runs_n: int, logs: Path) -> list:
    (example / "experiment" / "blob.bin").write_bytes(os.urandom(10 * 1024 * 1024))
    out = []
    try:
        for _ in range(runs_n):
            timed([[str(ROOT / "deploy.sh"), "-r", "it", *PARAMS, "--code", "--wait"]], example, env,
                  logs / "10-big-bundle.out")
            out.append(launcher_overhead(example, env))
    finally:
        (example / "experiment" / "blob.bin").unlink()
    return out


def _median_line(label: str, values: list) -> str:
    before = [v["before_command"] for v in values if v and v.get("before_command") is not None]
    after = [v["after_command"] for v in values if v and v.get("after_command") is not None]
    if not before:
        return f"{label}: no task records read"
    return (f"{label}: start to command median {statistics.median(before):.2f} s (max {max(before):.2f}), "
            f"command end to exit median {statistics.median(after):.2f} s (max {max(after):.2f}); target < 1 s each")


def run_scenario(work: Path, stack_dir: Path, base_env: dict, rounds: int, logs: Path, log=print) -> Scenario:
    sc = Scenario("10", "Iteration: one line of experiment code edited, then run to SUCCEEDED on the local stack",
                  "each round edits experiment/run.py; the image way rebuilds, pushes and registers first")
    sc.sides = [Side("-r --code --wait", "./deploy.sh -r it ... --code --wait", ours=True),
                Side("image way (-b, -u, -r --wait)", "./deploy.sh -b; ./deploy.sh -u; ./deploy.sh -r it ... --wait"),
                Side("plain -r --wait", "./deploy.sh -r it ... --no-code --wait")]
    logs.mkdir(parents=True, exist_ok=True)
    try:
        example, env = setup(work, stack_dir, base_env, log, logs)
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        sc.status = f"not run: {exc}"
        return sc
    overheads = measure_rounds(sc, example, env, rounds, logs, log)
    big = big_bundle_overheads(example, env, max(1, rounds // 2), logs)
    code, image, plain = (s.seconds() for s in sc.sides)
    if code and image and plain:
        mc, mi, mp = statistics.median(code), statistics.median(image), statistics.median(plain)
        sc.notes.append(f"-r --code / image way = {mc / mi:.2f} (target <= 0.25); -r --code - plain -r = "
                        f"{mc - mp:+.2f} s (target <= 1 s); medians {mc:.1f} s, {mi:.1f} s, {mp:.1f} s")
    sc.notes.append("--wait looks at the job at 0, 2, 5, 9.5 s ... (batchdeploy.polling.Backoff: 2 s, x1.5, cap 5 s), "
                    "so a job a second longer (the launcher's start) can be seen ending one look later.")
    sc.notes.append(_median_line("launcher overhead, quickstart bundle", overheads))
    sc.notes.append(_median_line("launcher overhead, 10 MB bundle", big))
    return sc


def iteration(b) -> list[Scenario]:
    """bench/run.py's group 10."""
    rounds = 2 if b.mode.name == "quick" else 5
    sc = run_scenario(b.work, b.work / "stack", b.env, rounds, b.work / "logs", b.log)
    b.extra_cleanup.append(lambda: subprocess.run(
        [str(ROOT / "scripts" / "local-stack.sh"), "down"], env={**b.env, "BATCHDEPLOY_LOCAL_DIR": str(b.work / "stack")},
        capture_output=True, timeout=300, check=False))
    return [sc]


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="bench.iteration", description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--work", default=str(ROOT / "bench" / "work"))
    args = p.parse_args(argv)
    work = Path(args.work)
    sc = run_scenario(work, work / "stack", dict(os.environ), args.rounds, work / "logs")
    print(sc.title)
    if sc.status != "ok":
        print(sc.status)
        return 1
    for side in sc.sides:
        secs = ", ".join(f"{s:.1f}" for s in side.seconds())
        print(f"  {side.name:<32} {side.status:<6} seconds: {secs}")
    for note in sc.notes:
        print(f"  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
