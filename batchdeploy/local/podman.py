"""The container engine: a Docker engine when one answers, else a podman API service configured only
through files in the state folder (nothing under /etc changes).

podman's image storage stays its default (/var/lib/containers/storage for root), not the state folder:
the base image and the layers built FROM it are shared by every stack on the machine (a test's
temporary stack costs no import, `down` and `rm -rf` of the state folder lose nothing), `podman images`
shows what a user built, and removing a state folder never trips over an overlay mount. Stacks sharing
that storage tell their job containers apart by MOTO_PORT.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from batchdeploy.errors import ConfigError
from batchdeploy.local.supervise import trace

CHOICES = ("auto", "docker", "podman")
RUNC = (Path("/usr/sbin/runc"), Path("/usr/bin/runc"))
SOCKET_MAX = 100  # a unix socket's path is at most 107 bytes; this one keeps some room
# crun fails here ("cgroups in hybrid mode not supported") and podman's default nofile limit (1048576)
# is refused by setrlimit inside this kind of VM; runc and lower limits both work.
CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
"""


@dataclass
class Engine:
    """`docker` (someone else's engine at `host`) or `podman` (our service at `host`, unix://SOCKET),
    with the conf files podman's CLI and service read."""

    name: str
    host: str
    conf: Path

    def conf_env(self) -> dict:
        if self.name != "podman":
            return {}
        return {"CONTAINERS_CONF": str(self.conf / "containers.conf"),
                "CONTAINERS_REGISTRIES_CONF": str(self.conf / "registries.conf")}

    def cli(self, *args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout: float | None = 120):
        """The engine's own CLI (a CompletedProcess, exit 127 when it cannot run): `podman` reads its
        storage directly, so it gets the same conf files as the service."""
        env = {**os.environ, **self.conf_env()}
        if self.name == "docker":
            env["DOCKER_HOST"] = self.host
        trace(self.name, *args)
        try:
            return subprocess.run([self.name, *args], env=env, stdin=subprocess.DEVNULL, stdout=stdout,
                                  stderr=stderr, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            return subprocess.CompletedProcess([self.name, *args], 127, str(exc), None)

    def answers(self) -> bool:
        if self.name == "podman":
            return ping(self.host.removeprefix("unix://"))
        return self.cli("info", timeout=30).returncode == 0

    def reachable(self) -> bool:
        """The podman CLI reaches its storage without the service; a Docker engine has to answer."""
        return shutil.which("podman") is not None if self.name == "podman" else self.answers()

    def record(self) -> str:
        return f"{self.name} {self.host}\n"


def recorded(text: str, conf: Path) -> Engine | None:
    """The engine a state file names ("NAME HOST"), or None."""
    name, _, host = text.strip().partition(" ")
    return Engine(name, host, conf) if name in ("docker", "podman") else None


def service_command(socket_path: Path) -> list[str]:
    return ["podman", "system", "service", "--time=0", f"unix://{socket_path}"]


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("d", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def ping(socket_path: str, timeout: float = 2.0) -> bool:
    """The Docker API's /_ping over a unix socket answers 200."""
    conn = _UnixConnection(socket_path, timeout)
    try:
        conn.request("GET", "/_ping")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def runc_present() -> bool:
    return shutil.which("runc") is not None or any(p.is_file() and os.access(p, os.X_OK) for p in RUNC)


def _docker(args, env) -> subprocess.CompletedProcess | None:
    trace("docker", *args)
    try:
        return subprocess.run(["docker", *args], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None


def _without_our_socket(our_host: str) -> dict:
    """The environment, less a DOCKER_HOST left over from an earlier `env` of ours: that one names our
    own podman, not a Docker engine."""
    env = dict(os.environ)
    if env.get("DOCKER_HOST") == our_host:
        env.pop("DOCKER_HOST")
    return env


def docker_answers(our_host: str) -> bool:
    if shutil.which("docker") is None:
        return False
    done = _docker(["info"], _without_our_socket(our_host))
    return done is not None and done.returncode == 0


def docker_endpoint(our_host: str) -> str:
    """moto's Docker SDK knows DOCKER_HOST but not the CLI's contexts: the address the CLI uses."""
    host = os.environ.get("DOCKER_HOST", "")
    if host and host != our_host:
        return host
    env = _without_our_socket(our_host)
    env.pop("DOCKER_HOST", None)
    done = _docker(["context", "inspect", "--format", "{{.Endpoints.docker.Host}}"], env)
    found = done.stdout.strip() if done is not None and done.returncode == 0 else ""
    return found or "unix:///var/run/docker.sock"


def choose(want: str, socket_path: Path, conf: Path) -> Engine:
    """BATCHDEPLOY_ENGINE: auto (a Docker engine if one answers, else podman with runc), docker, podman."""
    if want not in CHOICES:
        raise ConfigError(f"BATCHDEPLOY_ENGINE must be auto, docker or podman, not '{want}'")
    ours = f"unix://{socket_path}"
    if want != "podman" and docker_answers(ours):
        return Engine("docker", docker_endpoint(ours), conf)
    if want != "docker" and shutil.which("podman") and runc_present():
        return Engine("podman", ours, conf)
    if want == "docker":
        raise ConfigError("no Docker engine answers ('docker info' fails): start one, or use BATCHDEPLOY_ENGINE=podman")
    raise ConfigError("no container engine can run here (no Docker engine answers, no podman): apt-get install podman runc")


def remove_job_containers(engine: Engine, moto_port: str) -> None:
    """moto runs each job as a container and removes it when the job ends; after moto stops, nobody
    would. moto gives every job container MOTO_PORT=<its own port>: ours, not another stack's."""
    ids = engine.cli("ps", "-q")
    if ids.returncode != 0 or not ids.stdout.split():
        return
    listing = engine.cli("inspect", "-f", "{{.Id}}{{range .Config.Env}} {{.}}{{end}}", *ids.stdout.split())
    for line in listing.stdout.splitlines():
        if f" MOTO_PORT={moto_port} " not in f" {line} " or " AWS_BATCH_JOB_ID=" not in line:
            continue
        container = line.split(" ", 1)[0]
        # kill first: podman's rm -f would wait 10 s for a PID 1 that ignores SIGTERM (e.g. sleep)
        engine.cli("kill", container)
        engine.cli("rm", "-f", container)
