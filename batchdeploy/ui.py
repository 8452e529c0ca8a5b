"""Everything batchdeploy prints goes through here, and every line through `secrets.redact` first."""

from __future__ import annotations

import json
import sys

from batchdeploy.secrets import redact


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
        print(redact(text), file=self.stdout, flush=True)

    def info(self, text: str = "") -> None:
        """Progress for a person: stdout, silenced by --quiet and by --output json."""
        if not self.quiet and not self.json:
            print(redact(text), file=self.stdout, flush=True)

    def note(self, text: str) -> None:
        """Progress on stderr (keeps stdout clean for piping), silenced by --quiet."""
        if not self.quiet:
            print(redact(text), file=self.stderr, flush=True)

    def warn(self, text: str) -> None:
        print(redact(f"warning: {text}"), file=self.stderr, flush=True)

    def error(self, text: str) -> None:
        print(redact(f"error: {text}"), file=self.stderr, flush=True)

    def emit_json(self, obj) -> None:
        print(redact(json.dumps(obj, indent=2, sort_keys=True, default=str)), file=self.stdout, flush=True)
