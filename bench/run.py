"""The benchmark's entry point: `make bench` (full) and `make bench-quick` (scaled down, under two minutes).

    .venv/bin/python bench/run.py [--quick] [--only 1,5,6,7,8,9] [--rounds N] [--out bench/RESULTS.md]

Starts its own moto server on a free loopback port, runs each scenario against batchdeploy and its
peers in alternation, and writes RESULTS.md. Method: bench/README.md. Exit 0 when every command ran
(a verb not implemented yet is reported, not a failure), 1 when a command failed, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import compileall
import dataclasses
import datetime
import os
import shutil
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402
from bench.bags import bags  # noqa: E402
from bench.functions import functions  # noqa: E402
from bench.harness import Runner, clean_environment, machine, versions  # noqa: E402
from bench.iteration import iteration  # noqa: E402
from bench.pipeline_latency import pipeline_latency  # noqa: E402
from bench.pipelines import pipelines  # noqa: E402
from bench.scenarios import (  # noqa: E402
    FULL,
    QUICK,
    Bench,
    fan_out,
    images,
    large_files,
    small_files,
    startup,
    update_jobs,
    watching,
)
from bench.server import MotoServer  # noqa: E402
from bench.sweeps import sweep_submit, sweep_watch  # noqa: E402

# --only word -> (group label, function); scenarios 1-4 are one chain (2-4 need 1's upload).
GROUPS = {
    "1": ("1-4 small files", small_files),
    "5": ("5 large files", large_files),
    "6": ("6 fan-out", fan_out),
    "7": ("7 watching", watching),
    "8u": ("8 no-change -u", update_jobs),
    "8b": ("8 no-change -b", images),
    "9": ("9 start-up", startup),
    "10": ("10 iteration (-r --code)", iteration),
    "11": ("11 sweep submit", sweep_submit),
    "12": ("12 sweep watch", sweep_watch),
    "13": ("13 bag of tasks (pegasus-aws-batch)", bags),
    "14": ("14 pipeline of 100 steps", pipelines),
    "15": ("15 pipeline start latency (local stack)", pipeline_latency),
    "16": ("16 functions .map (covalent)", functions),
}
ALIASES = {"2": "1", "3": "1", "4": "1", "8": ("8u", "8b")}


def parse_only(text: str | None) -> list[str]:
    if not text:
        return list(GROUPS)
    chosen: list[str] = []
    for word in text.replace(" ", "").split(","):
        keys = ALIASES.get(word, word)
        for key in (keys,) if isinstance(keys, str) else keys:
            if key not in GROUPS:
                raise SystemExit(f"bench: unknown scenario {word!r} (choose from 1-16)")
            if key not in chosen:
                chosen.append(key)
    return [k for k in GROUPS if k in chosen]


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    if not found:
        raise SystemExit(f"bench: `{name}` not found; run `make setup` (it installs the dev tools into .venv)")
    return found


def write_project(project: Path, endpoint: str) -> dict[str, str]:
    values = {
        "PROJECT_NAME": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_JOB_QUEUE": "bench-queue",
        "S3_BUCKET": "bench-default",
        "AWS_REGISTRY": "127.0.0.1:5000",
        "VERSION": "1.0.0",
        "JOB_DEFINITIONS": "job-definition.json",
        "IMAGES": "bench=image",
    }
    project.mkdir(parents=True, exist_ok=True)
    (project / ".aws_env").write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return values


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="bench/run.py", description="batchdeploy side by side with its peers")
    p.add_argument("--quick", action="store_true", help="scaled-down work and fewer rounds (under two minutes)")
    p.add_argument("--only", metavar="LIST", help="scenarios to run, e.g. 1,6,9 (1-4 run together; 8 is -u and -b)")
    p.add_argument("--rounds", type=int, metavar="N", help="rounds for every scenario (default: by mode)")
    p.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"), help="where to write the results")
    p.add_argument("--note", action="append", default=[], help="a line for RESULTS.md's notes (repeatable)")
    p.add_argument("--keep-work", action="store_true", help="leave bench/work/ (logs are kept either way)")
    args = p.parse_args(argv)
    mode = QUICK if args.quick else FULL
    if args.rounds:
        if args.rounds < 1:
            p.error("--rounds must be at least 1")
        mode = dataclasses.replace(mode, sync_rounds=args.rounds, big_rounds=args.rounds, fanout_rounds=args.rounds,
                                   watch_rounds=args.rounds, u_rounds=args.rounds, b_rounds=args.rounds,
                                   sweep_rounds=args.rounds)
    chosen = parse_only(args.only)
    py = sys.executable
    aws_cli, s5cmd = tool("aws"), tool("s5cmd")

    work = ROOT / "bench" / "work"
    _clear_work(work)
    work.mkdir(parents=True)
    # Bytecode for batchdeploy, as an installed tool has (pip compiles at install; the peers' .pyc are
    # in site-packages). Without it, a caller's PYTHONDONTWRITEBYTECODE=1 has every batchdeploy run
    # compile its own modules from source: ~30-50 ms of CPU per command, measured on a no-change sync.
    compileall.compile_dir(str(ROOT / "batchdeploy"), quiet=1)
    started = datetime.datetime.now().astimezone()
    t0 = time.perf_counter()
    the_machine = machine()
    the_versions = versions()
    print(f"bench: {mode.name} mode, scenarios {', '.join(GROUPS[k][0] for k in chosen)}", flush=True)

    moto = MotoServer(work, py)
    env = clean_environment(moto.url)
    for key in [k for k in os.environ if k.startswith(("AWS_", "BATCHDEPLOY_"))]:
        del os.environ[key]
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    project = work / "project"
    project_values = write_project(project, moto.url)

    from batchdeploy.aws import Aws, AwsSettings

    runner = Runner(env, work / "logs", {"aws": moto.counter})
    bench = Bench(mode=mode, work=work, moto=moto, runner=runner, env=env, project=project,
                  aws=Aws(AwsSettings(region="us-east-1", endpoint_url=moto.url)), py=py, aws_cli=aws_cli,
                  s5cmd=s5cmd, values=project_values, log=lambda line: print(line, flush=True))
    scenarios = []
    harness_errors = []
    try:
        for key in chosen:
            label, func = GROUPS[key]
            print(f"bench: scenario {label}", flush=True)
            g0 = time.perf_counter()
            try:
                result = func(bench)
            except Exception as exc:  # noqa: BLE001 - one broken scenario must not cost the others
                (work / "logs").mkdir(exist_ok=True)
                (work / "logs" / f"harness-{key}.txt").write_text(traceback.format_exc())
                harness_errors.append(f"scenario {label}: {type(exc).__name__}: {exc}")
                print(f"bench: scenario {label} broke: {exc} (traceback in bench/work/logs/)", flush=True)
                continue
            scenarios += result
            print(f"bench:   done in {time.perf_counter() - g0:.1f} s", flush=True)
    finally:
        for cleanup in reversed(bench.extra_cleanup):
            try:
                cleanup()
            except Exception as exc:  # noqa: BLE001 - best effort
                print(f"bench: clean-up failed: {exc}", flush=True)
        moto.stop()

    seconds = time.perf_counter() - t0
    by_key = {sc.key: sc for sc in scenarios}
    target_list = report.targets(by_key, mode.files, mode.fanout_n, mode.watch_n)
    if args.only:  # a partial run lists the targets of its own scenarios only
        target_list = [t for t in target_list if t.why != "scenario not selected"]
    notes = list(args.note)
    notes += [f"the harness broke in {e}; see bench/work/logs/" for e in harness_errors]
    text = report.render(
        mode_name=mode.name, quick=args.quick, started=started.strftime("%Y-%m-%d %H:%M %Z"), seconds=seconds,
        machine=the_machine, versions=the_versions, scenarios=scenarios, target_list=target_list, notes=notes,
        command="make bench-quick" if args.quick else "make bench",
    )
    Path(args.out).write_text(text)
    if not args.keep_work:
        for child in work.iterdir():
            if child.name not in ("logs", "moto.log"):
                shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink()
    for t in target_list:
        print(f"  {t.verdict:<8} {t.key:<3} {t.text}: {t.measured} (limit {t.limit})"
              + (f" - {t.why}" if t.verdict != "PASS" and t.why else ""))
    print(f"bench: wrote {args.out} in {seconds:.0f} s", flush=True)
    failed = harness_errors or [s for sc in scenarios for s in sc.sides if s.status.startswith("failed")]
    return 1 if failed else 0


def _clear_work(work: Path) -> None:
    """A previous run that was killed may have left its local stack up: take it down before clearing."""
    stack = work / "stack"
    if (stack / "run").is_dir():
        import subprocess

        subprocess.run([str(ROOT / "scripts" / "local-stack.sh"), "down"],
                       env={**os.environ, "BATCHDEPLOY_LOCAL_DIR": str(stack)}, capture_output=True, timeout=300,
                       check=False)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
