"""A job definition file as both `-u` (jobs) and `--create` (infra) take it: read, `${VAR}` filled from
the configuration, tidied and checked (aws.jobdef_check), hashed (aws.jobdef_compare); registered, and
recorded in `.batchdeploy/job-definitions.json` (the NAME:REVISION `-r` submits to).

Moved here from jobdefs.py (same names and signatures) so the two capabilities share it instead of
importing each other.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from batchdeploy import config
from batchdeploy.aws import translate
from batchdeploy.aws.jobdef_check import build_request, check, tidy
from batchdeploy.aws.jobdef_compare import content_hash
from batchdeploy.errors import ConfigError
from batchdeploy.secrets import is_secret
from batchdeploy.state import IMAGES, JOB_DEFINITIONS

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class Source:
    """One job definition file, read, rendered and checked."""

    path: Path
    shown: str  # as the user names it: relative to the project folder when inside it
    definition: dict | None = None
    request: dict | None = None  # what RegisterJobDefinition is sent, tags included
    content_hash: str = ""
    uses_image_tag: bool = False

    @property
    def name(self) -> str:
        return self.definition["jobDefinitionName"]


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



def _shown(cfg, path: Path) -> str:
    try:
        return str(path.relative_to(cfg.project_dir))
    except ValueError:
        return str(path)


def _parse_json(text: str, shown: str, problems: list[str]):
    duplicates: list[str] = []

    def pairs(items):
        seen = {}
        for k, v in items:
            if k in seen:
                duplicates.append(k)
            seen[k] = v
        return seen

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        problems.append(f"{shown}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")
        return None
    for key in dict.fromkeys(duplicates):
        problems.append(f"{shown}: key {key!r} appears twice in one object (JSON keeps only the last)")
    return data


def _placeholders(node, where=""):
    """(name, json path, in_key) of every ${VAR} in `node`, keys included."""
    if isinstance(node, dict):
        for k, v in node.items():
            here = f"{where}.{k}" if where else k
            for m in _PLACEHOLDER.finditer(k):
                yield m.group(1), here, True
            yield from _placeholders(v, here)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _placeholders(v, f"{where}[{i}]")
    elif isinstance(node, str):
        for m in _PLACEHOLDER.finditer(node):
            yield m.group(1), where or "(top)", False


def resolve_image_tag(cfg, images: dict) -> tuple[str | None, str]:
    """`${IMAGE_TAG}`: IMAGE_TAG set in .aws_env, else the tag `-b` pushed for the image named
    PROJECT_NAME (else the only image), else VERSION. None with the reason when it is ambiguous."""
    if cfg.get("IMAGE_TAG"):
        return cfg["IMAGE_TAG"], f"IMAGE_TAG in {cfg.sources.get('IMAGE_TAG', 'the configuration')}"
    project = cfg.get("PROJECT_NAME")
    recorded = {k: v for k, v in (images or {}).items() if isinstance(v, dict) and v.get("tag")}
    if project in recorded:
        chosen = project
    elif len(recorded) == 1:
        chosen = next(iter(recorded))
    elif not recorded:
        return cfg.get("VERSION", "latest"), "VERSION (no image pushed yet by ./deploy.sh -b)"
    else:
        names = ", ".join(sorted(recorded))
        return None, f"images.json records several images ({names}) and none is named {project}"
    entry = recorded[chosen]
    when = f", pushed {entry['pushed_at']}" if entry.get("pushed_at") else ""
    return entry["tag"], f"image {chosen} in .batchdeploy/{IMAGES}{when}"


def load_file(cfg, path: Path, image_tag: str | None, image_tag_origin: str, *, shown: str | None = None,
              variables: dict | None = None,
              default_name: str | None = None) -> tuple[Source | None, list[str], list[str]]:
    """One file read, rendered and checked as `load_sources` does it for each file of JOB_DEFINITIONS.

    `shown` names the file in messages (default: relative to the project folder); `variables` are
    values for `${VAR}` beside the configuration's (a secret's placeholder is refused all the same);
    `default_name` is the jobDefinitionName of a file that leaves it out. Returns (source, problems,
    warnings), each line naming the file: the source is None when the file cannot be read, rendered
    or checked, and any problem means it must not be registered."""
    project = cfg["PROJECT_NAME"]
    src = Source(path, shown or _shown(cfg, path))
    problems: list[str] = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None, [f"{src.shown}: not UTF-8 text"], []
    except OSError as exc:
        return None, [f"{src.shown}: cannot read it ({exc.strerror})"], []
    data = _parse_json(text, src.shown, problems)
    if data is None:
        return None, problems, []
    values = {k: v for k, v in cfg.variables().items() if not is_secret(k)}
    if image_tag is not None:
        values["IMAGE_TAG"] = image_tag
    values.update(variables or {})
    stand_ins, bad = _refused_placeholders(src, data, image_tag, image_tag_origin, problems)
    try:
        rendered = config.render(data, {**values, **stand_ins}, src.shown)
    except ConfigError as exc:
        for unknown in exc.problems:
            var = unknown.split("}", 1)[0].lstrip("${")
            problems.append(f"{src.shown}: unknown placeholder {unknown} (define {var} in .aws_env)")
        return None, problems, []
    if bad:
        return None, problems, []
    defn = tidy(rendered)
    if default_name and isinstance(defn, dict):
        defn.setdefault("jobDefinitionName", default_name)
    found = check(defn, project)
    problems += [f"{src.shown}: {p}" for p in found.problems]
    warnings = [f"{src.shown}: {w}" for w in found.warnings]
    if found.problems:
        return None, problems, warnings
    src.definition = defn
    base = build_request(defn, project)
    src.content_hash = content_hash(base)
    src.request = build_request(defn, project, src.content_hash)
    return src, problems, warnings


def _refused_placeholders(src: Source, data, image_tag: str | None, image_tag_origin: str, problems: list[str]):
    """The `${VAR}`s of `data` that cannot be filled (in a key, a secret, an IMAGE_TAG that cannot be
    resolved), each a problem; returns (empty stand-ins for them, whether any was found)."""
    bad = False
    stand_ins = {}
    for name, where, in_key in _placeholders(data):
        if in_key:
            problems.append(f"{src.shown}: ${{{name}}} in the key {where}: placeholders are filled in values only")
            bad = True
        elif is_secret(name):
            problems.append(
                f"{src.shown}: ${{{name}}} at {where} is a secret; a job definition is readable by anyone "
                "allowed batch:DescribeJobDefinitions, so use containerProperties.secrets instead"
            )
            stand_ins[name] = ""
            bad = True
        elif name == "IMAGE_TAG":
            src.uses_image_tag = True
            if image_tag is None:
                problems.append(f"{src.shown}: ${{IMAGE_TAG}} at {where}: {image_tag_origin}; set IMAGE_TAG in .aws_env")
                stand_ins[name] = ""
                bad = True
    return stand_ins, bad


def register(batch, item: Item) -> None:
    src = item.source
    with translate(f"register job definition {src.name} from {src.shown} (batch:RegisterJobDefinition)"):
        answer = batch.register_job_definition(**src.request)
    item.status = "registered"
    item.arn, item.revision = answer["jobDefinitionArn"], answer["revision"]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def record(ctx, previous: dict, items: list[Item], default: str) -> None:
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
    ctx.state.write(JOB_DEFINITIONS, {**previous, "default": default, "definitions": definitions})
