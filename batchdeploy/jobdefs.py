"""`-u` / `update-jobs`: register the job definitions that changed, and only those; `--prune KEEP`.

The run is planned before anything is changed, in three steps:

1. read every file JOB_DEFINITIONS names (files or folders of *.json), fill `${VAR}` from the
   configuration (`${IMAGE_TAG}`: the tag `-b` recorded, else VERSION) and check each against
   botocore's model and AWS Batch's documented limits. Any problem in any file stops the run here,
   before a single AWS call: nothing is registered for a broken file, nor for its good neighbours;
2. read the latest ACTIVE revision of each name (DescribeJobDefinitions) and compare it with the
   file, both normalized (jobdef_model.normalize): unchanged means no RegisterJobDefinition call;
3. register what changed (tagged with the project and the content hash), record NAME:REVISION in
   `.batchdeploy/job-definitions.json` for `-r`, then prune if asked.

`--dry-run` stops after step 2 and shows what steps 3 and the prune would do.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from batchdeploy import config, jobdef_model
from batchdeploy.aws import translate
from batchdeploy.aws.session import resolve_region
from batchdeploy.errors import ConfigError, OperationError, UsageError
from batchdeploy.jobdef_model import ACTIVE_JOB_STATUSES, PROJECT_TAG
from batchdeploy.secrets import is_secret

STATE_FILE = "job-definitions.json"
IMAGES_FILE = "images.json"
JOBS_FILE = "jobs.jsonl"
DEFAULT_FILE = "job-definition.json"
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


# ---------------------------------------------------------------------------------------------
# Reading the files
# ---------------------------------------------------------------------------------------------


def _shown(cfg, path: Path) -> str:
    try:
        return str(path.relative_to(cfg.project_dir))
    except ValueError:
        return str(path)


def find_files(cfg) -> tuple[list[Path], list[str]]:
    """The files JOB_DEFINITIONS names, folders expanded to their *.json files (sorted)."""
    raw = cfg.get("JOB_DEFINITIONS") or DEFAULT_FILE
    try:
        entries = shlex.split(raw)
    except ValueError as exc:
        raise ConfigError(f"JOB_DEFINITIONS={raw!r} cannot be split into paths: {exc}") from None
    files: list[Path] = []
    problems: list[str] = []
    for entry in entries:
        path = cfg.path(entry)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix == ".json" and p.is_file() and not p.name.startswith("."))
            if not found:
                problems.append(f"{entry}: the folder holds no .json file")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            example = path.with_name(path.name + ".example")
            hint = (
                f"copy {_shown(cfg, example)} to {entry} and adapt it"
                if example.is_file()
                else "check JOB_DEFINITIONS in .aws_env"
            )
            problems.append(f"{entry}: no such file ({hint})")
    unique: list[Path] = []
    for p in files:
        if p.resolve() not in {u.resolve() for u in unique}:
            unique.append(p)
    return unique, problems


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
    return entry["tag"], f"image {chosen} in .batchdeploy/{IMAGES_FILE}{when}"


def load_sources(cfg, image_tag: str | None, image_tag_origin: str, region: str | None = None):
    """Read, render and check every file. Returns (sources, warnings), or raises ConfigError with
    every problem of every file."""
    paths, problems = find_files(cfg)
    # A region from the profile: ${AWS_REGION} works either way.
    extra = {"AWS_REGION": region} if region and not cfg.variables().get("AWS_REGION") else None
    warnings: list[str] = []
    sources: list[Source] = []
    for path in paths:
        src, found, warned = load_file(cfg, path, image_tag, image_tag_origin, variables=extra)
        problems += found
        warnings += warned
        if src is not None:
            sources.append(src)
    by_name: dict[str, str] = {}
    for src in sources:
        if src.name in by_name:
            problems.append(f"{src.shown}: jobDefinitionName {src.name!r} is also defined in {by_name[src.name]}")
        by_name.setdefault(src.name, src.shown)
    if problems:
        n = len(problems)
        raise ConfigError(
            f"{n} problem{'s' if n > 1 else ''} in the job definitions",
            problems,
            hint="nothing was registered; fix them and run again",
        )
    if not sources:
        raise ConfigError("JOB_DEFINITIONS names no job definition file", hint="list files or folders in .aws_env")
    return sources, warnings


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
    try:
        rendered = config.render(data, {**values, **stand_ins}, src.shown)
    except ConfigError as exc:
        for unknown in exc.problems:
            var = unknown.split("}", 1)[0].lstrip("${")
            problems.append(f"{src.shown}: unknown placeholder {unknown} (define {var} in .aws_env)")
        return None, problems, []
    if bad:
        return None, problems, []
    defn = jobdef_model.tidy(rendered)
    if default_name and isinstance(defn, dict):
        defn.setdefault("jobDefinitionName", default_name)
    found = jobdef_model.check(defn, project)
    problems += [f"{src.shown}: {p}" for p in found.problems]
    warnings = [f"{src.shown}: {w}" for w in found.warnings]
    if found.problems:
        return None, problems, warnings
    src.definition = defn
    base = jobdef_model.build_request(defn, project)
    src.content_hash = jobdef_model.content_hash(base)
    src.request = jobdef_model.build_request(defn, project, src.content_hash)
    return src, problems, warnings


# ---------------------------------------------------------------------------------------------
# AWS
# ---------------------------------------------------------------------------------------------


def active_revisions(batch, name: str) -> list[dict]:
    """Every ACTIVE revision of `name`, newest first (DescribeJobDefinitions, paginated)."""
    out: list[dict] = []
    with translate(f"read job definition {name} (batch:DescribeJobDefinitions)"):
        for page in batch.get_paginator("describe_job_definitions").paginate(jobDefinitionName=name, status="ACTIVE"):
            out += [d for d in page.get("jobDefinitions", []) if d.get("jobDefinitionName") == name]
    return sorted((d for d in out if d.get("status", "ACTIVE") == "ACTIVE"), key=lambda d: -d["revision"])


def plan(batch, sources: list[Source], project: str) -> list[Item]:
    """Compare each file with the latest ACTIVE revision of its name. Read-only: a name that
    another project owns stops the run before anything is registered."""
    items = []
    foreign = []
    for src in sources:
        item = Item(src, revisions=active_revisions(batch, src.name))
        item.latest = item.revisions[0] if item.revisions else None
        owner = ((item.latest or {}).get("tags") or {}).get(PROJECT_TAG)
        if owner not in (None, project):
            foreign.append(
                f"{src.shown}: {src.name} belongs to project {owner!r} (its {src.name}:{item.latest['revision']} "
                f"is tagged {PROJECT_TAG}={owner})"
            )
        if item.latest is not None and jobdef_model.same(item.latest, src.request):
            item.status = "unchanged"
            item.arn, item.revision = item.latest["jobDefinitionArn"], item.latest["revision"]
        else:
            item.status = "register"
            item.changes = jobdef_model.changes(item.latest, src.request)
        items.append(item)
    if foreign:
        raise ConfigError(
            "job definition names taken by another project",
            foreign,
            hint="nothing was registered; give jobDefinitionName a name of this project's own",
        )
    return items


def register(batch, item: Item) -> None:
    src = item.source
    with translate(f"register job definition {src.name} from {src.shown} (batch:RegisterJobDefinition)"):
        answer = batch.register_job_definition(**src.request)
    item.status = "registered"
    item.arn, item.revision = answer["jobDefinitionArn"], answer["revision"]


# ---------------------------------------------------------------------------------------------
# State for -r
# ---------------------------------------------------------------------------------------------


def say(out, text: str) -> None:
    """A result line in text mode; --output json prints one object at the end instead."""
    if not out.json:
        out.result(text)


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
    ctx.state.write(STATE_FILE, {**previous, "default": default, "definitions": definitions})


# ---------------------------------------------------------------------------------------------
# Prune
# ---------------------------------------------------------------------------------------------


def _queues(ctx, jobs: list[dict]) -> list[str]:
    queues = []
    for q in [ctx.cfg.get("AWS_JOB_QUEUE")] + [j.get("queue") for j in jobs]:
        if isinstance(q, str) and q and q not in queues:
            queues.append(q)
    return queues


def jobs_using(ctx, batch, candidates: set[tuple[str, int]], jobs: list[dict]) -> dict:
    """(name, revision) -> ids of jobs in SUBMITTED..RUNNING that use it.

    Two sources, both bounded: ListJobs per active status on each queue this project uses
    (AWS_JOB_QUEUE and the queues in jobs.jsonl), and DescribeJobs for the jobs jobs.jsonl
    records against a candidate revision. Jobs submitted by others to other queues are not seen.
    """
    in_use: dict[tuple[str, int], list[str]] = {}

    def note(ref, job_id, status):
        parsed = jobdef_model.parse_ref(ref or "")
        if parsed in candidates:
            in_use.setdefault(parsed, [])
            label = f"{job_id} ({status})"
            if label not in in_use[parsed]:
                in_use[parsed].append(label)

    unknown_def: list[str] = []
    for queue in _queues(ctx, jobs):
        for status in ACTIVE_JOB_STATUSES:
            try:
                with translate(f"list {status} jobs on queue {queue} (batch:ListJobs)"):
                    pages = batch.get_paginator("list_jobs").paginate(jobQueue=queue, jobStatus=status)
                    for page in pages:
                        for job in page.get("jobSummaryList", []):
                            if job.get("jobDefinition"):
                                note(job["jobDefinition"], job["jobId"], job.get("status", status))
                            else:
                                unknown_def.append(job["jobId"])
            except OperationError as exc:
                if "does not exist" in exc.message.lower():
                    ctx.out.warn(f"job queue {queue} does not exist; no job of it can use a revision")
                    break
                raise OperationError(f"{exc.message} (nothing was deregistered)", hint=exc.hint) from None
    recorded = [
        j["job_id"]
        for j in jobs
        if isinstance(j.get("job_id"), str) and jobdef_model.parse_ref(j.get("job_definition") or "") in candidates
    ]
    ids = list(dict.fromkeys(unknown_def + recorded))
    for start in range(0, len(ids), 100):  # DescribeJobs takes at most 100 ids
        with translate("describe the project's jobs (batch:DescribeJobs)"):
            found = batch.describe_jobs(jobs=ids[start : start + 100]).get("jobs", [])
        for job in found:
            if job.get("status") in ACTIVE_JOB_STATUSES:
                note(job.get("jobDefinition"), job["jobId"], job["status"])
    return in_use


def prune(ctx, batch, items: list[Item], previous: dict, keep: int, dry_run: bool) -> dict:
    out = ctx.out
    project = ctx.cfg["PROJECT_NAME"]
    gone = "would_deregister" if dry_run else "deregistered"
    result = {gone: [], "kept_in_use": [], "skipped": []}
    names = [i.name for i in items] + [n for n in (previous.get("definitions") or {}) if n not in {i.name for i in items}]
    by_name = {i.name: i for i in items}
    per_name = {}
    for name in names:
        item = by_name.get(name)
        planned_new = bool(dry_run and item and item.status == "register")
        # What the plan read is still current unless this run registered a revision since.
        fresh = item is not None and (dry_run or item.status == "unchanged")
        revisions = item.revisions if fresh else active_revisions(batch, name)
        newest_tags = {PROJECT_TAG: project} if planned_new else ((revisions[0].get("tags") or {}) if revisions else {})
        if not revisions and not planned_new:
            continue
        if newest_tags.get(PROJECT_TAG) != project:
            reason = f"its newest ACTIVE revision is not tagged {PROJECT_TAG}={project}"
            result["skipped"].append({"name": name, "reason": reason})
            out.warn(f"not pruning {name}: {reason}")
            continue
        in_force = (previous.get("definitions") or {}).get(name, {}).get("revision")
        protect = [item.revision] if item and item.revision else []
        if in_force and not item:
            protect.append(in_force)
        per_name[name] = (revisions, planned_new, protect)
    candidates = {
        (r["jobDefinitionName"], r["revision"])
        for revisions, planned_new, protect in per_name.values()
        for r in jobdef_model.prune_candidates(revisions, keep, planned_new, protect)
    }
    in_use = jobs_using(ctx, batch, candidates, ctx.state.records(JOBS_FILE)) if candidates else {}
    verb = "would deregister" if dry_run else "deregistered"
    for name, (revisions, planned_new, protect) in per_name.items():
        p = jobdef_model.plan_prune(revisions, keep, project, in_use, planned_new, protect)
        for rev, users in p.kept_in_use:
            ref = f"{name}:{rev['revision']}"
            say(out, f"kept: {ref} (used by {', '.join(users)})")
            result["kept_in_use"].append({"name": name, "revision": rev["revision"], "jobs": users})
        for rev in p.foreign:
            out.note(f"left alone: {name}:{rev['revision']} (tagged {PROJECT_TAG}={rev['tags'][PROJECT_TAG]})")
        for rev in sorted(p.deregister, key=lambda r: r["revision"]):
            ref = f"{name}:{rev['revision']}"
            if not dry_run:
                with translate(f"deregister job definition {ref} (batch:DeregisterJobDefinition)"):
                    batch.deregister_job_definition(jobDefinition=rev["jobDefinitionArn"])
            say(out, f"{verb}: {ref}")
            result[gone].append({"name": name, "revision": rev["revision"], "arn": rev["jobDefinitionArn"]})
    return result


# ---------------------------------------------------------------------------------------------
# The verb
# ---------------------------------------------------------------------------------------------


def _change_json(change) -> dict:
    shown = jobdef_model.format_change(change)
    data = change.as_json()
    if "****" in shown:
        data = {"path": change.path, **({"before": "****"} if "before" in data else {}),
                **({"after": "****"} if "after" in data else {})}
    return data


def _report(out, item: Item, dry_run: bool) -> None:
    if item.status == "unchanged":
        say(out, f"unchanged: {item.name}:{item.revision}")
        return
    latest = item.latest
    if latest is None:
        head = f"{item.name} is new (no ACTIVE revision yet), from {item.source.shown}"
    else:
        head = f"{item.name}: {item.source.shown} differs from {item.name}:{latest['revision']}"
    if dry_run or latest is not None:
        say(out, head + ":")
        for change in item.changes:
            say(out, "  " + jobdef_model.format_change(change))
    if dry_run:
        say(out, f"would register: {item.name}" + (f" (replacing {item.name}:{latest['revision']})" if latest else " (new)"))
    else:
        say(out, f"registered: {item.name}:{item.revision}" + (" (new)" if latest is None else ""))


def _state_object(ctx, name: str) -> dict:
    data = ctx.state.read(name)
    if not isinstance(data, dict):
        raise ConfigError(f"state file {ctx.state.folder / name} is not a JSON object", hint="delete it and run again")
    return data


def main(ctx) -> int:
    args = ctx.args
    keep = getattr(args, "prune", None)
    dry_run = bool(getattr(args, "dry_run", False))
    if keep is not None and keep < 1:
        raise UsageError(f"--prune KEEP must be at least 1 (got {keep})", hint="the newest revision is always kept")
    cfg, out = ctx.cfg, ctx.out
    cfg.require("PROJECT_NAME", optional=("AWS_REGION", "VERSION", "AWS_JOB_QUEUE"))

    # Step 1: everything local, every problem at once, before any AWS call.
    region = resolve_region(cfg.get("AWS_REGION"), cfg.get("AWS_PROFILE"))
    previous = _state_object(ctx, STATE_FILE)
    image_tag, origin = resolve_image_tag(cfg, _state_object(ctx, IMAGES_FILE).get("images") or {})
    sources, warnings = load_sources(cfg, image_tag, origin, region)
    for w in warnings:
        out.warn(w)

    # Step 2: compare with what is registered.
    batch = ctx.aws.client("batch")
    items = plan(batch, sources, cfg["PROJECT_NAME"])

    # Step 3: register, then record what is in force (also when a later registration fails).
    told = False
    try:
        for item in items:
            if item.status == "register" and not dry_run:
                register(batch, item)
            if item.status != "unchanged" and item.source.uses_image_tag and not told:
                out.note(f"IMAGE_TAG={image_tag} from {origin}")
                told = True
            _report(out, item, dry_run)
    finally:
        if not dry_run:
            record(ctx, previous, items, items[0].name)
    if not dry_run:
        previous = _state_object(ctx, STATE_FILE)

    pruned = prune(ctx, batch, items, previous, keep, dry_run) if keep is not None else None
    if out.json:
        out.emit_json(
            {
                "dry_run": dry_run,
                "image_tag": {"value": image_tag, "from": origin} if any(s.uses_image_tag for s in sources) else None,
                "definitions": [
                    {
                        "name": i.name,
                        "file": i.source.shown,
                        "status": "would-register" if i.status == "register" else i.status,
                        "revision": i.revision,
                        "arn": i.arn or None,
                        "previous_revision": i.latest["revision"] if i.latest else None,
                        "hash": i.source.content_hash,
                        "changes": [_change_json(c) for c in i.changes] if i.latest else [],
                    }
                    for i in items
                ],
                "prune": pruned,
                "warnings": warnings,
            }
        )
    return 0
