"""Scenario 15 (issue #18): how soon a step starts once its dependencies finished, on the local stack
(jobs really run in containers), batchdeploy's dependsOn submission against a driver loop.

The pipeline (bench/peers/pipeline.py --shape small): three roots, a join after all three (a fan-in of
3), then a chain of three after the join; every step a real container (`sh -c 'echo; sleep 1'` on the
stack's base image). For each of the four steps that wait on others (join, c1, c2, c3) the latency is
its `startedAt` minus the latest `stoppedAt` of its dependencies, both from DescribeJobs (the stack's
Batch). A round's sample is the median of its four latencies.

- **batchdeploy**: `pipeline run` (the executor behind it) submits the seven steps at once with
  dependsOn and returns; Batch starts each when its dependencies succeeded. The requests counted are
  the submit's; the bench then waits (uncounted) for every job to end before reading the times.
- **driver loop**: submits each step (no dependsOn) once DescribeJobs says every dependency
  SUCCEEDED, polling every POLL_S; the requests counted are the whole run's (it lives to the end).

The local stack's moto is patched (batchdeploy/local/moto_server.py) to re-check a job's
dependencies about once a second, so batchdeploy's number here has that second in it; AWS Batch's
own scheduler decides there (its figure is not published), and the driver's is its poll interval plus
a SubmitJob plus the queue's way from SUBMITTED to RUNNING, which both sides pay on the stack.

    .venv/bin/python bench/run.py --only 15 --out bench/RESULTS-pipelines.md
"""

from __future__ import annotations

import datetime
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import PEERS, ROOT, Sample, Scenario, Side
from bench.iteration import Counters, stack_env
from bench.stats import rotate

POLL_S = 1.0  # the driver's DescribeJobs interval: a driver polling faster pays in requests
DEPENDENT = {"join": ("r1", "r2", "r3"), "c1": ("join",), "c2": ("c1",), "c3": ("c2",)}


def _epoch_ms(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() * 1000


def latencies(jobs: dict[str, dict]) -> dict[str, float]:
    """Seconds from the last dependency's stoppedAt to each dependent step's startedAt."""
    out = {}
    for step, deps in DEPENDENT.items():
        started = _epoch_ms(jobs[step].get("startedAt"))
        stops = [_epoch_ms(jobs[d].get("stoppedAt")) for d in deps]
        if started is not None and all(s is not None for s in stops):
            out[step] = (started - max(stops)) / 1000
    return out


def setup(work: Path, stack_dir: Path, base_env: dict) -> tuple[Path, dict, str, str]:
    script = str(ROOT / "scripts" / "local-stack.sh")
    up = subprocess.run([script, "up"], env={**base_env, "BATCHDEPLOY_LOCAL_DIR": str(stack_dir)},
                        capture_output=True, text=True, timeout=900, check=False)
    if up.returncode != 0:
        raise RuntimeError((up.stderr.strip().splitlines() or ["local stack did not start"])[-1])
    env = stack_env(stack_dir, base_env)
    from batchdeploy.aws import Aws, AwsSettings

    aws = Aws(AwsSettings(region="us-east-1", endpoint_url=env["AWS_ENDPOINT_URL"], access_key_id="testing",
                          secret_access_key="testing"))
    batch = aws.client("batch")
    stamp = time.strftime("%H%M%S")
    role = aws.client("iam").create_role(RoleName=f"bench15-{stamp}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    ce = batch.create_compute_environment(computeEnvironmentName=f"bench15-ce-{stamp}", type="UNMANAGED",
                                          state="ENABLED", serviceRole=role)["computeEnvironmentArn"]
    queue = f"bench15-q-{stamp}"
    batch.create_job_queue(jobQueueName=queue, state="ENABLED", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])
    jd = f"bench15-{stamp}"
    batch.register_job_definition(
        jobDefinitionName=jd, type="container", parameters={"set": "x"},
        containerProperties={"image": env["BATCHDEPLOY_BASE_IMAGE"], "vcpus": 1, "memory": 128,
                             "command": ["sh", "-c", "echo step $0; sleep 1", "Ref::set"]})
    bucket = f"bench15-{stamp}"
    aws.client("s3").create_bucket(Bucket=bucket)
    project = work / "pipeline-latency"
    project.mkdir(parents=True, exist_ok=True)
    (project / ".aws_env").write_text(f"PROJECT_NAME=bench\nAWS_JOB_QUEUE={queue}\nS3_BUCKET={bucket}\n")
    return project, env, queue, jd


def wait_all(batch, ids: list[str], timeout_s: float = 600) -> dict[str, dict]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = {j["jobId"]: j for j in batch.describe_jobs(jobs=ids)["jobs"]}
        if all(found.get(i, {}).get("status") in ("SUCCEEDED", "FAILED") for i in ids):
            return found
        if time.monotonic() > deadline:
            raise RuntimeError("the pipeline's jobs did not end in 10 minutes")
        time.sleep(0.5)


def run_scenario(work: Path, stack_dir: Path, base_env: dict, rounds: int, logs: Path, log=print) -> Scenario:
    sc = Scenario("15", "A step's start after its dependencies finished, on the local stack",
                  "three roots, a join of them, a chain of three after it (7 real containers); the time is, per "
                  "step that waits (join, c1, c2, c3), its startedAt minus its dependencies' latest stoppedAt "
                  "(DescribeJobs), a round's sample the median of the four; requests from the stack's moto log",
                  count_order=("SubmitJob", "DescribeJobs", "PUT", "POST /"))
    sc.sides = [Side("batchdeploy pipeline run (dependsOn)", "python bench/peers/pipeline.py --side batchdeploy "
                     "--shape small", ours=True),
                Side(f"driver loop (DescribeJobs every {POLL_S:g} s, submit when SUCCEEDED)",
                     f"python bench/peers/pipeline.py --side driver --shape small --poll-s {POLL_S:g}")]
    logs.mkdir(parents=True, exist_ok=True)
    try:
        project, env, queue, jd = setup(work, stack_dir, base_env)
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        sc.status = f"not run: {exc}"
        return sc
    from batchdeploy.aws import Aws, AwsSettings

    batch = Aws(AwsSettings(region="us-east-1", endpoint_url=env["AWS_ENDPOINT_URL"], access_key_id="testing",
                            secret_access_key="testing")).client("batch")
    counters = Counters(stack_dir, {k: v for k, v in env.items() if k != "AWS_REGISTRY"})
    every: dict[str, list[float]] = {s.name: [] for s in sc.sides}
    spans: dict[str, list[float]] = {s.name: [] for s in sc.sides}  # first createdAt to last stoppedAt
    walls: dict[str, list[float]] = {s.name: [] for s in sc.sides}
    for r in range(rounds):
        log(f"  round {r + 1}/{rounds}")
        for side in rotate(sc.sides, r):
            if not side.ok:
                continue
            which = "batchdeploy" if side.ours else "driver"
            cmd = [sys.executable, str(PEERS / "pipeline.py"), "--side", which, "--shape", "small", "--queue", queue,
                   "--job-definition", jd, "--poll-s", str(POLL_S)]
            marks = counters.mark()
            t0 = time.perf_counter()
            done = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=900, check=False)
            seconds = time.perf_counter() - t0
            counts = counters.since(marks)
            (logs / f"15-{which}-{r + 1}.out").write_text(done.stdout + done.stderr)
            if done.returncode != 0:
                side.mark(f"failed: exit {done.returncode} (bench/work/logs/15-{which}-{r + 1}.out)")
                continue
            ids = json.loads(done.stdout.strip().splitlines()[-1])["ids"]
            jobs = wait_all(batch, list(ids.values()))
            walls[side.name].append(seconds)
            by_step = {step: jobs[i] for step, i in ids.items()}
            if any(j["status"] != "SUCCEEDED" for j in by_step.values()):
                side.mark("failed: a step did not succeed")
                continue
            got = latencies(by_step)
            spans[side.name].append((max(_epoch_ms(j["stoppedAt"]) for j in by_step.values())
                                     - min(_epoch_ms(j["createdAt"]) for j in by_step.values())) / 1000)
            every[side.name] += list(got.values())
            side.samples.append(Sample(statistics.median(got.values()), counts, extra={"latencies": got}))
    ours, peer = sc.sides
    if every[ours.name] and every[peer.name]:
        mo, mp = statistics.median(every[ours.name]), statistics.median(every[peer.name])
        sc.values.update(ours=mo, peer=mp)
        sc.notes.append(f"every dependent step's start latency, all rounds: batchdeploy median {mo:.2f} s "
                        f"(min {min(every[ours.name]):.2f}, max {max(every[ours.name]):.2f}, n={len(every[ours.name])}), "
                        f"driver median {mp:.2f} s (min {min(every[peer.name]):.2f}, max {max(every[peer.name]):.2f}); "
                        f"ratio {mo / mp:.2f}")
    if spans[ours.name] and spans[peer.name]:
        sc.notes.append(f"the whole pipeline, first createdAt to last stoppedAt (median): batchdeploy "
                        f"{statistics.median(spans[ours.name]):.1f} s, driver {statistics.median(spans[peer.name]):.1f} s")
    for side in sc.sides:
        if walls[side.name]:
            sc.notes.append(f"{side.name}: the command itself ran {statistics.median(walls[side.name]):.1f} s (median): "
                            + ("it returns once the 7 steps are submitted" if side.ours
                               else "it must live until the last step ended"))
    sc.notes.append("The stack's moto is patched (batchdeploy/local/moto_server.py) to re-check a waiting job's "
                    "dependencies about once a second, so up to ~1 s of batchdeploy's latency is that period; on AWS "
                    "Batch the scheduler decides (not published); the driver's is its poll interval, a SubmitJob and "
                    "the queue's way from SUBMITTED to RUNNING, which a dependsOn job on the stack also walks.")
    sc.notes.append("Requests from inside the jobs: 0 on both sides (no job submits or reads anything).")
    return sc


def pipeline_latency(b) -> list[Scenario]:
    """bench/run.py's group 15."""
    rounds = 1 if b.mode.name == "quick" else 3
    b.extra_cleanup.append(lambda: subprocess.run(
        [str(ROOT / "scripts" / "local-stack.sh"), "down"], env={**b.env, "BATCHDEPLOY_LOCAL_DIR": str(b.work / "stack")},
        capture_output=True, timeout=300, check=False))
    return [run_scenario(b.work, b.work / "stack", b.env, rounds, b.work / "logs", b.log)]
