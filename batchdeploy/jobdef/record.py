"""Registering a job definition revision and recording it for `-r`: shared by `-u` and `--create`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from batchdeploy.aws import translate
from batchdeploy.jobdef.files import Source
from batchdeploy.state import JOB_DEFINITIONS


@dataclass
class Item:
    """One definition's plan and, once applied, its result."""

    source: Source
    revisions: list[dict] = field(default_factory=list)  # ACTIVE revisions, newest first
    latest: dict | None = None
    changes: list = field(default_factory=list)
    status: str = ""  # unchanged | register | registered
    arn: str = ""
    revision: int | None = None

    @property
    def name(self) -> str:
        return self.source.name


def register(batch, item: Item) -> None:
    src = item.source
    with translate(f"register job definition {src.name} from {src.shown} (batch:RegisterJobDefinition)"):
        answer = batch.register_job_definition(**src.request)
    item.status = "registered"
    item.arn, item.revision = answer["jobDefinitionArn"], answer["revision"]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def record(state, previous: dict, items: list[Item], default: str) -> None:
    """job-definitions.json: the NAME:REVISION in force per name; written atomically, and only
    for definitions that were registered or found unchanged."""
    done = [i for i in items if i.status in ("registered", "unchanged")]
    if not done:
        return
    definitions = dict(previous.get("definitions") or {})
    for item in done:
        before = definitions.get(item.name) or {}
        when = before.get("registered_at") if before.get("arn") == item.arn and item.status == "unchanged" else None
        definitions[item.name] = {
            "arn": item.arn,
            "revision": item.revision,
            "hash": item.source.content_hash,
            "file": item.source.shown,
            "registered_at": when or _now(),
        }
    if default not in {i.name for i in done}:
        default = previous.get("default") or done[0].name
    state.write(JOB_DEFINITIONS, {**previous, "default": default, "definitions": definitions})
