"""Which overrides file and which credentials filter a project's `-r` uses, found once.

    OVERRIDES_FILE      set: that file, and it must exist; unset: `env-overrides.json`, else triage's
                        `infrastructure/aws_batch/triage-overrides.json`; none: no overrides
    CREDENTIALS_FILTER  set: that file, and it must exist; unset: `credentials-filter`, else triage's
                        `credentials.filter` (at the top, then in `infrastructure/aws_batch/`); none:
                        the built-in copy of triage's filter

Paths are relative to the project folder (where `.aws_env` is). `-r` says in one line which files it
used, so a triage project whose files sit in triage's layout is never run silently without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from batchdeploy.errors import ConfigError

TRIAGE_DIR = "infrastructure/aws_batch"
OVERRIDES = ("env-overrides.json", f"{TRIAGE_DIR}/triage-overrides.json")
FILTERS = ("credentials-filter", "credentials.filter", f"{TRIAGE_DIR}/credentials.filter")


@dataclass(frozen=True)
class Found:
    path: Path | None  # None: no such file (no overrides; the built-in filter)
    label: str  # as the user would name it: relative to the project when it is inside it
    how: str  # "OVERRIDES_FILE" / "CREDENTIALS_FILTER" (named by the key), "found", "none"


def _label(path: Path, project: Path) -> str:
    try:
        return str(path.relative_to(project))
    except ValueError:
        return str(path)


def _find(cfg, key: str, candidates: tuple[str, ...]) -> Found:
    named = cfg.get(key) if cfg.sources.get(key) != "default" else None
    if named:
        path = cfg.path(named)
        if not path.is_file():
            raise ConfigError(f"{key}={named} names no file ({path})",
                              hint=f"fix {key} in {cfg.where()}, or remove it to use {candidates[0]}")
        return Found(path, _label(path, cfg.project_dir), key)
    for name in candidates:
        path = cfg.path(name)
        if path.exists():
            return Found(path, name, "found")
    return Found(None, candidates[0], "none")


def overrides_file(cfg) -> Found:
    return _find(cfg, "OVERRIDES_FILE", OVERRIDES)


def filter_file(cfg) -> Found:
    return _find(cfg, "CREDENTIALS_FILTER", FILTERS)


def used_line(overrides: Found, credentials_filter: Found | None) -> str:
    """The one line `-r` prints: which overrides and which filter (None: --no-credentials)."""
    parts = [f"overrides {overrides.label}" if overrides.path else f"no overrides ({' or '.join(OVERRIDES)} absent)"]
    if credentials_filter is not None:
        parts.append(f"credentials filter {credentials_filter.label}" if credentials_filter.path
                     else "the built-in credentials filter (triage's)")
    triage = any(f is not None and f.path is not None and f.label.startswith((TRIAGE_DIR, "credentials.filter"))
                 for f in (overrides, credentials_filter))
    return "project files: " + ", ".join(parts) + (" (triage's layout)" if triage else "")
