"""Registering a job definition revision and recording it for `-r`: shared by `-u` and `--create`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from batchdeploy.aws import batch as aws_batch
from batchdeploy.aws import translate
from batchdeploy.aws.errors import failure_kind
from batchdeploy.aws.tags import TAG_HASH
from batchdeploy.errors import ConfigError
from batchdeploy.jobdef.files import Source
from batchdeploy.state import JOB_DEFINITIONS, iso


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


def register(aws, item: Item, note=None, sleep=time.sleep) -> None:
    """RegisterJobDefinition, leaving at most one new revision of this content hash.

    The call is not idempotent, so botocore's retries are off for it (an SDK retry after a lost answer
    made two identical revisions). When an answer may have been lost (connection closed, time-out,
    5xx), the name's ACTIVE revisions are searched for this hash tag first: one newer than those known
    when the run was planned is the one the lost call made. Sent again only when there is none; if a
    second one then shows up anyway, the later is deregistered and `note` says so. Attempts: at most
    AWS_MAX_ATTEMPTS, paced by `sleep` (0.5 s, doubling) as botocore would pace them."""
    src = item.source
    sender = aws.client("batch", retries={"total_max_attempts": 1})
    reader = aws.client("batch")
    floor = max((r.get("revision", 0) for r in item.revisions), default=0)
    doing = f"register job definition {src.name} from {src.shown} (batch:RegisterJobDefinition)"
    lost, attempts, delay = False, max(1, aws.settings.max_attempts), 0.5
    for attempt in range(1, attempts + 1):
        try:
            answer = sender.register_job_definition(**src.request)
            break
        except Exception as exc:  # noqa: BLE001 - sorted by failure_kind; the rest is translated
            kind = failure_kind(exc)
            if kind == "lost" and src.content_hash:
                found = same_hash(reader, src.name, src.content_hash, floor)
                if found:
                    answer = found[0]
                    break
                lost = True
            if kind is None or attempt == attempts:
                with translate(doing):
                    raise
            sleep(delay)
            delay *= 2
    if lost:
        answer = _keep_first(aws, src, floor, answer, note or (lambda text: None))
    item.status = "registered"
    item.arn, item.revision = answer["jobDefinitionArn"], answer["revision"]


def same_hash(batch, name: str, content_hash: str, floor: int) -> list[dict]:
    """ACTIVE revisions of `name` newer than `floor` tagged with `content_hash`, oldest first."""
    found = [r for r in aws_batch.active_revisions(batch, name)
             if r["revision"] > floor and (r.get("tags") or {}).get(TAG_HASH) == content_hash]
    return sorted(found, key=lambda r: r["revision"])


def _keep_first(aws, src, floor: int, answer: dict, note) -> dict:
    """After a send that followed a lost answer: if the lost call made a revision after all, two
    carry this hash; the later ones are deregistered and the first is kept."""
    found = same_hash(aws.client("batch"), src.name, src.content_hash, floor)
    if len(found) < 2:
        return answer
    keep, extra = found[0], found[1:]
    for rev in extra:
        with translate(f"deregister the duplicate {src.name}:{rev['revision']} (batch:DeregisterJobDefinition)"):
            aws.client("batch").deregister_job_definition(jobDefinition=rev["jobDefinitionArn"])
    shown = ", ".join(f"{src.name}:{r['revision']}" for r in extra)
    note(f"RegisterJobDefinition's lost answer had made {src.name}:{keep['revision']} after all; "
         f"deregistered the duplicate {shown}")
    return keep


_JSON_KIND = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number",
              bool: "a boolean", type(None): "null"}


def read_recorded(state) -> dict:
    """job-definitions.json, its shape checked: {"default": NAME, "definitions": {NAME: {"arn": ARN,
    "revision": N, ...}}}. A damaged file (hand-edited, or a list where an object belongs) is one
    ConfigError naming it and what to do, never a traceback further on."""
    data = state.read(JOB_DEFINITIONS)
    problem = _shape_problem(data)
    if problem:
        raise ConfigError(f"state file {state.folder / JOB_DEFINITIONS} is damaged ({problem})",
                          hint="move it away and run ./deploy.sh -u, which records the revisions in force again")
    return data


def _shape_problem(data: dict) -> str | None:
    defs = data.get("definitions", {})
    if not isinstance(defs, dict):
        return f'"definitions" is {_JSON_KIND.get(type(defs), "not an object")}, not an object'
    default = data.get("default")
    if default is not None and not isinstance(default, str):
        return f'"default" is {_JSON_KIND.get(type(default), "not a string")}, not a name'
    for name, entry in defs.items():
        if not isinstance(entry, dict):
            return f'the entry of {name!r} is {_JSON_KIND.get(type(entry), "not an object")}, not an object'
        if not isinstance(entry.get("arn", ""), str) or type(entry.get("revision", 0)) is not int:
            return f'the entry of {name!r} has an "arn" that is not a string or a "revision" that is not a number'
    return None


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
            "registered_at": when or iso(),
        }
    if default not in {i.name for i in done}:
        default = previous.get("default") or done[0].name
    state.write(JOB_DEFINITIONS, {**previous, "default": default, "definitions": definitions})
