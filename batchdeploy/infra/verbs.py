"""`create` and `delete`: the flags as typed options, then observe -> plan -> execute.

    wanted (inputs)  ->  observed (observe)  ->  plan (plan)  ->  Executor | DisplayOnlyExecutor

The plan is shown on stderr; stdout carries the results alone (the names used, what was deleted, or
one JSON object with --output json).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from batchdeploy import config
from batchdeploy.errors import ConfigError, UsageError
from batchdeploy.infra.envfile import ENV_KEYS, names_used, write_env
from batchdeploy.infra.execute import DisplayOnlyExecutor, Executor, Plan
from batchdeploy.infra.execute import confirm as execute_confirm
from batchdeploy.infra.inputs import gather_wanted, given
from batchdeploy.infra.journal import Journal
from batchdeploy.infra.model import (
    CHANGES,
    DEFAULT_TIMEOUT,
    FLAG,
    PREFIX_RE,
    default_name,
    default_prefix,
    name_from_ref,
    repository_names,
)
from batchdeploy.infra.observe import observe_create, observe_delete
from batchdeploy.infra.plan import plan_create, plan_delete
from batchdeploy.infra.precheck import check_compute_environment
from batchdeploy.infra.roles import delete_roles, ensure_roles
from batchdeploy.state import INFRA


@dataclass
class _Options:
    prefix: str | None = None
    timeout: int | None = None
    yes: bool = False
    dry_run: bool = False
    bucket: str | None = None
    ecr_repository: list[str] = field(default_factory=list)
    refs: dict = field(default_factory=dict)  # kind -> --compute-environment/--job-queue/--job-definition

    @classmethod
    def _common(cls, args) -> dict:
        return {
            "prefix": args.prefix,
            "timeout": args.timeout,
            "yes": bool(args.yes),
            "dry_run": bool(args.dry_run),
            "bucket": args.bucket,
            "ecr_repository": list(args.ecr_repository or []),
            "refs": {kind: getattr(args, kind.replace("-", "_")) for kind in FLAG},
        }


@dataclass
class CreateOptions(_Options):
    update: bool = False
    write_env: bool = False

    @classmethod
    def from_args(cls, args) -> CreateOptions:
        return cls(**cls._common(args), update=bool(args.update), write_env=bool(args.write_env))


@dataclass
class DeleteOptions(_Options):
    delete_bucket_contents: bool = False
    delete_images: bool = False

    @classmethod
    def from_args(cls, args) -> DeleteOptions:
        return cls(
            **cls._common(args),
            delete_bucket_contents=bool(args.delete_bucket_contents),
            delete_images=bool(args.delete_images),
        )


def _setup(cfg, opts: _Options) -> tuple[str, str, float]:
    cfg.require("PROJECT_NAME", optional=("ENV", "AWS_REGISTRY", "IMAGES"))
    project = cfg["PROJECT_NAME"]
    prefix = opts.prefix or default_prefix(project, cfg.get("ENV", "development"))
    if not PREFIX_RE.fullmatch(prefix):
        raise UsageError(
            f"--prefix {prefix!r}: 1-100 letters, digits, '-' and '_', starting with a letter or digit"
        )
    if opts.timeout is not None and opts.timeout < 0:
        raise UsageError("--timeout: 0 or more seconds")
    return project, prefix, float(DEFAULT_TIMEOUT if opts.timeout is None else opts.timeout)


def _executor(ctx, opts: _Options, timeout: float):
    return DisplayOnlyExecutor(ctx.out) if opts.dry_run else Executor(ctx, opts.yes, timeout)


def create(ctx) -> int:
    opts = CreateOptions.from_args(ctx.args)
    project, prefix, timeout = _setup(ctx.cfg, opts)
    wanted = gather_wanted(ctx, opts, prefix, project)
    observed = observe_create(ctx.aws, wanted)
    actions, problems = plan_create(wanted, observed, project, prefix, opts.update)
    warnings = [
        f"{a.label} differs from its file: {'; '.join(a.diff)} ({a.note})" for a in actions if a.op == "differs"
    ]
    planned = _roles(ctx, wanted, project, prefix, plan_only=True)  # made below, once confirmed
    # Before the first write: what the compute environment names, read (every problem at once, exit 2).
    for a in actions:
        if a.kind == "compute-environment" and a.op in ("create", "update"):
            w = next(w for w in wanted if (w.kind, w.name) == (a.kind, a.name))
            found, warned = check_compute_environment(ctx.aws, w.request, w.source)
            problems += [p for p in found if not any(name in p for name in planned)]
            warnings += warned
    if problems:
        raise ConfigError("cannot create", problems, hint="nothing was changed")
    costly = [a.label for a in actions if a.op in CHANGES and a.kind == "compute-environment"]
    confirm = (
        f"create or update {', '.join(costly)} (compute environments cost money while they run)?",
        f"creating or updating {', '.join(costly)}",
    )
    plan = Plan(
        "create",
        prefix,
        project,
        f"plan for prefix {prefix} (project {project}):",
        actions,
        report=lambda journal: _create_report(ctx, opts, plan, journal),
        confirm=confirm if costly else None,
        warnings=warnings,
    )
    if planned and not opts.dry_run:  # the roles first (the compute environment names them), once confirmed
        if plan.confirm:
            execute_confirm(opts.yes, ctx.out, *plan.confirm)
            opts.yes = True
        _roles(ctx, wanted, project, prefix, plan_only=False)
    return _executor(ctx, opts, timeout).execute(plan)


def _roles(ctx, wanted, project: str, prefix: str, plan_only: bool) -> list[str]:
    """The roles the compute environment names (infra.roles): their names, planned or made."""
    ce = next((w.request for w in wanted if w.kind == "compute-environment"), None)
    bucket = next(w.name for w in wanted if w.kind == "bucket")
    return ensure_roles(ctx, ce, project, prefix, bucket, plan_only)


def _create_report(ctx, opts: CreateOptions, plan: Plan, journal: Journal) -> int:
    out = ctx.out
    differs = [a.label for a in plan.actions if a.op == "differs"]
    if differs:  # the last line agrees with the plan: something differs, and was left as it is
        out.info(f"left as it is, differing from its file: {', '.join(differs)} (create --update applies the changes)")
    elif not plan.changes:
        out.info("nothing to do: everything exists and matches")
    names = names_used(plan.actions)
    env_values = {k: v for k, v in names.items() if k in ENV_KEYS.values()}  # what --write-env writes
    written = None
    if opts.write_env:
        target = ctx.cfg.env_file or (ctx.cfg.project_dir / config.DEFAULT_ENV_FILE)
        comment = f"written by batchdeploy create (prefix {plan.prefix})"
        written = str(write_env(target, env_values, comment=comment))
    if out.json:
        out.emit_json(plan.as_dict(done=journal.items, names=names, env_file_written=written))
        return 0
    out.info("names used:" if written else "names used (add them to .aws_env, or run create --write-env):")
    for key, value in names.items():
        out.result(f"{key}={value}")
    if written:
        out.info(f"wrote {', '.join(env_values)} into {written}")
    return 0


def delete(ctx) -> int:
    opts = DeleteOptions.from_args(ctx.args)
    project, prefix, timeout = _setup(ctx.cfg, opts)
    keep = {name_from_ref(kind, ref) for kind, ref in given(opts.refs, ctx.cfg.project_dir)[0].items()}
    recorded = ((ctx.state.read(INFRA) or {}).get("prefixes") or {}).get(prefix) or {}
    buckets = [opts.bucket] if opts.bucket else [*recorded.get("bucket", {}), default_name("bucket", prefix)]
    repos = opts.ecr_repository or [
        *recorded.get("ecr-repository", {}),
        *repository_names(ctx.cfg.get("AWS_REGISTRY"), ctx.cfg.get("IMAGES"), project),
    ]
    found = observe_delete(ctx.aws, project, prefix, buckets, repos)
    actions = plan_delete(found, project, prefix, keep, opts.delete_bucket_contents, opts.delete_images)
    title = f"delete plan for prefix {prefix} (project {project}; only what carries its tags):"
    n = len([a for a in actions if a.op == "delete"])
    plan = Plan(
        "delete",
        prefix,
        project,
        title,
        actions,
        report=lambda journal: _delete_report(ctx.out, plan, journal),
        confirm=(f"delete {n} resource(s) listed above?", f"deleting {n} resource(s)"),
    )
    code = _executor(ctx, opts, timeout).execute(plan)
    if code == 0 and not any(a.op == "keep" and a.kind == "compute-environment" for a in actions):
        # After the compute environment that used them; asked for on their own when nothing else was.
        if not (opts.dry_run or plan.changes or opts.yes) and delete_roles(ctx, project, prefix, dry_run=True):
            execute_confirm(False, ctx.out, "delete the IAM roles listed above?", "deleting IAM roles")
        delete_roles(ctx, project, prefix, opts.dry_run)
    return code


def _delete_report(out, plan: Plan, journal: Journal) -> int:
    kept = [a for a in plan.actions if a.op == "keep"]
    and_kept = f"; kept {len(kept)}" if kept else ""
    if not plan.changes:
        out.result(f"nothing to delete for prefix {plan.prefix}{and_kept}")
    for a in kept:
        out.warn(f"kept {a.label}: {a.note}")
    if out.json:
        out.emit_json(plan.as_dict(done=journal.items))
    elif plan.changes:
        out.result(f"deleted {len(plan.changes)} resource(s) of prefix {plan.prefix}{and_kept}")
    return 0
