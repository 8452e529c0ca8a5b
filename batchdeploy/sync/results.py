"""`results [RUN_ID]` (./deploy.sh --results): a run's outputs home, by the sync engine.

With RUN_ID, the locations come from the run record (batchdeploy.runs), never from a guess:

    the run's manifests (a sweep's, or -r --code's)   each task's outputs' "to"
    the run's parameters                              OUTPUT_PARAMETER's value (output_path), an s3:// URL
    nothing of the above                              s3://S3_BUCKET/RESULTS_PREFIX/RUN_ID/ (a pipeline's)

Each location ending in / is synced exactly (the same engine, checks and summary as sync-from-s3) into
RESULTS_DIR/RUN_ID/: below RESULTS_PREFIX/RUN_ID/ by its path under it (RESULTS_DIR/RUN_ID/3/ for task
3), elsewhere by bucket and key (RESULTS_DIR/RUN_ID/BUCKET/KEY/). A location naming one object is
copied as that one file. With no RUN_ID: every result, s3://S3_BUCKET/RESULTS_PREFIX/ -> RESULTS_DIR
(what --sync-from-s3 did before issue #20 gave it back to triage's meaning).
"""

from __future__ import annotations

import os
import posixpath

from batchdeploy import runs
from batchdeploy.aws import translate
from batchdeploy.aws.s3 import parse_s3_url, s3_url
from batchdeploy.errors import UsageError
from batchdeploy.sync.verb import SyncOptions

DEFAULT_OUTPUT_PARAMETER = "output_path"


def locations(run: dict, manifests: list[dict], output_parameter: str, fallback: str) -> list[str]:
    """The run's output locations, in order, each once: s3:// URLs, a folder's ending in / (a manifest's
    output names one object when it has no /; an output parameter always names a folder). Pure."""
    found: list[str] = []

    def folder(value) -> None:
        if isinstance(value, str) and value.startswith("s3://"):
            found.append(value.rstrip("/") + "/")

    for manifest in manifests:
        for task in manifest.get("tasks") or []:
            found += [o["to"] for o in task.get("outputs") or [] if str(o.get("to", "")).startswith("s3://")]
            folder((task.get("parameters") or {}).get(output_parameter))
    folder((run.get("parameters") or {}).get(output_parameter))
    return list(dict.fromkeys(found)) or [fallback]


def local_place(url: str, results_root: str, results_dir: str, run_id: str) -> str:
    """Where `url` lands under RESULTS_DIR/RUN_ID/. Pure."""
    run_root = results_root.rstrip("/") + f"/{run_id}/"
    if url.startswith(run_root):
        rel = url[len(run_root):]
    else:
        rel = url[len("s3://"):]
    return os.path.join(results_dir, run_id, *[p for p in rel.split("/") if p])


def main(ctx) -> int:
    args, cfg = ctx.args, ctx.cfg
    if not args.run_id:
        return _sync(ctx, SyncOptions.from_ctx(ctx, upload=False, results=True))
    if not runs.RUN_ID.fullmatch(args.run_id):
        raise UsageError(f"{args.run_id!r} is not a run id", hint="run ids look like 20261130T161200Z-3fa9c1 (--status lists them)")
    if args.remote:
        raise UsageError("--remote and RUN_ID together", hint="RUN_ID's locations come from its run record")
    cfg.require("S3_BUCKET", optional=("RUNS_PREFIX", "RESULTS_PREFIX", "RESULTS_DIR", "OUTPUT_PARAMETER"))
    bucket = cfg["S3_BUCKET"]
    s3 = ctx.aws.client("s3")
    run = runs.read_run(s3, bucket, cfg.get("RUNS_PREFIX", runs.DEFAULT_PREFIX), args.run_id, tasks=False)
    if run is None:
        raise UsageError(f"no run {args.run_id} in s3://{bucket}/{cfg.get('RUNS_PREFIX', runs.DEFAULT_PREFIX)}/",
                         hint="check the id (--status lists recent runs) and S3_BUCKET")
    manifests = [runs.get_json(s3, *parse_s3_url_key(m["url"])) for m in _manifest_refs(run)]
    results_root = s3_url(bucket, cfg.get("RESULTS_PREFIX", "results") or "")
    urls = locations(run, [m for m in manifests if m], cfg.get("OUTPUT_PARAMETER", DEFAULT_OUTPUT_PARAMETER),
                     f"{results_root}{args.run_id}/")
    results_dir = os.path.abspath(os.path.expanduser(args.local)) if args.local else str(cfg.path(cfg.get("RESULTS_DIR", "results")))
    code = 0
    for url in urls:
        place = local_place(url, results_root, results_dir, args.run_id)
        ctx.out.note(f"{url} -> {os.path.relpath(place)}")
        if url.endswith("/"):
            b, prefix = parse_s3_url(url)
            code = _sync(ctx, SyncOptions.checked(False, place, b, prefix, args, args.jobs, cfg)) or code
        else:
            _one_object(s3, url, place, args.dry_run)
    return code


def _manifest_refs(run: dict) -> list[dict]:
    return [m for m in [run.get("manifest"), *(run.get("manifests") or [])] if isinstance(m, dict) and m.get("url")]


def parse_s3_url_key(url: str) -> tuple[str, str]:
    bucket, _, key = url[len("s3://"):].partition("/")
    return bucket, key


def _sync(ctx, opts) -> int:
    from batchdeploy.sync.run import SyncRun

    return SyncRun(ctx, opts).run()


def _one_object(s3, url: str, place: str, dry_run: bool) -> None:
    """A location naming one object (a task's `model.pt` output): that file, through a temporary name."""
    bucket, key = parse_s3_url_key(url)
    if dry_run:
        return
    os.makedirs(posixpath.dirname(place) or ".", exist_ok=True)
    part = place + ".bdpart"
    with translate(f"download {url} (s3:GetObject)"):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        with open(part, "wb") as f:
            for chunk in iter(lambda: body.read(1 << 20), b""):
                f.write(chunk)
    os.replace(part, place)
