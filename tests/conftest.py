"""Shared fixtures: a real moto server over HTTP, a project folder whose path has a space, and a runner
for the real command line. No module of batchdeploy is mocked anywhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest

from batchdeploy.local.moto import MotoServer as LocalMotoServer
from tests.fault_proxy import FaultProxy

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"


class MotoServer(LocalMotoServer):
    """A moto server process on a loopback port, started as the stack and the benchmark start theirs
    (batchdeploy.local.moto); its request log is how tests count AWS calls."""

    def requests(self) -> list[tuple[str, str, int]]:
        """Every request so far as (method, path, status), the moto-api ones left out."""
        return [(r.method, r.path, r.status) for r in super().requests()]


class RequestCounter:
    """Requests made since it was created: `counter.since()` -> list of (method, path, status)."""

    def __init__(self, server: MotoServer):
        self.server = server
        self.start = len(server.requests())

    def since(self):
        return self.server.requests()[self.start :]


@pytest.fixture(scope="session")
def failing_moto(tmp_path_factory):
    """A second moto server whose docker-less Batch fails every job (MOTO_SIMPLE_BATCH_FAIL_AFTER=0);
    a test calls its reset() first."""
    with mock.patch.dict(os.environ, {"MOTO_SIMPLE_BATCH_FAIL_AFTER": "0"}):
        server = MotoServer(tmp_path_factory.mktemp("moto-failing"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()


@pytest.fixture
def moto(moto_server, monkeypatch):
    """A clean moto account for this test (API-level: Batch jobs succeed without a container), and
    the environment pointing boto3 and the aws CLI at it."""
    moto_server.reset()
    moto_server.batch_use_docker(False)
    for key in list(os.environ):
        if key.startswith(("AWS_", "BATCHDEPLOY_")):
            monkeypatch.delenv(key)
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_server.url,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        # Never let botocore's credential chain reach for the instance metadata service: loopback only.
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return moto_server


@pytest.fixture
def aws(moto):
    """Clients for setting up and checking a test, made by batchdeploy's own client module."""
    from batchdeploy.aws import Aws, AwsSettings

    return Aws(AwsSettings(region=REGION, endpoint_url=moto.url))


@pytest.fixture
def proxy(moto):
    """A fault-injecting proxy in front of this test's moto server (tests/fault_proxy.py)."""
    p = FaultProxy(moto.url)
    yield p
    p.close()


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def both(self):
        return self.stdout + self.stderr


class Project:
    """A project folder (its path has a space) with an `.aws_env`, and the real CLI to run in it."""

    def __init__(self, path: Path):
        self.path = path
        self.path.mkdir(parents=True, exist_ok=True)

    def write(self, name: str, text: str) -> Path:
        p = self.path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        return p

    def write_json(self, name: str, obj) -> Path:
        return self.write(name, json.dumps(obj, indent=2))

    def env_file(self, **values) -> Path:
        return self.write(".aws_env", "".join(f"{k}={v}\n" for k, v in values.items()))

    def run(self, *args, env=None, input=None, timeout=120) -> Result:
        """`batchdeploy ARGS` as a user runs it, in this folder, with the test's environment."""
        return self._run([sys.executable, "-m", "batchdeploy", *args], env, input, timeout)

    def deploy(self, *args, env=None, input=None, timeout=120) -> Result:
        """`./deploy.sh ARGS` from this folder."""
        return self._run([str(ROOT / "deploy.sh"), *args], env, input, timeout)

    def _run(self, cmd, env, input, timeout) -> Result:
        full_env = {**os.environ, "PYTHONPATH": str(ROOT), "BATCHDEPLOY_PYTHON": sys.executable, **(env or {})}
        done = subprocess.run(
            cmd, cwd=self.path, env=full_env, input=input, capture_output=True, text=True, timeout=timeout
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def state(self, name: str):
        p = self.path / ".batchdeploy" / name
        return json.loads(p.read_text()) if p.exists() else None


@pytest.fixture
def project(tmp_path):
    return Project(tmp_path / "my project")


def aws_cli(moto_server, *args) -> dict | str:
    """The real aws CLI against the moto server; JSON output parsed."""
    exe = shutil.which("aws", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    done = subprocess.run(
        [exe, "--endpoint-url", moto_server.url, "--output", "json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    try:
        return json.loads(done.stdout) if done.stdout.strip() else {}
    except ValueError:
        return done.stdout
