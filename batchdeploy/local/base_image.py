"""The base image: Debian bookworm with Python, built offline by mmdebstrap from the Debian mirror
once, then kept as a tarball, so a reset engine storage costs an import (about 5 s), not a build
(about 30 s)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from batchdeploy.errors import ConfigError, OperationError
from batchdeploy.local.podman import Engine
from batchdeploy.local.supervise import trace

NAME = "batchdeploy-base:bookworm"
# Debian's python3-boto3/python3-yaml make the image usable offline.
PACKAGES = "python3,python3-boto3,python3-yaml,ca-certificates"
MIRROR = "http://deb.debian.org/debian"
# Docs, man pages and locales are dropped to keep the image small.
DPKG_OPTIONS = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*",
)
# LANG as in the python:*-slim images the example uses on AWS.
IMPORT_CHANGES = ("ENV LANG=C.UTF-8", 'CMD ["python3"]')


def mmdebstrap_command(target: Path, mirror: str) -> list[str]:
    # mmdebstrap guesses the format from the file name, which .partial.PID would make a directory.
    return [
        "mmdebstrap", "--variant=apt", "--format=tar", f"--include={PACKAGES}",
        *(f"--dpkgopt={opt}" for opt in DPKG_OPTIONS), "bookworm", str(target), mirror,
    ]


def import_args(tarball: Path) -> list[str]:
    changes = [arg for change in IMPORT_CHANGES for arg in ("--change", change)]
    return ["import", *changes, str(tarball), NAME]


def present(engine: Engine) -> bool:
    return engine.cli("image", "inspect", NAME).returncode == 0


def build_tarball(tarball: Path, log: Path, mirror: str, note) -> None:
    """mmdebstrap into TARBALL.partial.PID, renamed when whole; a failure or an interrupt leaves no
    partial file."""
    if shutil.which("mmdebstrap") is None:
        raise ConfigError("mmdebstrap not found: apt-get install mmdebstrap")
    note(f"building {tarball} with mmdebstrap (about 30 s, once)")
    tarball.parent.mkdir(parents=True, exist_ok=True)
    partial = tarball.with_name(f"{tarball.name}.partial.{os.getpid()}")
    argv = mmdebstrap_command(partial, mirror)
    trace(*argv)
    try:
        # mmdebstrap reads a sources list from stdin when it is not a terminal, hence DEVNULL.
        with open(log, "wb") as out:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, check=False)
        if done.returncode != 0:
            raise OperationError(f"mmdebstrap failed to build the base image (log: {log})")
        os.replace(partial, tarball)
    finally:
        partial.unlink(missing_ok=True)


def ensure(engine: Engine, tarball: Path, log: Path, mirror: str, note) -> None:
    """The base image in the engine: nothing when present, else imported from the cached tarball,
    built first when there is none."""
    if present(engine):
        return
    if not tarball.is_file() or tarball.stat().st_size == 0:
        build_tarball(tarball, log, mirror, note)
    note(f"importing {NAME} from {tarball}")
    with open(log, "a") as out:
        done = engine.cli(*import_args(tarball), stdout=out, stderr=subprocess.STDOUT, timeout=None)
    if done.returncode != 0:
        raise OperationError(f"cannot import {tarball} into {engine.name} (log: {log})")
