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

import datetime
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

from bench.harness import ROOT, Sample, Scenario, Side, _children_cpu
from bench.server import LogCounter
from bench.stats import classify_registry, rotate

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


def timed(cmds: list, cwd: Path, env: dict, log: Path) -> tuple[float, float]:
    """(wall seconds, client CPU seconds of the commands' process trees) of `cmds` run in order."""
    cpu0 = _children_cpu()
    start = time.perf_counter()
    with open(log, "ab") as out:
        for cmd in cmds:
            done = subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=900)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(map(str, cmd))} exited {done.returncode} (see {log})")
    return time.perf_counter() - start, _children_cpu() - cpu0


def task_record(example: Path, env: dict) -> dict | None:
    """Task 0's last record of the last run (batchdeploy.runs), via .batchdeploy/last-run.json."""
    from batchdeploy import runs
    from batchdeploy.aws import Aws, AwsSettings

    last = json.loads((example / ".batchdeploy" / runs.LAST_RUN).read_text())
    s3 = Aws(AwsSettings(region="us-east-1", endpoint_url=env["AWS_ENDPOINT_URL"], access_key_id="testing",
                         secret_access_key="testing")).client("s3")
    records = runs.task_records(s3, BUCKET, "runs", last["run_id"]).get(0) or []
    return records[-1] if records else None


def launcher_overhead(record: dict | None) -> dict | None:
    """overhead_s of a task record, with its phases (seconds from process start)."""
    if not record:
        return None
    return {**(record.get("overhead_s") or {}), "phases": record.get("phases_s") or {},
            "bundle_bytes": (record.get("copied") or {}).get("bundle_bytes")}


class Counters:
    """Requests of one measured side, counted from the stack's own logs: its moto (the client's calls
    and the job's, S3 and Batch by name) and its registry (-b's pushes and look-ups)."""

    def __init__(self, stack_dir: Path, env: dict):
        self.aws = LogCounter(env["AWS_ENDPOINT_URL"].rstrip("/") + "/moto-api/", stack_dir / "log" / "moto.log")
        registry = env.get("AWS_REGISTRY")
        self.registry = (LogCounter(f"http://{registry}/v2/", stack_dir / "log" / "registry.log", skip_prefixes=(),
                                    classifier=classify_registry) if registry else None)

    def mark(self) -> tuple:
        return self.aws.mark(), self.registry.mark() if self.registry else None

    def since(self, marks: tuple) -> Counter:
        counts, _ = self.aws.counts_since(marks[0])
        if self.registry:
            pushed, _ = self.registry.counts_since(marks[1])
            counts.update({f"registry {k}": v for k, v in pushed.items() if k != "ping"})
        return counts


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


def measure_rounds(sc: Scenario, example: Path, env: dict, rounds: int, logs: Path, log, counters) -> list:
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
            marks = counters.mark()
            wall0 = time.time()
            try:
                seconds, cpu = timed(cmds[side.name], example, env, logs / f"10-{side.name.split()[0]}.out")
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                side.mark(f"failed: {exc}")
                continue
            wall1 = time.time()
            sample = Sample(seconds, counters.since(marks), cpu=cpu)
            side.samples.append(sample)
            record = task_record(example, env) if side.ours else None
            if side.ours:
                overheads.append(launcher_overhead(record))
            if side.name != "image way (-b, -u, -r --wait)":  # its -r is the last of three commands
                sample.extra["timeline"] = timeline(example, env, wall0, wall1, record)
    return overheads


def _epoch(iso_text: str | None) -> float | None:
    if not iso_text:
        return None
    return datetime.datetime.fromisoformat(iso_text.replace("Z", "+00:00")).timestamp()


def timeline(example: Path, env: dict, started: float, ended: float, record: dict | None) -> dict:
    """Where one `-r ... --wait` spent its seconds, from clocks on this one machine: the command's start
    and exit (the bench's), the job's createdAt and stoppedAt (the stack's Batch), and the launcher's
    own times in its task record. Segments in seconds."""
    from batchdeploy.aws import Aws, AwsSettings

    lines = (example / ".batchdeploy" / "jobs.jsonl").read_text().splitlines()
    job_id = json.loads(lines[-1])["job_id"]
    batch = Aws(AwsSettings(region="us-east-1", endpoint_url=env["AWS_ENDPOINT_URL"], access_key_id="testing",
                            secret_access_key="testing")).client("batch")
    job = batch.describe_jobs(jobs=[job_id])["jobs"][0]
    created, stopped = job["createdAt"] / 1000, (job.get("stoppedAt") or 0) / 1000 or None
    out = {"client start to SubmitJob": created - started}
    if record:
        r_start, c_start, c_end, r_end = (_epoch(record.get(k)) for k in
                                          ("started", "command_started", "command_ended", "ended"))
        if None not in (r_start, c_start, c_end, r_end):
            out.update({"SubmitJob to launcher start": r_start - created, "launcher start to command": c_start - r_start,
                        "command": c_end - c_start, "command end to task record": r_end - c_end})
            if stopped:
                out["task record to job stopped (Batch)"] = stopped - r_end
    elif stopped:
        out["SubmitJob to job stopped (Batch)"] = stopped - created
    if stopped:
        out["job stopped to client exit (--wait's look, logs, exit code)"] = ended - stopped
    return {k: round(v, 3) for k, v in out.items()}


def timeline_note(side: Side) -> str | None:
    rows = [s.extra.get("timeline") for s in side.samples if s.extra.get("timeline")]
    if not rows:
        return None
    keys = list(dict.fromkeys(k for r in rows for k in r))
    parts = [f"{k} {statistics.median([r[k] for r in rows if k in r]):.2f} s" for k in keys]
    return f"where {side.name} spends its seconds (medians of {len(rows)} runs): " + "; ".join(parts)


def big_bundle_overheads(example: Path, env: dict, runs_n: int, logs: Path) -> list:
    """The launcher's overhead with a 10 MB bundle: a file of random bytes (it does not compress) in
    the code folder, a new one per run so every run uploads and fetches a bundle S3 did not have."""
    blob = example / "experiment" / "blob.bin"
    out = []
    try:
        for _ in range(runs_n):
            blob.write_bytes(os.urandom(10 * 1000 * 1000))
            timed([[str(ROOT / "deploy.sh"), "-r", "it", *PARAMS, "--code", "--wait"]], example, env,
                  logs / "10-big-bundle.out")
            out.append(launcher_overhead(task_record(example, env)))
    finally:
        blob.unlink(missing_ok=True)
    return out


def overhead_summary(values: list) -> dict | None:
    """Medians and maxima of the launcher's overhead over task records (None: none read)."""
    got = [v for v in values if v and v.get("before_command") is not None]
    if not got:
        return None
    before = [v["before_command"] for v in got]
    after = [v["after_command"] for v in got if v.get("after_command") is not None]
    phases = {}
    for name in ("client", "manifest", "bundle", "inputs"):
        seen = [v["phases"][name] for v in got if name in (v.get("phases") or {})]
        if seen:
            phases[name] = statistics.median(seen)
    return {"n": len(got), "before": statistics.median(before), "before_max": max(before),
            "after": statistics.median(after) if after else None, "after_max": max(after) if after else None,
            "phases": phases, "bundle_bytes": statistics.median([v.get("bundle_bytes") or 0 for v in got])}


def _median_line(label: str, summary: dict | None) -> str:
    if not summary:
        return f"{label}: no task records read"
    phases = ", ".join(f"{k} {v:.2f}" for k, v in summary["phases"].items())
    after = summary["after"]
    return (f"{label} ({summary['n']} runs, bundle {summary['bundle_bytes'] / 1e6:.2f} MB): process start to "
            f"command median {summary['before']:.2f} s (max {summary['before_max']:.2f}; seconds from the "
            f"process's start to the end of each phase: {phases}), command end to the record's PUT median "
            + (f"{after:.3f} s (max {summary['after_max']:.3f})" if after is not None else "–")
            + "; target < 1 s each")


def _schedule_note() -> str:
    """--wait's look schedule as the code under test has it (a before/after run says which it measured)."""
    from batchdeploy import polling

    quick = getattr(polling, "QUICK", None)
    if quick:
        steps = ", ".join(f"{x:g}" for x in quick)
        return (f"--wait looks at a job {steps} s after each new state, then x1.5 to a 5 s cap "
                "(batchdeploy.polling.QUICK); log lines and array progress restart at 2 s.")
    return ("--wait looks at a job 2 s after each change, then x1.5 to a 5 s cap (0, 2, 5, 9.5 s ...; "
            "batchdeploy.polling.Backoff), so a job a second longer can be seen ending one look later.")


def run_scenario(work: Path, stack_dir: Path, base_env: dict, rounds: int, logs: Path, log=print) -> Scenario:
    sc = Scenario("10", "Iteration: one line of experiment code edited, then run to SUCCEEDED on the local stack",
                  "each round edits experiment/run.py; the image way rebuilds, pushes and registers first. "
                  "Requests are the stack's moto (client and job together) and registry logs",
                  count_order=("SubmitJob", "DescribeJobs", "RegisterJobDefinition", "POST /", "PUT", "GET",
                               "HEAD", "LIST", "registry push", "registry blob upload", "registry look-up"))
    sc.sides = [Side("-r --code --wait", "./deploy.sh -r it ... --code --wait", ours=True),
                Side("image way (-b, -u, -r --wait)", "./deploy.sh -b; ./deploy.sh -u; ./deploy.sh -r it ... --wait"),
                Side("plain -r --wait", "./deploy.sh -r it ... --no-code --wait")]
    logs.mkdir(parents=True, exist_ok=True)
    try:
        example, env = setup(work, stack_dir, base_env, log, logs)
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        sc.status = f"not run: {exc}"
        return sc
    overheads = measure_rounds(sc, example, env, rounds, logs, log, Counters(stack_dir, env))
    log("  10 MB bundle runs")
    big = big_bundle_overheads(example, env, max(2, rounds // 2 + 1), logs)
    code, image, plain = (s.seconds() for s in sc.sides)
    if code and image and plain:
        mc, mi, mp = statistics.median(code), statistics.median(image), statistics.median(plain)
        sc.values.update(code=mc, image=mi, plain=mp)
        sc.notes.append(f"-r --code / image way = {mc / mi:.2f} (target <= 0.25); -r --code - plain -r = "
                        f"{mc - mp:+.2f} s (target <= 1 s); medians {mc:.2f} s, {mi:.2f} s, {mp:.2f} s")
    sc.values["overhead"] = overhead_summary(overheads)
    sc.values["overhead_10mb"] = overhead_summary(big)
    sc.notes.append(_schedule_note())
    sc.notes += [n for n in (timeline_note(sc.sides[0]), timeline_note(sc.sides[2])) if n]
    sc.notes.append(_median_line("launcher overhead, quickstart bundle", sc.values["overhead"]))
    sc.notes.append(_median_line("launcher overhead, 10 MB bundle", sc.values["overhead_10mb"]))
    return sc


def iteration(b) -> list[Scenario]:
    """bench/run.py's group 10."""
    rounds = b.mode.b_rounds  # 5 in full mode, 2 in quick mode; --rounds sets it
    # Registered before the stack starts, so an interrupt or a failure during the scenario takes it down too.
    b.extra_cleanup.append(lambda: subprocess.run(
        [str(ROOT / "scripts" / "local-stack.sh"), "down"], env={**b.env, "BATCHDEPLOY_LOCAL_DIR": str(b.work / "stack")},
        capture_output=True, timeout=300, check=False))
    return [run_scenario(b.work, b.work / "stack", b.env, rounds, b.work / "logs", b.log)]


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="bench.iteration", description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--work", default=str(ROOT / "bench" / "work"))
    args = p.parse_args(argv)
    work = Path(args.work)
    try:
        sc = run_scenario(work, work / "stack", dict(os.environ), args.rounds, work / "logs")
    finally:  # the stack this run started, whatever happened
        subprocess.run([str(ROOT / "scripts" / "local-stack.sh"), "down"],
                       env={**os.environ, "BATCHDEPLOY_LOCAL_DIR": str(work / "stack")}, capture_output=True,
                       timeout=300, check=False)
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
