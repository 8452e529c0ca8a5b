"""Scenario 16's second half: time to all results of a `.map` on the local stack, where every call
really runs in a container (the launcher's function mode), against the same calls submitted one job
each (covalent's shape: a job per element, each followed to its end, its result read), on one stack.

Set-up (not timed): the local stack (its own moto with containers, registry, engine), an image with
the launcher built on the stack's Debian base, a queue and a bucket, a project folder whose images.json
says what -b says of that image (the launcher, its Python). Then, per round and side (rotated): the
time from the call to the last result in hand.

    .venv/bin/python -m bench.functions_stack [--n 20] [--rounds 2]     # prints one JSON line
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STACK = [sys.executable, "-m", "batchdeploy.local"]
BASE_TAR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "batchdeploy" / "base-bookworm.tar"


def stack_env(state: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BATCHDEPLOY_"))}
    env.pop("DOCKER_HOST", None)
    env.update(BATCHDEPLOY_LOCAL_DIR=str(state), BATCHDEPLOY_BASE_TAR=str(BASE_TAR), PYTHONPATH=str(ROOT))
    return env


def up(state: Path) -> dict:
    env = stack_env(state)
    subprocess.run([*STACK, "up"], env=env, check=True, capture_output=True, timeout=600)
    shown = subprocess.run([*STACK, "env"], env=env, capture_output=True, text=True, timeout=120, check=True).stdout
    for line in shown.splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line[len("export "):].partition("=")
            words = shlex.split(value)
            env[key] = words[0] if words else ""
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


def image(env: dict, work: Path) -> str:
    from batchdeploy.launch.zipapp import write as write_launcher

    context = work / "image"
    context.mkdir()
    write_launcher(str(context / "batchdeploy-launch"))
    (context / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY batchdeploy-launch /usr/local/bin/\n")
    ref = f"{env['AWS_REGISTRY']}/fn-bench:{uuid.uuid4().hex[:8]}"
    cli = env["CONTAINER_CLI"]
    subprocess.run([cli, "build", "-q", "--build-arg", f"BASE_IMAGE={env['BATCHDEPLOY_BASE_IMAGE']}", "-t", ref,
                    str(context)], env=env, check=True, capture_output=True, timeout=600)
    subprocess.run([cli, "push", ref], env=env, check=True, capture_output=True, timeout=600)
    return ref


def project(env: dict, work: Path, ref: str) -> Path:
    from batchdeploy.aws import Aws, AwsSettings

    aws = Aws(AwsSettings(region="us-east-1", endpoint_url=env["AWS_ENDPOINT_URL"], access_key_id="testing",
                          secret_access_key="testing"))
    batch, tag = aws.client("batch"), uuid.uuid4().hex[:8]
    role = aws.client("iam").create_role(RoleName=f"fn-{tag}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    ce = batch.create_compute_environment(computeEnvironmentName=f"fn-ce-{tag}", type="UNMANAGED", state="ENABLED",
                                          serviceRole=role)["computeEnvironmentArn"]
    batch.create_job_queue(jobQueueName=f"fn-queue-{tag}", state="ENABLED", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])
    aws.client("s3").create_bucket(Bucket=f"fn-bucket-{tag}")
    folder = work / "project"
    (folder / ".batchdeploy").mkdir(parents=True)
    (folder / ".aws_env").write_text(f"PROJECT_NAME=fnbench\nAWS_JOB_QUEUE=fn-queue-{tag}\nS3_BUCKET=fn-bucket-{tag}\n")
    (folder / "env-overrides.json").write_text(json.dumps({"environment": [
        {"name": "AWS_REGION", "value": "us-east-1"}, {"name": "AWS_DEFAULT_REGION", "value": "us-east-1"},
        {"name": "AWS_EC2_METADATA_DISABLED", "value": "true"}]}))
    repo, _, version = ref.rpartition(":")
    py = f"{sys.version_info[0]}.{sys.version_info[1]}"
    (folder / ".batchdeploy" / "images.json").write_text(json.dumps(
        {"images": {"app": {"repository": repo, "tag": version, "launcher": True, "python": py}}}))
    return folder


def square(x):
    return x * x


def timed(side: str, n: int, ref: str) -> float:
    from batchdeploy.functions import batch

    remote = batch(square, image=ref, memory=256, poll=1.0)
    start = time.perf_counter()
    if side == "map":
        got = remote.map(range(n))
    else:  # a job per element, each followed to its end (covalent's shape; its definition is reused here)
        futures = [remote.submit(x) for x in range(n)]
        got = [f.result() for f in futures]
    seconds = time.perf_counter() - start
    assert got == [x * x for x in range(n)], got
    return seconds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="bench.functions_stack")
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--rounds", type=int, default=2)
    a = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="fn-bench-"))
    state = work / "stack"
    env = up(state)
    try:
        ref = image(env, work)
        folder = project(env, work, ref)
        os.environ.update({k: env[k] for k in ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_EC2_METADATA_DISABLED")})
        os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
        os.chdir(folder)
        sides = {"map": [], "per-element": []}
        for r in range(a.rounds):
            for side in (["map", "per-element"] if r % 2 == 0 else ["per-element", "map"]):
                sides[side].append(timed(side, a.n, ref))
                print(f"round {r + 1} {side}: {sides[side][-1]:.1f} s", file=sys.stderr, flush=True)
        print(json.dumps({"n": a.n, "rounds": a.rounds, "seconds": sides,
                          "median": {k: statistics.median(v) for k, v in sides.items()}}), flush=True)
    finally:
        subprocess.run([*STACK, "down"], env=stack_env(state), capture_output=True, timeout=300, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
