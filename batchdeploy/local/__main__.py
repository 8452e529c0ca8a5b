"""`python -m batchdeploy.local COMMAND` (also `scripts/local-stack.sh COMMAND`)."""

from __future__ import annotations

import os
import signal
import sys

from batchdeploy.errors import INTERRUPTED, USAGE, BatchdeployError
from batchdeploy.local import base_image, postgres
from batchdeploy.local.commands import COMMANDS, CREATES
from batchdeploy.local.stack import Settings, Stack, note

USAGE_TEXT = f"""Usage: scripts/local-stack.sh COMMAND
   or: python -m batchdeploy.local COMMAND

A local AWS Batch: moto server + image registry + container engine, on 127.0.0.1.

Commands:
  up [--postgres]
              start what is not running (idempotent) and wait until every part answers;
              also makes sure the base image {base_image.NAME} exists. --postgres (or
              LOCAL_POSTGRES=yes in ./.aws_env, or BATCHDEPLOY_LOCAL_POSTGRES=yes) adds a
              PostgreSQL server, until 'down'
  down        stop exactly what 'up' started, and the job containers it left running
  status      say what runs; exit 0 when every part is up, 1 otherwise
  env         print 'export' lines pointing boto3, the aws CLI and deploy.sh at the stack:
                source <(scripts/local-stack.sh env)
              with PostgreSQL: PG* for psql and BATCHDEPLOY_POSTGRES_* (HOST, PORT, USER, DB,
              and PASSWORD read from its 0600 file when sourced: the value is never printed)
  base-image  build (once, offline after the first time) and import {base_image.NAME}

Environment:
  BATCHDEPLOY_LOCAL_DIR       state folder (default: <repo>/.local-stack)
  BATCHDEPLOY_BASE_TAR        cached base image tarball (default: <state>/cache/base-bookworm.tar)
  BATCHDEPLOY_SKIP_BASE_IMAGE=1  'up' leaves the base image alone
  BATCHDEPLOY_ENGINE          auto (default: a Docker engine if one answers, else podman), docker, podman
  BATCHDEPLOY_PYTHON          python with moto[server] (default: <repo>/.venv/bin/python, else python3)
  BATCHDEPLOY_UP_TIMEOUT      seconds 'up' waits for the parts to answer (default: 60)
  BATCHDEPLOY_LOCK_TIMEOUT    seconds a command waits for another one on the same state (default: 300)
  BATCHDEPLOY_DEBIAN_MIRROR   mirror for the base image (default: {base_image.MIRROR})
  BATCHDEPLOY_POSTGRES_BIN    PostgreSQL's bin folder (default: the newest /usr/lib/postgresql/N/bin)
  BATCHDEPLOY_DEBUG=1         trace every step and command

Exit codes: 0 ok, 1 failed, 2 usage or a missing tool, 130 interrupted.
"""


class Interrupted(BaseException):
    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def _on_signal(signum, _frame):
    # A second signal while cleaning up ends the process, as the first would have without us.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise Interrupted(INTERRUPTED if signum == signal.SIGINT else 128 + signum)


def usage_error(text: str) -> int:
    print(USAGE_TEXT, file=sys.stderr, end="")
    note(text)
    return USAGE


def wants_postgres() -> bool:
    """LOCAL_POSTGRES in the current folder's configuration (.aws_env, or BATCHDEPLOY_LOCAL_POSTGRES)."""
    from batchdeploy import config

    try:
        value = config.load().get("LOCAL_POSTGRES")
    except BatchdeployError as exc:  # a project file the stack cannot read must not keep it down
        note(f"LOCAL_POSTGRES not read: {exc.line()}")
        return False
    return postgres.wanted_by(value)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command in ("-h", "--help", "help"):
        print(USAGE_TEXT, end="")
        return 0
    if not command:
        return usage_error("no command given")
    if command not in COMMANDS:
        return usage_error(f"unknown command: {command}")
    options = argv[1:]
    if command == "up" and options in ([], ["--postgres"]):
        pass
    elif options:
        what = "takes only --postgres" if command == "up" else "takes no arguments"
        return usage_error(f"{command} {what} (got: {' '.join(options)})")
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    # Nothing the stack starts may look for instance metadata (169.254.169.254 is routable here).
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    try:
        settings = Settings.from_environ(os.environ)
        if command == "up":
            settings.postgres = "--postgres" in options or wants_postgres()
        stack = Stack.open(settings, create=command in CREATES)
        return COMMANDS[command](stack)
    except BatchdeployError as exc:
        note(exc.line())
        return exc.exit_code
    except Interrupted as exc:
        note("interrupted")
        return exc.code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
