"""`-r` and `--status` enter here: a pipeline goes to pipelines.verb, anything else to sweeps.verb
(which hands a plain run or job to jobs). Kept apart from pipelines.verb and imported on use, so a
plain `-r` or `--status` loads no pipeline or sweep module it does not need."""

from __future__ import annotations

from batchdeploy import runs
from batchdeploy.pipelines.model import RUN_KIND


def is_pipeline_run(ctx, run_id: str) -> bool:
    """`--status RUN_ID` of a pipeline run draws its graph (one GET of run.json decides)."""
    ctx.cfg.require("S3_BUCKET", optional=("RUNS_PREFIX",))
    prefix = ctx.cfg.get("RUNS_PREFIX", runs.DEFAULT_PREFIX)
    root = runs.get_json(ctx.aws.client("s3"), ctx.cfg["S3_BUCKET"], runs.run_key(prefix, run_id, runs.RUN_FILE))
    return bool(root and root.get("kind") == RUN_KIND)


def run_door(ctx) -> int:
    """`-r`: a pipeline with --pipeline FILE, else a sweep or one job (sweeps.verb)."""
    if getattr(ctx.args, "pipeline", None):
        from batchdeploy.pipelines import verb

        return verb.from_run(ctx)
    if getattr(ctx.args, "logs", None) is not None:
        from batchdeploy.errors import UsageError

        raise UsageError("-r --logs names the steps of a pipeline whose lines to show",
                         hint="with one job, --wait shows its log lines already; a pipeline: -r --pipeline FILE --wait --logs")
    from batchdeploy.sweeps import verb as sweeps

    return sweeps.main(ctx)


def status_door(ctx) -> int:
    """`--status`: a pipeline run's graph, else a sweep's tasks or jobs (sweeps.verb)."""
    ref = getattr(ctx.args, "job", None)
    if ref and runs.RUN_ID.fullmatch(ref) and is_pipeline_run(ctx, ref):
        from batchdeploy.pipelines import verb

        return verb.status(ctx, ref)
    from batchdeploy.sweeps import verb as sweeps

    return sweeps.status(ctx)
