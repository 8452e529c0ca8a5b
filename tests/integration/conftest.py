"""The local stack (python -m batchdeploy.local) as a fixture: a real moto server, registry and container
engine, started once per session in a temp state folder whose path has a space, and stopped at the
end. Tests that need it are marked `engine`; they skip, with the stack's own reason, only where no
container engine can run. (tests/bats/local_stack.bats runs it through scripts/local-stack.sh.)"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STACK = [sys.executable, "-m", "batchdeploy.local"]
# The base image tarball takes about 30 s to build; one cache outside the temp folders means a
# machine (or a CI cache) pays for it once.
BASE_TAR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "batchdeploy" / "base-bookworm.tar"


def wait_for(check, timeout: float, interval: float = 0.2, what: str = "condition"):
    """Polls `check()` until it returns something truthy, for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def script_env(state: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BATCHDEPLOY_"))}
    env.pop("DOCKER_HOST", None)
    env.update(BATCHDEPLOY_LOCAL_DIR=str(state), BATCHDEPLOY_BASE_TAR=str(BASE_TAR), PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


def run_script(state: Path, *args, timeout=300, **extra) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*STACK, *args], env=script_env(state, **extra), capture_output=True, text=True, timeout=timeout
    )


@dataclass
class LocalStack:
    state: Path
    env: dict  # what the stack's `env` exports

    @property
    def endpoint(self) -> str:
        return self.env["AWS_ENDPOINT_URL"]

    @property
    def registry(self) -> str:
        return self.env["AWS_REGISTRY"]

    def cli(self, *args, timeout=120, check=True) -> subprocess.CompletedProcess:
        """The engine's CLI (podman or docker) as the stack's `env` sets it up."""
        return subprocess.run(
            [self.env["CONTAINER_CLI"], *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def pids(self) -> dict:
        return {
            p.stem: int(p.read_text().split()[0]) for p in (self.state / "run").glob("*.pid") if p.read_text().strip()
        }


def read_env(state: Path) -> dict:
    # `source <(... env)` is how a user takes it, so the quoting is tested the same way.
    done = subprocess.run(
        ["bash", "-c", 'source <("$@" env) && env -0', "bash", *STACK],
        env=script_env(state),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    pairs = (item.split("=", 1) for item in done.stdout.split("\0") if "=" in item)
    env = dict(pairs)
    keys = (
        "AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_DEFAULT_REGION AWS_REGISTRY "
        "DOCKER_HOST CONTAINER_CLI BATCHDEPLOY_BASE_IMAGE CONTAINERS_CONF CONTAINERS_REGISTRIES_CONF"
    ).split()
    return {k: env[k] for k in keys if k in env}


def start_stack(state: Path) -> LocalStack:
    done = run_script(state, "up")
    if done.returncode == 2 and "no container engine" in done.stderr:
        pytest.skip(done.stderr.strip())
    assert done.returncode == 0, done.stderr
    return LocalStack(state, read_env(state))


def process_gone(pid: int) -> bool:
    """Exited; a zombie counts as exited (this machine's init does not always reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory):
    state = tmp_path_factory.mktemp("local stack")
    stack = start_stack(state)
    yield stack
    pids = stack.pids()
    done = run_script(state, "down")
    assert done.returncode == 0, done.stderr
    assert all(process_gone(pid) for pid in pids.values()), pids
