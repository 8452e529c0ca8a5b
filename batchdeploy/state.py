"""The project's local state folder (`.batchdeploy/` beside `.aws_env`, git-ignored).

What each verb records for the next one: `-b` the image it pushed (`images.json`), `-u` the job
definition revision in force (`job-definitions.json`), `-r` the jobs it submitted (`jobs.jsonl`).
Writes are atomic (temporary file, then rename), so an interrupted run leaves the previous state,
never half of a new one. Nothing secret is ever written here.
"""

from __future__ import annotations

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
SYNC_CACHE_DIR = "sync"  # sync: hash caches, one file per (local, remote) pair


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
    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _file(self, name: str) -> Path:
        return self.folder / name

    def read(self, name: str, default=None):
        path = self._file(name)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {} if default is None else default
        except (OSError, ValueError) as exc:
            raise ConfigError(f"state file {path} is unreadable ({exc})", hint="delete it and run again") from None

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
        try:
            lines = self._file(name).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line torn by a crash is skipped, the rest still count
        return out
