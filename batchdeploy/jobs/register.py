"""`-u` / `update-jobs`: register the job definitions that changed, and only those; `--prune KEEP`.

The run is planned before anything is changed, in three steps:

1. read every file JOB_DEFINITIONS names (files or folders of *.json), fill `${VAR}` from the
   configuration (`${IMAGE_TAG}`: the tag `-b` recorded, else VERSION) and check each against
   botocore's model and AWS Batch's documented limits (`jobs.files`, `jobs.definition`). Any problem
   in any file stops the run here, before a single AWS call: nothing is registered for a broken
   file, nor for its good neighbours;
2. read the latest ACTIVE revision of each name (DescribeJobDefinitions) and compare it with the
   file, both normalized (`jobs.compare.normalize`): unchanged means no RegisterJobDefinition call;
3. register what changed (tagged with the project and the content hash), record NAME:REVISION in
   `.batchdeploy/job-definitions.json` for `-r`, then prune if asked (`jobs.prune`).

`--dry-run` stops after step 2 and shows what steps 3 and the prune would do.
"""

from __future__ import annotations

from dataclasses import dataclass

from batchdeploy.aws import batch as aws_batch
from batchdeploy.aws.session import resolve_region
from batchdeploy.aws.tags import TAG_PROJECT
from batchdeploy.errors import ConfigError, UsageError
from batchdeploy.jobdef import compare
from batchdeploy.jobdef.files import Source, load_sources, rebuilt, resolve_image_tag
from batchdeploy.jobdef.record import Item, read_recorded, record, register
from batchdeploy.jobs import secretrefs
from batchdeploy.jobs.prune import prune, say
from batchdeploy.state import IMAGES


@dataclass(frozen=True)
class UpdateJobsOptions:
    """What `update-jobs` was asked: `--dry-run`, `--prune KEEP`."""

    dry_run: bool = False
    prune: int | None = None

    @classmethod
    def from_args(cls, args) -> UpdateJobsOptions:
        keep = getattr(args, "prune", None)
        if keep is not None and keep < 1:
            raise UsageError(f"--prune KEEP must be at least 1 (got {keep})", hint="the newest revision is always kept")
        return cls(dry_run=bool(getattr(args, "dry_run", False)), prune=keep)


# ---------------------------------------------------------------------------------------------
# AWS
# ---------------------------------------------------------------------------------------------


def plan(batch, sources: list[Source], project: str) -> list[Item]:
    """Compare each file with the latest ACTIVE revision of its name. Read-only: a name that
    another project owns stops the run before anything is registered."""
    items = []
    foreign = []
    for src in sources:
        item = Item(src, revisions=aws_batch.active_revisions(batch, src.name))
        item.latest = item.revisions[0] if item.revisions else None
        owner = ((item.latest or {}).get("tags") or {}).get(TAG_PROJECT)
        if owner not in (None, project):
            foreign.append(
                f"{src.shown}: {src.name} belongs to project {owner!r} (its {src.name}:{item.latest['revision']} "
                f"is tagged {TAG_PROJECT}={owner})"
            )
        if item.latest is not None and compare.same(item.latest, src.request):
            item.status = "unchanged"
            item.arn, item.revision = item.latest["jobDefinitionArn"], item.latest["revision"]
        else:
            item.status = "register"
            item.changes = compare.changes(item.latest, src.request)
        items.append(item)
    if foreign:
        raise ConfigError(
            "job definition names taken by another project",
            foreign,
            hint="nothing was registered; give jobDefinitionName a name of this project's own",
        )
    return items


# ---------------------------------------------------------------------------------------------
# The verb
# ---------------------------------------------------------------------------------------------


def _change_json(change) -> dict:
    shown = compare.format_change(change)
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
            say(out, "  " + compare.format_change(change))
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
    opts = UpdateJobsOptions.from_args(ctx.args)
    cfg, out = ctx.cfg, ctx.out
    cfg.require("PROJECT_NAME", optional=("AWS_REGION", "VERSION", "AWS_JOB_QUEUE"))

    # Step 1: everything local, every problem at once, before any AWS call.
    region = resolve_region(cfg.get("AWS_REGION"), cfg.get("AWS_PROFILE"))
    previous = read_recorded(ctx.state)
    image_tag, origin = resolve_image_tag(cfg, _state_object(ctx, IMAGES).get("images") or {})
    sources, warnings = load_sources(cfg, image_tag, origin, region)
    for w in warnings:
        out.warn(w)

    if secretrefs.listed(cfg):  # SECRETS: the values into SSM, the references into every definition
        secretrefs.check_execution_role(sources)
        secretrefs.values(cfg, secretrefs.listed(cfg))  # every missing value at once, before any AWS call
        arns = secretrefs.store(ctx.aws, cfg, out, dry_run=opts.dry_run)
        sources = [rebuilt(cfg, s, secretrefs.with_references(s.definition, arns, s.shown)) for s in sources]

    # Step 2: compare with what is registered.
    batch = ctx.aws.client("batch")
    items = plan(batch, sources, cfg["PROJECT_NAME"])

    # Step 3: register, then record what is in force (also when a later registration fails).
    told = False
    try:
        for item in items:
            if item.status == "register" and not opts.dry_run:
                register(ctx.aws, item, note=out.warn, sleep=ctx.sleep)
            if item.status != "unchanged" and item.source.uses_image_tag and not told:
                out.note(f"IMAGE_TAG={image_tag} from {origin}")
                told = True
            _report(out, item, opts.dry_run)
    finally:
        if not opts.dry_run:
            record(ctx.state, previous, items, items[0].name)
    if not opts.dry_run:
        previous = read_recorded(ctx.state)

    pruned = prune(ctx, batch, items, previous, opts.prune, opts.dry_run) if opts.prune is not None else None
    if out.json:
        tag = {"value": image_tag, "from": origin} if any(s.uses_image_tag for s in sources) else None
        out.emit_json(_as_json(opts, tag, items, pruned, warnings))
    return 0


def _as_json(opts: UpdateJobsOptions, image_tag: dict | None, items: list[Item], pruned, warnings) -> dict:
    return {
        "dry_run": opts.dry_run,
        "image_tag": image_tag,
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
