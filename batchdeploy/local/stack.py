"""The stack's commands: up, down, status, env and base-image over one state folder.

The state folder (BATCHDEPLOY_LOCAL_DIR, default <repo>/.local-stack) holds everything: run/ (pids,
ports, the engine, the lock, podman's socket), log/, conf/, registry/ (the registry's storage),
cache/ (the base image tarball) and, once asked for, postgres/ (the PostgreSQL cluster).
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from batchdeploy.errors import ConfigError, OperationError
from batchdeploy.local import base_image, moto, podman, postgres, registry
from batchdeploy.local.supervise import (
    LOOPBACK,
    NotAnswering,
    Pids,
    lock,
    read_text,
    spawn,
    stop,
    trace,
    wait_answering,
)

PROG = "local-stack"
SCRIPT = "scripts/local-stack.sh"
REPO_ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("run", "log", "conf", "registry", "cache")


def note(text: str) -> None:
    print(f"{PROG}: {text}", file=sys.stderr, flush=True)


def _seconds(environ: dict, name: str, default: float) -> float:
    text = environ.get(name, "")
    try:
        return float(text) if text else default
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not '{text}'") from None


@dataclass
class Settings:
    """What the environment says; read once, here."""

    state: Path
    base_tar: Path | None
    engine: str
    python: str
    up_timeout: float
    lock_timeout: float
    mirror: str
    skip_base_image: bool
    postgres: bool = False  # `up --postgres`, or LOCAL_POSTGRES in the project's configuration

    @classmethod
    def from_environ(cls, environ: dict) -> Settings:
        venv = REPO_ROOT / ".venv" / "bin" / "python"
        python = environ.get("BATCHDEPLOY_PYTHON") or (str(venv) if os.access(venv, os.X_OK) else "python3")
        tar = environ.get("BATCHDEPLOY_BASE_TAR")
        return cls(
            state=Path(environ.get("BATCHDEPLOY_LOCAL_DIR") or REPO_ROOT / ".local-stack"),
            base_tar=Path(tar) if tar else None,
            engine=environ.get("BATCHDEPLOY_ENGINE") or "auto",
            python=python,
            up_timeout=_seconds(environ, "BATCHDEPLOY_UP_TIMEOUT", 60),
            # 'up' may build the base image while another 'up' waits for the lock.
            lock_timeout=_seconds(environ, "BATCHDEPLOY_LOCK_TIMEOUT", 300),
            mirror=environ.get("BATCHDEPLOY_DEBIAN_MIRROR") or base_image.MIRROR,
            skip_base_image=environ.get("BATCHDEPLOY_SKIP_BASE_IMAGE") == "1",
        )


@dataclass
class Stack:
    settings: Settings
    state: Path
    started: list = field(default_factory=list)  # parts this command started: a failed 'up' stops them
    engine: podman.Engine | None = None

    @classmethod
    def open(cls, settings: Settings, create: bool) -> Stack:
        """Only the commands that start something create the folder; status, env and down just look."""
        folder = settings.state
        trace("init_state", folder, "create" if create else "look")
        if create:
            try:
                for name in FOLDERS:
                    (folder / name).mkdir(parents=True, exist_ok=True)
            except OSError:
                raise ConfigError(f"cannot create the state folder {folder}") from None
        return cls(settings, folder.resolve() if folder.is_dir() else folder)

    # -- the layout ------------------------------------------------------------------------

    @property
    def run(self) -> Path:
        return self.state / "run"

    @property
    def logs(self) -> Path:
        return self.state / "log"

    @property
    def conf(self) -> Path:
        return self.state / "conf"

    @property
    def sock(self) -> Path:
        return self.run / "podman.sock"

    @property
    def base_tar(self) -> Path:
        return self.settings.base_tar or self.state / "cache" / "base-bookworm.tar"

    @property
    def pids(self) -> Pids:
        return Pids(self.run)

    def port(self, part: str) -> str:
        return read_text(self.run / f"{part}.port")

    def log(self, part: str) -> Path:
        return self.logs / f"{part}.log"

    def lock(self) -> None:
        """Two 'up's at once (a test run beside a demo) must not both start a moto: one waits."""
        path = self.run / "lock"
        lock(path, self.settings.lock_timeout, f"another local-stack command holds {path}")

    def recorded_engine(self) -> podman.Engine | None:
        self.engine = podman.recorded(read_text(self.run / "engine"), self.conf)
        return self.engine

    def choose_engine(self) -> podman.Engine:
        self.engine = podman.choose(self.settings.engine, self.sock, self.conf)
        (self.run / "engine").write_text(self.engine.record())
        return self.engine

    def write_engine_conf(self) -> None:
        (self.conf / "containers.conf").write_text(podman.CONTAINERS_CONF)

    # -- parts -----------------------------------------------------------------------------

    @property
    def wanted(self) -> Path:
        """Present while the stack includes PostgreSQL: written by `up --postgres`, removed by `down`."""
        return self.run / "postgres.wanted"

    def postgres(self) -> postgres.Server:
        return postgres.Server(self.state, postgres.bindir(os.environ))

    def parts(self) -> list[str]:
        podman_part = ["podman"] if self.engine.name == "podman" else []
        return ["registry", *podman_part, "moto", *(["postgres"] if self.wanted.is_file() else [])]

    def answers(self, part: str) -> bool:
        if part == "postgres":
            return self.postgres().answers()
        if part == "moto":
            return moto.answers(f"http://{LOOPBACK}:{self.port('moto')}")
        if part == "registry":
            return registry.answers(self.port("registry"))
        return self.engine.answers()

    def where(self, part: str) -> str:
        return {
            "moto": f"http://{LOOPBACK}:{self.port('moto')}",
            "registry": f"{LOOPBACK}:{self.port('registry')}",
            "podman": f"unix://{self.sock}",
            "postgres": f"{LOOPBACK}:{self.port('postgres')}",
        }[part]

    def argv_env(self, part: str) -> tuple[list[str], dict]:
        # BATCHDEPLOY_LOCAL_STACK names the state folder in every part's environment: `ps e` and the
        # tests can tell which stack a process belongs to.
        env = {**os.environ, "BATCHDEPLOY_LOCAL_STACK": str(self.state), "AWS_EC2_METADATA_DISABLED": "true"}
        if part == "registry":
            return registry.command(self.conf / "registry.yml"), env
        if part == "podman":
            return podman.service_command(self.sock), {**env, **self.engine.conf_env()}
        if part == "postgres":
            return self.postgres().command(), env
        return moto.command(self.settings.python, int(self.port("moto"))), moto.environment(env, self.engine.host)

    def start(self, part: str) -> None:
        if part == "podman":
            self.sock.unlink(missing_ok=True)
        if part == "postgres":
            server = self.postgres()
            server.ensure_cluster(self.log(part))
            server.clear_stale_lock()
        argv, env = self.argv_env(part)
        try:
            pid = spawn(argv, self.log(part), env)
        except OSError:
            raise OperationError(f"cannot start {part} (log: {self.log(part)})") from None
        self.pids.record(part, pid)
        self.started.append(part)

    def adopt_postgres(self) -> None:
        """A server on our cluster with no pid file (an `up` killed between starting it and recording
        it) is recorded, not started twice: `down` then stops it, and it keeps its port."""
        if self.wanted.is_file() and self.pids.live("postgres") is None:
            running = self.postgres().running_pid()
            if running is not None:
                self.pids.record("postgres", running)

    def stop(self, part: str) -> None:
        # PostgreSQL's SIGTERM waits for every client to leave; SIGINT is its fast, clean shutdown.
        stop(self.pids, part, sig=signal.SIGINT if part == "postgres" else signal.SIGTERM)

    def stop_started(self) -> None:
        while self.started:
            self.stop(self.started.pop(0))

    def wait_ready(self) -> None:
        try:
            wait_answering(self.parts(), self.answers, lambda p: self.pids.live(p) is not None,
                           self.settings.up_timeout, time.sleep, time.monotonic)
        except NotAnswering as exc:
            raise OperationError(f"{exc.message} (log: {self.log(exc.part)})") from None

    def ensure_base_image(self) -> None:
        base_image.ensure(self.engine, self.base_tar, self.log("base-image"), self.settings.mirror, note)


def need(command: str, package: str) -> None:
    if shutil.which(command) is None:
        raise ConfigError(f"{command} not found: apt-get install {package}")


def shell_exports(pairs: list[tuple[str, str]]) -> str:
    """`export NAME=VALUE` lines a shell can source, each value quoted."""
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in pairs)
