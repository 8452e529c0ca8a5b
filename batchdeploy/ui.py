"""Everything batchdeploy prints goes through here, and every line through `secrets.redact` first, and
through `as_run`, which names the program the way the user ran it."""

from __future__ import annotations

import json
import os
import re
import sys

from batchdeploy.secrets import redact

# What would break a message over several lines, or drive the terminal: C0 and C1 controls, DEL, and
# the characters str.splitlines() and Unicode take for line ends.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """`text` with every control character escaped (\\n, \\t, \\x1b, \\u2028): a file name
    with a newline in it cannot split a message."""

    def escape(m):
        return m.group(0).encode("unicode_escape").decode("ascii")

    return _CONTROL.sub(escape, text)


# Hints are written as `./deploy.sh FLAG ...`; run as `batchdeploy` (or `python -m batchdeploy`), they
# say `batchdeploy VERB ...`. deploy.sh exports FRONT_DOOR so the Python core knows it was the door.
FRONT_DOOR = "BATCHDEPLOY_FRONT_DOOR"
_DEPLOY = re.compile(r"\./deploy\.sh(?: (-[A-Za-z]|--[a-z][a-z0-9-]*)(?![\w-]))?")


_VERB_OF_FLAG: dict[str, str] = {}  # deploy.sh's flag -> batchdeploy's verb; the command layer fills it


def name_verbs(verb_of_flag: dict[str, str]) -> None:
    _VERB_OF_FLAG.update(verb_of_flag)


def as_run(text: str, environ=None) -> str:
    """`text` with each `./deploy.sh FLAG` named as the user ran batchdeploy: unchanged through
    deploy.sh, else `batchdeploy VERB` (the verb of that flag; other flags kept as they are)."""
    if (os.environ if environ is None else environ).get(FRONT_DOOR) == "deploy.sh" or "./deploy.sh" not in text:
        return text
    verbs = _VERB_OF_FLAG
    return _DEPLOY.sub(lambda m: "batchdeploy" + (f" {verbs.get(m.group(1), m.group(1))}" if m.group(1) else ""), text)


class Output:
    """stdout for results, stderr for progress, warnings and errors; `quiet` keeps stdout to results."""

    def __init__(self, quiet: bool = False, fmt: str = "text", stdout=None, stderr=None):
        self.quiet = quiet
        self.fmt = fmt
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr

    @property
    def json(self) -> bool:
        return self.fmt == "json"

    def is_terminal(self) -> bool:
        try:
            return self.stderr.isatty()
        except (AttributeError, ValueError):
            return False

    def result(self, text: str = "") -> None:
        """A result line: always printed (it is what the user asked for)."""
        print(as_run(redact(text)), file=self.stdout, flush=True)

    def info(self, text: str = "") -> None:
        """Progress for a person: stdout, silenced by --quiet and by --output json."""
        if not self.quiet and not self.json:
            print(as_run(redact(text)), file=self.stdout, flush=True)

    def note(self, text: str) -> None:
        """Progress on stderr (keeps stdout clean for piping), silenced by --quiet; one line."""
        if not self.quiet:
            print(one_line(as_run(redact(text))), file=self.stderr, flush=True)

    def warn(self, text: str) -> None:
        print(one_line(as_run(redact(f"warning: {text}"))), file=self.stderr, flush=True)

    def error(self, text: str) -> None:
        print(one_line(as_run(redact(f"error: {text}"))), file=self.stderr, flush=True)

    def emit_json(self, obj) -> None:
        print(as_run(redact(json.dumps(obj, indent=2, sort_keys=True, default=str))), file=self.stdout, flush=True)
