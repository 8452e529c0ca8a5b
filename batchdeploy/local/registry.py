"""The image registry (Debian's `docker-registry`, the CNCF distribution registry): stands in for
ECR's image endpoint, plain HTTP on a loopback port, storage in the state folder."""

from __future__ import annotations

import secrets
from pathlib import Path

from batchdeploy.local.supervise import LOOPBACK, http_ok, read_text
from batchdeploy.state import atomic_write

COMMAND = "docker-registry"


def command(config: Path) -> list[str]:
    return [COMMAND, "serve", str(config)]


def answers(port: str | int) -> bool:
    return http_ok(f"http://{LOOPBACK}:{port}/v2/")


def config_yaml(storage: Path, port: int, secret: str) -> str:
    # The path is JSON-quoted: valid YAML whatever the folder is called.
    return f"""version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: "{storage}"
  delete:
    enabled: true
http:
  addr: {LOOPBACK}:{port}
  secret: "{secret}"
"""


def registries_conf(port: int) -> str:
    """podman refuses plain HTTP unless the registry is named insecure; a prefix without the port does
    not match, so the file names the port and changes with it."""
    return f'[[registry]]\nlocation = "{LOOPBACK}:{port}"\ninsecure = true\n'


def write_config(conf: Path, run: Path, storage: Path, port: int) -> bool:
    """registry.yml and podman's registries.conf for `port`; whether registries.conf changed (podman
    reads it when it starts, so a moved registry needs a fresh service)."""
    wanted = registries_conf(port)
    changed = read_text(conf / "registries.conf") != wanted.strip()
    if changed:
        atomic_write(conf / "registries.conf", wanted)
    # A fixed secret keeps resumable uploads valid across a registry restart.
    secret_file = run / "registry.secret"
    secret = read_text(secret_file)
    if not secret:
        secret = secrets.token_hex(16)
        atomic_write(secret_file, secret, mode=0o600)
    atomic_write(conf / "registry.yml", config_yaml(storage, port, secret))
    return changed
