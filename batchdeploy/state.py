"""The project's local state folder (`.batchdeploy/` beside `.aws_env`, git-ignored).

What each verb records for the next one: `-b` the image it pushed (`images.json`), `-u` the job
definition revision in force (`job-definitions.json`), `-r` the jobs it submitted (`jobs.jsonl`).
Writes are atomic (temporary file, then rename), so an interrupted run leaves the previous state,
never half of a new one. Nothing secret is ever written here.
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
from pathlib import Path

from batchdeploy.errors import ConfigError

# Every state file, named once. All live in STATE_DIR (default `.batchdeploy/`).
IMAGES = "images.json"  # -b: the image each name was last pushed as (tag, digest)
REGISTRY_LOGINS = "registry-logins.json"  # -b: when the engine last logged in, per registry
JOB_DEFINITIONS = "job-definitions.json"  # -u: the revision in force per name, and the default
JOBS = "jobs.jsonl"  # -r: one line per submitted job
INFRA = "infra.json"  # --create/--delete: what was made, as a journal
SYNC_CACHE = "sync-{ident}.json"  # sync: a hash cache per (local folder, remote prefix) pair
SYNC_UPLOADS = "sync-{ident}-uploads.json"  # sync-to-s3: keys of multipart uploads that may be open


def now() -> datetime.datetime:
    """The time state records are stamped with: aware, in UTC."""
    return datetime.datetime.now(datetime.timezone.utc)


def iso(t: datetime.datetime | None = None) -> str:
    """`t` (default: now) as state files write it: ISO 8601, UTC, to the second."""
    return (t or now()).astimezone(datetime.timezone.utc).isoformat(timespec="seconds")


def atomic_write(path, text: str, *, mode: int | None = None, errors: str = "strict") -> Path:
    """Write `text` to `path` so a reader sees the old file or the whole new one, never a part:
    a temporary file in the same folder, then rename. `mode` sets the new file's permissions."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors=errors, newline="") as fh:
            fh.write(text)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class State:
    """The state folder. Every file is read defensively: a damaged one is a one-line error naming it
    and what to do (or, for jobs.jsonl, its damaged lines are skipped with one warning), never a
    traceback."""

    def __init__(self, folder: Path, warn=None):
        self.folder = Path(folder)
        self.warn = warn or (lambda text: None)

    def _file(self, name: str) -> Path:
        return self.folder / name

    def read(self, name: str, default=None) -> dict:
        """A JSON object file; {} (or `default`) when it does not exist."""
        path = self._file(name)
        try:
            data = json.loads(path.read_bytes().decode("utf-8"))
        except FileNotFoundError:
            return {} if default is None else default
        except (OSError, ValueError, RecursionError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise ConfigError(f"state file {path} is unreadable ({reason})",
                              hint="move it away and run again; the verb that writes it will make a new one") from None
        if not isinstance(data, dict):
            raise ConfigError(f"state file {path} is damaged (it holds {type(data).__name__}, not an object)",
                              hint="move it away and run again; the verb that writes it will make a new one")
        return data

    def write(self, name: str, data) -> Path:
        return atomic_write(self._file(name), json.dumps(data, indent=2, sort_keys=True) + "\n")

    def update(self, name: str, **entries) -> dict:
        """Merge top-level entries into a JSON object file and write it back atomically."""
        data = self.read(name)
        data.update(entries)
        self.write(name, data)
        return data

    def append(self, name: str, record: dict) -> None:
        """One JSON object per line; a single short write, so a crash leaves whole lines."""
        self.folder.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, sort_keys=True) + "\n"
        with open(self._file(name), "a", encoding="utf-8") as fh:
            fh.write(line)

    def records(self, name: str) -> list[dict]:
        """The JSON object lines of `name`. A line torn by a crash, not UTF-8, or not an object is
        skipped (one warning says how many); the rest still count."""
        path = self._file(name)
        try:
            lines = path.read_bytes().splitlines()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ConfigError(f"state file {path} is unreadable ({exc.strerror})", hint="check its permissions") from None
        out, damaged = [], 0
        for line in lines:
            try:
                record = json.loads(line.decode("utf-8")) if line.strip() else None
            except (ValueError, RecursionError):
                record = False
            if isinstance(record, dict):
                out.append(record)
            elif record is not None:
                damaged += 1
        if damaged:
            self.warn(f"{path}: {damaged} damaged line(s) skipped (torn by a crash or edited by hand)")
        return out
