"""up, down, status, env and base-image: each a function of a Stack, printing what the script printed."""

from __future__ import annotations

import os

from batchdeploy.errors import ConfigError, OperationError
from batchdeploy.local import base_image, moto, podman, postgres, registry
from batchdeploy.local.stack import SCRIPT, Stack, need, note, shell_exports
from batchdeploy.local.supervise import pick_port


def up(stack: Stack) -> int:
    """Start what is not running (idempotent), wait until every part answers, make sure of the base
    image. A failed or interrupted 'up' stops what it started itself, so nothing half-started lingers."""
    settings = stack.settings
    if not moto.has_server(settings.python):
        raise ConfigError(f"{settings.python} has no moto[server]: run make setup (pip install -e '.[dev]')")
    need(registry.COMMAND, "docker-registry")
    if settings.postgres:
        postgres.bindir(os.environ)  # a missing server is a one-line error before anything starts
    stack.lock()
    marked = settings.postgres and not stack.wanted.is_file()
    try:
        if marked:
            stack.wanted.write_text("up --postgres\n")
        _start_parts(stack)
        stack.wait_ready()
        if stack.wanted.is_file():
            stack.postgres().ensure_database(stack.log("postgres"))
        if not settings.skip_base_image:
            stack.ensure_base_image()
    except BaseException:
        stack.stop_started()
        if marked:
            stack.wanted.unlink(missing_ok=True)
        raise
    what = f"up (started: {' '.join(stack.started)})" if stack.started else "already up"
    db = f", postgres {stack.where('postgres')}" if stack.wanted.is_file() else ""
    note(f"{what}; moto {stack.where('moto')}, registry {stack.where('registry')}{db}, engine {stack.engine.name}")
    return 0


def _start_parts(stack: Stack) -> None:
    pids = stack.pids
    # A running podman service stays the engine; otherwise look again (a Docker engine may have come).
    engine = stack.recorded_engine()
    if not (engine and engine.name == "podman" and pids.live("podman")):
        engine = stack.choose_engine()
    if engine.name == "podman" and len(str(stack.sock)) > podman.SOCKET_MAX:
        raise ConfigError(
            f"state folder path too long for a unix socket ({stack.sock}): set BATCHDEPLOY_LOCAL_DIR to a shorter path"
        )
    stack.adopt_postgres()
    # A running part keeps its port; a stopped one gets its recorded port back when free.
    for part in ("registry", "moto", *(["postgres"] if stack.wanted.is_file() else [])):
        port = stack.port(part) if pids.live(part) else str(pick_port(stack.port(part)))
        (stack.run / f"{part}.port").write_text(f"{port}\n")
    stack.write_engine_conf()
    changed = registry.write_config(stack.conf, stack.run, stack.state / "registry", int(stack.port("registry")))
    # podman reads registries.conf when it starts; a moved registry needs a fresh service.
    if changed and pids.live("podman"):
        stack.stop("podman")
    for part in stack.parts():
        if not pids.live(part):
            stack.start(part)


def down(stack: Stack) -> int:
    """Stop exactly what 'up' started, and the job containers its moto left running."""
    if not stack.run.is_dir():
        note(f"down (nothing recorded in {stack.state})")
        return 0
    stack.lock()
    moto_port = stack.port("moto")
    # moto first, so that it starts no new job container while the running ones are removed.
    stack.stop("moto")
    engine = stack.recorded_engine()
    if moto_port and engine and engine.reachable():
        podman.remove_job_containers(engine, moto_port)
    stack.stop("podman")
    stack.stop("registry")
    stack.stop("postgres")
    stack.wanted.unlink(missing_ok=True)  # the next `up` starts PostgreSQL only when asked again
    stack.sock.unlink(missing_ok=True)
    note("down")
    return 0


def part_lines(stack: Stack) -> tuple[list[str], bool]:
    """"PART up|down PID WHERE" per part, and whether every part is up."""
    if stack.recorded_engine() is None:
        return [], False
    lines, ok = [], True
    for part in stack.parts():
        pid = stack.pids.live(part)
        if pid and stack.answers(part):
            lines.append(f"{part:<9} up    pid {pid:<7} {stack.where(part)}  log: {stack.log(part)}")
        else:
            lines.append(f"{part:<9} down  {stack.where(part)}")
            ok = False
    engine = stack.engine
    if engine.name == "docker":
        if engine.answers():
            lines.append(f"{'docker':<9} up    (not started by us) {engine.host}")
        else:
            lines.append(f"{'docker':<9} down  {engine.host}")
            ok = False
    return lines, ok


def status(stack: Stack) -> int:
    """What runs; 0 when every part is up, 1 otherwise."""
    if stack.recorded_engine() is None:
        print(f"not up (state: {stack.state})")
        return 1
    lines, ok = part_lines(stack)
    if base_image.present(stack.engine):
        lines.append(f"{'image':<9} {base_image.NAME} present")
    else:
        lines.append(f"{'image':<9} {base_image.NAME} missing ({SCRIPT} base-image)")
    print("\n".join(lines), flush=True)
    return 0 if ok else 1


def env(stack: Stack) -> int:
    """Export lines pointing boto3, the aws CLI and deploy.sh at the stack."""
    _, ok = part_lines(stack)
    if not ok:
        raise OperationError(f"the local stack is not up: run {SCRIPT} up")
    engine = stack.engine
    pairs = [
        ("AWS_ENDPOINT_URL", stack.where("moto")),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        # The instance metadata address is routable here; nothing pointed at the stack may try it.
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_REGISTRY", stack.where("registry")),
        ("DOCKER_HOST", engine.host),
        ("CONTAINER_CLI", engine.name),
        ("BATCHDEPLOY_BASE_IMAGE", base_image.NAME),
        *engine.conf_env().items(),
    ]
    # PostgreSQL's keys when the stack runs it; the password is read from its file when sourced.
    server = stack.postgres() if stack.wanted.is_file() else None
    print(shell_exports(pairs + (server.exports() if server else [])), end="", flush=True)
    if server:
        print(server.password_export(), end="", flush=True)
    return 0


def build_base_image(stack: Stack) -> int:
    """Works with the stack up or down: `podman import` needs only the CLI and our containers.conf."""
    stack.lock()
    engine = stack.recorded_engine() or stack.choose_engine()
    if engine.name == "podman":
        stack.write_engine_conf()
    stack.ensure_base_image()
    note(f"{base_image.NAME} present ({engine.name})")
    return 0


COMMANDS = {"up": up, "down": down, "status": status, "env": env, "base-image": build_base_image}
CREATES = ("up", "base-image")  # the commands that may create the state folder
