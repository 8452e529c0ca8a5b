"""The verbs: sync-to-s3 and sync-from-s3, their options read once from flags and configuration."""

from __future__ import annotations

import os
from dataclasses import dataclass

from batchdeploy.aws.s3 import parse_s3_url, s3_url
from batchdeploy.errors import UsageError
from batchdeploy.sync.exclude import DEFAULT_EXCLUDES

DEFAULT_JOBS = 16
MAX_JOBS = 64


@dataclass
class SyncOptions:
    upload: bool
    local: str
    bucket: str
    prefix: str
    delete: bool
    excludes: list[str]
    dry_run: bool
    jobs: int
    verbose: bool = False  # a line per file copied or deleted

    @property
    def remote(self) -> str:
        return s3_url(self.bucket, self.prefix)

    def key(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel

    @classmethod
    def from_ctx(cls, ctx, upload: bool, results: bool = False) -> SyncOptions:
        """Flags and configuration, every missing or malformed key reported at once. Both directions
        default to the experiments (S3_PREFIX <-> EXPERIMENTS_DIR, as triage's deploy.sh); `results`:
        RESULTS_PREFIX -> RESULTS_DIR (`batchdeploy results` with no RUN_ID)."""
        args = ctx.args
        cfg = ctx.cfg
        required = () if args.remote else ("S3_BUCKET",)
        cfg.require(*required, optional=("S3_PREFIX", "RESULTS_PREFIX", "EXPERIMENTS_DIR", "RESULTS_DIR"))
        if args.remote:
            bucket, prefix = parse_s3_url(args.remote)
        else:
            # Results live beside the experiments (s3://BUCKET/results), not under them, so that
            # `sync-to-s3 --delete` can never remove them.
            key, default = ("RESULTS_PREFIX", "results") if results else ("S3_PREFIX", "experiments")
            bucket, prefix = parse_s3_url(f"s3://{cfg['S3_BUCKET']}/{cfg.get(key) or default}")
        if args.local:  # a flag is relative to where the user is; configuration to the project folder
            local = os.path.abspath(os.path.expanduser(args.local))
        else:
            key, default = ("RESULTS_DIR", "results") if results else ("EXPERIMENTS_DIR", "experiments")
            local = str(cfg.path(cfg.get(key) or default))
        jobs = getattr(args, "jobs", None)
        return cls.checked(upload, local, bucket, prefix, args, jobs, cfg)

    @classmethod
    def checked(cls, upload: bool, local: str, bucket: str, prefix: str, args, jobs, cfg) -> SyncOptions:
        jobs = DEFAULT_JOBS if jobs is None else jobs
        if not 1 <= jobs <= MAX_JOBS:
            raise UsageError(f"--jobs {jobs} is out of range", hint=f"use 1 to {MAX_JOBS}")
        excludes = [*DEFAULT_EXCLUDES, *getattr(args, "exclude", [])]
        opts = cls(upload, local, bucket, prefix, bool(getattr(args, "delete", False)), excludes, bool(args.dry_run), jobs,
                   bool(getattr(args, "verbose", False)))
        if opts.upload and opts.delete and not opts.dry_run and not getattr(args, "yes", False):
            check_delete_scope(opts, cfg)
        return opts


def check_delete_scope(opts: SyncOptions, cfg) -> None:
    """`sync-to-s3 --delete` removes every object under the target the folder does not have. At a
    bucket's root that is every other prefix (results too); outside s3://S3_BUCKET/S3_PREFIX it is
    somewhere the configuration does not name. Either needs --yes (a dry run never does)."""
    if not opts.prefix:
        raise UsageError(
            f"--delete at the root of {opts.remote} would delete every object {opts.local} does not have, "
            "other prefixes (results) included",
            hint="name a prefix (--remote s3://BUCKET/PREFIX), see it first with --dry-run, or add --yes",
        )
    home_bucket = cfg.get("S3_BUCKET")
    home_prefix = parse_s3_url(f"s3://{home_bucket or opts.bucket}/{cfg.get('S3_PREFIX') or 'experiments'}")[1]
    inside = (opts.prefix == home_prefix or opts.prefix.startswith(home_prefix + "/")) if home_prefix else True
    if (home_bucket and opts.bucket != home_bucket) or not inside:
        home = s3_url(home_bucket, home_prefix) if home_bucket else f"S3_PREFIX ({home_prefix})"
        raise UsageError(
            f"--delete on {opts.remote}, outside {home}, would delete what {opts.local} does not have there",
            hint="check --remote, see it first with --dry-run, or add --yes",
        )


def to_s3(ctx) -> int:
    """sync-to-s3: EXPERIMENTS_DIR (or --local) -> s3://S3_BUCKET/S3_PREFIX/ (or --remote)."""
    from batchdeploy.sync.run import SyncRun

    return SyncRun(ctx, SyncOptions.from_ctx(ctx, upload=True)).run()


def from_s3(ctx) -> int:
    """sync-from-s3: s3://S3_BUCKET/S3_PREFIX/ (or --remote) -> EXPERIMENTS_DIR (or --local): the
    experiment and configuration files back, as triage's deploy.sh documents it (results: `results`)."""
    from batchdeploy.sync.run import SyncRun

    return SyncRun(ctx, SyncOptions.from_ctx(ctx, upload=False)).run()
