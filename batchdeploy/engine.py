"""The container engine's command line: which one, and the five things -b asks of it.

batchdeploy drives the engine's own CLI (`docker` or `podman`) rather than an API socket: the CLI
already honours everything the user configured for it (DOCKER_HOST and contexts, podman's
CONTAINERS_CONF / CONTAINERS_REGISTRIES_CONF, auth files, credential helpers), and the two CLIs
agree on the few flags used here (`build --iidfile`, `push`, `tag`, `pull`, `login --password-stdin`).

Output: the engine's lines go to stderr as they come (the build log), or, for pushes on a terminal,
into one status line rewritten in place. With --quiet nothing is shown unless the command fails,
and then its last lines are, so a failure is never silent.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from batchdeploy.errors import ConfigError, OperationError
from batchdeploy.secrets import redact

TAIL_LINES = 20
INSTALL_HINT = (
    "install Docker (https://docs.docker.com/engine/install/) and start it, or podman "
    "(apt-get install podman runc); CONTAINER_CLI chooses one"
)
_DIGEST = re.compile(r"\bdigest: (sha256:[0-9a-f]{64})\b")


def flavor_of(cli: str) -> str:
    """"podman" for podman, else "docker" (nerdctl and other Docker-compatible CLIs included)."""
    return "podman" if "podman" in Path(cli).name else "docker"


def _answers(cli: str, environ: dict) -> bool:
    try:
        done = subprocess.run(
            [cli, "info"], stdin=subprocess.DEVNULL, capture_output=True, timeout=30, env=environ, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def choose(container_cli: str | None, environ: dict | None = None) -> Engine:
    """CONTAINER_CLI when set; else `docker` when a Docker engine answers `docker info`; else `podman`
    (which needs no daemon). Neither: one line saying what to install."""
    environ = dict(os.environ if environ is None else environ)
    path = environ.get("PATH", os.defpath)
    if container_cli:
        found = shutil.which(container_cli, path=path)
        if not found:
            raise ConfigError(f"CONTAINER_CLI={container_cli} is not an executable on PATH", hint=INSTALL_HINT)
        return Engine(found, flavor_of(container_cli), environ)
    docker = shutil.which("docker", path=path)
    if docker and _answers(docker, environ):
        return Engine(docker, "docker", environ)
    podman = shutil.which("podman", path=path)
    if podman:
        return Engine(podman, "podman", environ)
    if docker:
        raise ConfigError("`docker info` fails: no Docker engine answers and podman is not installed", hint=INSTALL_HINT)
    raise ConfigError("no container engine: neither docker nor podman is on PATH", hint=INSTALL_HINT)


@dataclass
class Engine:
    cli: str
    flavor: str
    environ: dict = field(default_factory=lambda: dict(os.environ))
    out: object = None  # batchdeploy.ui.Output; None: silent
    calls: list = field(default_factory=list)  # the commands run, for the verb's summary

    @property
    def name(self) -> str:
        return Path(self.cli).name

    # -- running ---------------------------------------------------------------------------

    def _show(self, line: str) -> None:
        if self.out is not None:
            self.out.note(line)

    def _progress(self, text: str, end: bool = False) -> None:
        stream = self.out.stderr
        width = shutil.get_terminal_size((100, 20)).columns - 1
        stream.write("\r\x1b[K" + redact(text)[:width] + ("\n" if end else ""))
        stream.flush()

    def run(
        self,
        args: list[str],
        doing: str,
        display: str = "lines",
        stdin: str | None = None,
        env: dict | None = None,
        tail_on_failure: bool = True,
    ) -> list[str]:
        """Run `cli ARGS`; its output shown per `display` ("lines", "progress" or "none") unless
        quiet, each line through `useful_line` (as written with BATCHDEPLOY_DEBUG=1). On failure: the
        last lines (when they were not shown already) and an OperationError whose one line ends with
        the engine's last line."""
        quiet = self.out is None or self.out.quiet
        full = self.environ.get("BATCHDEPLOY_DEBUG") == "1"  # every line as the engine wrote it
        progress = display == "progress" and not quiet and self.out.is_terminal()
        tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self.calls.append(args[0])
        proc = self._spawn(args, doing, stdin, env)
        try:
            if stdin is not None:
                proc.stdin.write(stdin)
                proc.stdin.close()
            last = ""
            for raw in proc.stdout:
                # Progress bars redraw with \r; the last state of the line is what counts.
                line = raw.rstrip("\n").split("\r")[-1].rstrip()
                if not full:
                    line = useful_line(line)
                if not line:
                    continue
                tail.append(line)
                if progress:
                    last = line
                    self._progress(f"  {line}")
                elif display != "none" and not quiet:
                    self._show(f"  {line}")
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        if progress and last:
            self._progress("", end=False)
        if code != 0:
            self._failed(doing, code, tail, shown=display == "lines" and not quiet, tail_on_failure=tail_on_failure)
        return list(tail)

    def _spawn(self, args: list[str], doing: str, stdin: str | None, env: dict | None) -> subprocess.Popen:
        try:
            return subprocess.Popen(
                [self.cli, *args],
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env={**self.environ, **(env or {})},
                text=True,
                errors="replace",
                bufsize=1,
            )
        except OSError as exc:
            raise OperationError(f"cannot {doing}: cannot run {self.cli}: {exc.strerror}") from None

    def _failed(self, doing: str, code: int, tail, shown: bool, tail_on_failure: bool):
        """A command failed: its last lines to stderr (unless already shown), then one error line."""
        if tail_on_failure and not shown and self.out is not None:
            for line in tail:
                self.out.stderr.write(redact(f"  {line}") + "\n")
            self.out.stderr.flush()
        last_line = tail[-1] if tail else f"exit status {code}"
        raise OperationError(f"cannot {doing}: {self.name} failed: {last_line}")

    # -- what -b needs -----------------------------------------------------------------------

    def build(
        self,
        context: Path,
        dockerfile: Path,
        tag: str,
        build_args: dict[str, str],
        no_cache: bool = False,
        secrets: dict[str, str] | None = None,
    ) -> str:
        """Build and tag; the image id. Build argument values travel in the environment
        (`--build-arg KEY` reads KEY from it), so none appears in the process list. `secrets` are
        build secrets (`RUN --mount=type=secret,id=NAME`), passed as `secret_args` says."""
        with tempfile.TemporaryDirectory(prefix="batchdeploy-") as tmp:
            iidfile = Path(tmp) / "iid"
            args = ["build", "-f", str(dockerfile), "-t", tag, "--iidfile", str(iidfile)]
            if no_cache:
                args.append("--no-cache")
            secret_flags, secret_env = secret_args(secrets or {})
            args += secret_flags
            for key in sorted(build_args):
                args += ["--build-arg", key]
            args.append(str(context))
            self.run(args, f"build {tag}", display="lines", env={**build_args, **secret_env})
            try:
                return iidfile.read_text().strip()
            except OSError:
                raise OperationError(f"cannot build {tag}: {self.name} wrote no image id") from None

    def tag(self, source: str, target: str) -> None:
        self.run(["tag", source, target], f"tag {target}", display="none")

    def push(self, ref: str) -> str:
        """Push; the digest of the manifest as the registry stores it."""
        with tempfile.TemporaryDirectory(prefix="batchdeploy-") as tmp:
            args = ["push"]
            digestfile = Path(tmp) / "digest"
            if self.flavor == "podman":
                args += ["--digestfile", str(digestfile)]
            lines = self.run([*args, ref], f"push {ref}", display="progress")
            if self.flavor == "podman":
                try:
                    return digestfile.read_text().strip()
                except OSError:
                    pass
            # docker prints "TAG: digest: sha256:... size: N" as the push's last line.
            for line in reversed(lines):
                m = _DIGEST.search(line)
                if m:
                    return m.group(1)
        raise OperationError(f"cannot push {ref}: {self.name} did not report the pushed digest")

    def pull(self, ref: str) -> None:
        self.run(["pull", ref], f"pull {ref}", display="progress")

    def login(self, host: str, username: str, password: str) -> None:
        """Log in with the password on standard input, never on the command line."""
        self.run(
            ["login", "--username", username, "--password-stdin", host],
            f"log in to {host}",
            display="none",
            stdin=password + "\n",
            tail_on_failure=False,  # a refused login says why in one line
        )

    def auth_file_hint(self) -> str:
        """Where this engine keeps its logins, as far as the environment says (a login is recorded
        per engine and auth file, so switching either logs in again)."""
        if self.flavor == "podman":
            return self.environ.get("REGISTRY_AUTH_FILE", "") or "podman-default"
        return self.environ.get("DOCKER_CONFIG", "") or "docker-default"


# -- build secrets ---------------------------------------------------------------------------------


SECRET_ENV = "BATCHDEPLOY_BUILD_SECRET_"


def secret_args(secrets: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """`--secret id=NAME,env=VAR` for each build secret, and VAR=value for the engine's environment.

    The value travels in the environment of the engine's process (as build argument values do),
    under a name of batchdeploy's own (`BATCHDEPLOY_BUILD_SECRET_<n>`, so a secret named like a
    setting the engine reads, DOCKER_HOST or HTTP_PROXY, cannot change what the engine does): never
    on a command line, never in a file of ours, so nothing is left behind even when -b is killed.
    podman build (4.0 and later) and docker buildx mount it at /run/secrets/NAME for the `RUN` steps
    that ask for it, and keep it out of the image."""
    args: list[str] = []
    env: dict[str, str] = {}
    for index, name in enumerate(sorted(secrets)):
        var = f"{SECRET_ENV}{index}"
        env[var] = secrets[name]
        args += ["--secret", f"id={name},env={var}"]
    return args, env


# -- the useful part of an engine's line -------------------------------------------------------------

# A Go value printed with %#v: `&imagebuilder.Step{Env:[]string{"PATH=..."}, Command:"form", ...}`,
# hundreds of characters podman appends to a Dockerfile error; everything from it to the end goes.
_GO_VALUE = re.compile(r"\s*&?[A-Za-z_]\w*\.[A-Z]\w*\{.*$")
# What is left of a log line that only carried such a value.
_EMPTY_LOG = re.compile(r'time="[^"]*" level=\w+ msg="(\+\(UNHANDLED LOGLEVEL\))?\s*"?')


def useful_line(line: str) -> str | None:
    """An engine's line as worth showing: a Go value dump cut off its end, and a line left with
    nothing to say (podman's `msg="+(UNHANDLED LOGLEVEL) &imagebuilder.Step{...}"`) dropped (None).
    Any other line is returned as it is."""
    cut = _GO_VALUE.sub("", line)
    if cut == line:
        return line
    if not cut.strip() or _EMPTY_LOG.fullmatch(cut.strip()):
        return None
    return cut


def build_secrets_supported(engine: Engine) -> bool:
    """Whether `--secret` reaches the build: podman (buildah) always; docker only with BuildKit, that
    is with its buildx component (the classic builder answers `unknown flag: --secret`)."""
    if engine.flavor == "podman":
        return True
    try:
        done = subprocess.run(
            [engine.cli, "buildx", "version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
            env=engine.environ,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0
