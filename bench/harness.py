"""What every scenario shares: the sides of a comparison, running one command and counting its requests,
the environment the tools run in, and the machine and versions the results are reported with."""

from __future__ import annotations

import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.server import LogCounter

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PEERS = BENCH / "peers"
REGION = "us-east-1"
NOT_IMPLEMENTED = "not run: verb not implemented"
COMMAND_TIMEOUT = 900


class NotImplementedVerb(Exception):
    """batchdeploy answered exit 2 "not implemented yet": the verb is still being built."""


class CommandFailed(Exception):
    pass


@dataclass
class Sample:
    seconds: float
    counts: Counter
    server_errors: int = 0
    extra: dict = field(default_factory=dict)
    cpu: float | None = None  # user + system seconds of the command's whole process tree


@dataclass
class Side:
    """One tool doing one scenario's work; `ours` marks batchdeploy's side(s)."""

    name: str
    command: str
    ours: bool = False
    n: int | None = None  # the work size this side measured, when it differs from the scenario's
    scale_to: int | None = None  # report seconds linearly scaled from n to this size
    samples: list[Sample] = field(default_factory=list)
    status: str = "ok"

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def seconds(self) -> list[float]:
        factor = (self.scale_to / self.n) if (self.scale_to and self.n) else 1.0
        return [s.seconds * factor for s in self.samples]

    def cpu_seconds(self) -> list[float]:
        """Client CPU time per sample (scaled like seconds()); samples without one left out."""
        factor = (self.scale_to / self.n) if (self.scale_to and self.n) else 1.0
        return [s.cpu * factor for s in self.samples if s.cpu is not None]

    def mark(self, status: str) -> None:
        if self.ok:
            self.status = status


@dataclass
class Scenario:
    key: str
    title: str
    what: str
    sides: list[Side] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    count_order: tuple[str, ...] = ()
    status: str = "ok"  # "ok" or why the whole scenario did not run
    diagnosis: str = ""  # a measured fact that explains batchdeploy's time (added to a missed target's why)
    values: dict = field(default_factory=dict)  # measured numbers a scenario's own targets read (scenario 10)

    def side(self, name: str) -> Side:
        for s in self.sides:
            if s.name == name:
                return s
        raise KeyError(name)

    def ours(self) -> list[Side]:
        return [s for s in self.sides if s.ours]

    def peers(self) -> list[Side]:
        return [s for s in self.sides if not s.ours]


def clean_environment(endpoint: str) -> dict[str, str]:
    """The environment every tool runs in: test credentials, one region, the moto endpoint, and
    none of the caller's AWS or batchdeploy settings (a real profile must never be reached)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BATCHDEPLOY_", "S3_"))}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "BATCHDEPLOY_PYTHON": sys.executable,
            "PYTHONPATH": str(ROOT),
            "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
        }
    )
    return env


class Runner:
    """Runs one command, times it, and counts what the servers logged meanwhile."""

    def __init__(self, env: dict[str, str], logs: Path, counters: dict[str, LogCounter]):
        self.env = env
        self.logs = logs
        self.counters = counters
        logs.mkdir(parents=True, exist_ok=True)

    def run(self, label: str, cmd: list[str], cwd: Path, ours: bool, env: dict | None = None,
            counter: str = "aws", timeout: int = COMMAND_TIMEOUT) -> Sample:
        """One timed run. Raises NotImplementedVerb (our side, exit 2 "not implemented yet") or
        CommandFailed (any other non-zero exit, with the last line the tool printed)."""
        count_with = self.counters[counter]
        mark = count_with.mark()
        out_path = self.logs / (re.sub(r"[^A-Za-z0-9_.-]+", "_", label) + ".out")
        with open(out_path, "wb") as out:
            before = _children_cpu()
            start = time.perf_counter()
            try:
                done = subprocess.run(
                    [str(c) for c in cmd], cwd=cwd, env={**self.env, **(env or {})}, stdout=out,
                    stderr=subprocess.PIPE, timeout=timeout, check=False,
                )
            except subprocess.TimeoutExpired:
                raise CommandFailed(f"timed out after {timeout} s") from None
            seconds = time.perf_counter() - start
            cpu = _children_cpu() - before
            out.write(b"\n--- stderr ---\n" + done.stderr)
        stderr = done.stderr.decode("utf-8", errors="replace")
        if done.returncode != 0:
            if ours and done.returncode == 2 and "not implemented yet" in stderr:
                raise NotImplementedVerb(stderr.strip().splitlines()[-1])
            last = [line for line in stderr.strip().splitlines() if line.strip()]
            raise CommandFailed(f"exit {done.returncode}: {last[-1][:300] if last else '(no message)'} (log: {out_path})")
        counts, server_errors = count_with.counts_since(mark)
        return Sample(seconds, counts, server_errors, {"stdout_file": str(out_path)}, cpu=cpu)


def _children_cpu() -> float:
    """User + system CPU seconds of every child process waited for so far, and of their own waited-for
    children: the delta around one subprocess.run is that command's whole process tree (deploy.sh and
    the Python it starts, aws and its workers). The moto server is a child too, but is only waited for
    at the end, so it never counts; nothing else runs a child while a command is measured."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(runner: Runner, scenario: Scenario, side: Side, cmd: list[str], cwd: Path,
            env: dict | None = None, counter: str = "aws", label: str | None = None) -> Sample | None:
    """Run `cmd` for `side` unless the side is already out; record the sample or why there is none."""
    if not side.ok:
        return None
    try:
        sample = runner.run(label or f"{scenario.key}-{side.name}", cmd, cwd, side.ours, env, counter)
    except NotImplementedVerb:
        side.mark(NOT_IMPLEMENTED)
        return None
    except CommandFailed as exc:
        side.mark(f"failed: {exc}")
        return None
    side.samples.append(sample)
    return sample


# ----------------------------------------------------------------------------------------------
# Machine and versions


def _first_line(cmd: list[str], pattern: str | None = None) -> str | None:
    exe = shutil.which(cmd[0], path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    if not exe:
        return None
    try:
        done = subprocess.run([exe, *cmd[1:]], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (done.stdout or done.stderr).strip()
    if pattern:
        m = re.search(pattern, text)
        return m.group(1) if m else (text.splitlines()[0] if text else None)
    return text.splitlines()[0] if text else None


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    load = ""
    try:
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        pass
    os_name = platform.platform()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = f"{line.split('=', 1)[1].strip(chr(34))}, Linux {platform.release()}"
    except OSError:
        pass
    return {"cpu": cpu, "cores": str(os.cpu_count()), "memory": mem, "os": os_name, "load average at start": load}


def versions() -> dict[str, str | None]:
    import botocore
    import s3transfer

    try:
        from importlib.metadata import version

        moto_version = version("moto")
    except Exception:  # noqa: BLE001 - reported as unknown
        moto_version = None
    commit = _git(["rev-parse", "--short", "HEAD"])
    dirty = _git(["status", "--porcelain", "--", "batchdeploy", "deploy.sh"])
    return {
        "python": platform.python_version(),
        "botocore": botocore.__version__,
        "s3transfer": s3transfer.__version__,
        "awscli": _first_line(["aws", "--version"], r"aws-cli/(\S+)"),
        "s5cmd": _first_line(["s5cmd", "version"]),
        "moto": moto_version,
        "podman": _first_line(["podman", "--version"], r"version (\S+)"),
        "hyperfine": _first_line(["hyperfine", "--version"], r"hyperfine (\S+)"),
        "batchdeploy commit": (commit or "unknown") + (" + uncommitted changes in batchdeploy/" if dirty else ""),
    }


def _git(args: list[str]) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
