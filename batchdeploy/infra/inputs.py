"""What the user wants (files and flags -> `Wanted`): the compute environment, queue and job
definition files read, rendered, filled and checked, and the bucket and repositories named, with
every problem of every input found at once, before any AWS call."""

from __future__ import annotations

import os
from pathlib import Path

from batchdeploy import config, userjson
from batchdeploy.aws.s3 import bucket_problems
from batchdeploy.errors import ConfigError
from batchdeploy.infra.jobdef import image_tag, jobdef_request
from batchdeploy.infra.model import (
    DEFAULT_FILES,
    DESCRIBE,
    FLAG,
    LABEL,
    NAME_FIELD,
    Wanted,
    default_name,
    name_from_ref,
    repository_name_ok,
    repository_names,
)
from batchdeploy.infra.network import fill_default_network
from batchdeploy.infra.precheck import blank_problems
from batchdeploy.infra.specs import fill_queue_order, fill_specs, spec_problems


def _display(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def _input(kind: str, value: str | None, project_dir: Path) -> tuple[str, object]:
    """('file', Path) | ('existing', name or ARN) | ('none', None)."""
    if value is None:
        default = project_dir / DEFAULT_FILES[kind] if kind in DEFAULT_FILES else None
        return ("file", default) if default and default.is_file() else ("none", None)
    if value.startswith("arn:"):
        return "existing", value
    path = Path(value).expanduser()
    if path.is_file() or value.endswith(".json") or os.sep in value or path.is_dir():
        return "file", path
    return "existing", value


def given(refs: dict, project_dir: Path) -> tuple[dict, dict]:
    """--compute-environment, --job-queue and --job-definition (`refs`: kind -> the flag's value or
    None; else the default files) as (kind -> name or ARN of an existing one, kind -> file)."""
    existing, files = {}, {}
    for kind in FLAG:
        how, value = _input(kind, refs.get(kind), project_dir)
        if how == "existing":
            existing[kind] = value
        elif how == "file":
            files[kind] = value
    return existing, files


def _read_specs(files: dict, sources: dict, variables: dict, tag_origin: str, problems: list) -> dict:
    """The compute environment and queue files, read and rendered (kind -> document); an empty subnet,
    security group or role of the compute environment is a problem here, named by its placeholder."""
    docs: dict = {}
    for kind in ("compute-environment", "job-queue"):
        if kind not in files:
            continue
        try:
            raw = userjson.load_json(files[kind], f"{LABEL[kind]} file")
            docs[kind] = config.render(raw, variables, sources[kind], readable_by=f"anyone allowed {DESCRIBE[kind]}")
            if kind == "compute-environment":
                problems += [f"{sources[kind]}: {p}" for p in blank_problems(docs[kind], raw)]
        except ConfigError as exc:
            found = [f"{sources[kind]}: {p}" for p in exc.problems] if exc.problems else [exc.line()]
            problems += [f"{p} ({tag_origin})" if "${IMAGE_TAG}" in p else p for p in found]
    return docs


def _fill_and_check(docs: dict, existing: dict, sources: dict, prefix: str, project: str, problems: list) -> dict:
    docs = fill_specs(docs, prefix, project)
    ce_name = None
    if "compute-environment" in existing:
        ce_name = name_from_ref("compute-environment", existing["compute-environment"])
    elif isinstance(docs.get("compute-environment"), dict):
        ce_name = docs["compute-environment"].get("computeEnvironmentName")
    if not isinstance(ce_name, str) and "compute-environment" in sources:
        # The compute environment file failed (its problems are reported): the queue is checked with a
        # stand-in name, so one bad file is not followed by two errors about the queue.
        ce_name = default_name("compute-environment", prefix)
    if isinstance(docs.get("job-queue"), dict):
        docs["job-queue"] = fill_queue_order(docs["job-queue"], ce_name)
    for kind, doc in docs.items():
        problems += [f"{sources[kind]}: {p}" for p in spec_problems(kind, doc, project, prefix)]
    return docs


def _storage(opts, cfg, prefix: str, project: str, problems: list) -> list[Wanted]:
    """The bucket and the ECR repositories, named by flags or made from the prefix and IMAGES."""
    bucket = opts.bucket or default_name("bucket", prefix)
    for p in bucket_problems(bucket):
        source = "--bucket" if opts.bucket else f"the bucket name made from the prefix ({bucket}); pass --bucket NAME"
        problems.append(f"{source}: {bucket!r} breaks S3's naming rules: {p}")
    source = "--bucket" if opts.bucket else "a name made from the prefix"
    wanted = [Wanted("bucket", bucket, {"Bucket": bucket}, source, adopt=bool(opts.bucket))]
    repos = opts.ecr_repository or repository_names(cfg.get("AWS_REGISTRY"), cfg.get("IMAGES"), project)
    for repo in repos:
        if not repository_name_ok(repo):
            problems.append(f"ECR repository name {repo!r}: 2-256 of a-z, 0-9, '.', '_', '-' and '/' (namespaces)")
        source = "--ecr-repository" if opts.ecr_repository else "AWS_REGISTRY and IMAGES"
        wanted.append(
            Wanted("ecr-repository", repo, {"repositoryName": repo}, source, adopt=bool(opts.ecr_repository))
        )
    return wanted


def gather_wanted(ctx, opts, prefix: str, project: str) -> list[Wanted]:
    """Files read, rendered, filled and checked; every problem of every file at once (exit 2)."""
    cfg = ctx.cfg
    existing, files = given(opts.refs, cfg.project_dir)
    sources = {kind: _display(path, cfg.project_dir) for kind, path in files.items()}
    tag, tag_origin = image_tag(cfg, ctx.state)
    # What `${VAR}` may name in the files: the configuration, PREFIX, and IMAGE_TAG as -u resolves it.
    variables = {**cfg.variables(), "PREFIX": prefix}
    if tag is not None:
        variables["IMAGE_TAG"] = tag
    problems: list[str] = []
    docs = _read_specs(files, sources, variables, tag_origin, problems)
    if "compute-environment" in docs:
        fill_default_network(ctx, docs, sources["compute-environment"], problems)
    docs = _fill_and_check(docs, existing, sources, prefix, project, problems)
    if "job-definition" in files:
        docs["job-definition"], found, warnings = jobdef_request(
            cfg, files["job-definition"], sources["job-definition"], prefix, tag, tag_origin
        )
        problems += found
        for w in warnings:
            ctx.out.warn(w)
    wanted = _storage(opts, cfg, prefix, project, problems)
    for kind, ref in existing.items():
        wanted.append(Wanted(kind, name_from_ref(kind, ref), None, f"{FLAG[kind]} {ref}", ref=ref))
    for kind, doc in docs.items():
        name = doc.get(NAME_FIELD[kind]) if isinstance(doc, dict) else None
        wanted.append(Wanted(kind, str(name), doc, sources[kind]))
    if problems:
        raise ConfigError(
            "cannot create from these inputs",
            problems,
            hint="fix them (the files use AWS's request shapes: CreateComputeEnvironment, CreateJobQueue, "
            "RegisterJobDefinition)",
        )
    return wanted
