#!/usr/bin/env python3
"""The example pipeline's first and last steps (examples/pipeline/pipeline.yaml), beside run.py in the
same image (run.py is the fits in between):

    pipeline.py prepare   --experiment-file LOC --output-path LOC   # check the experiment once, freeze a copy
    pipeline.py summarize --fits LOC --output-path LOC              # one table of every fit's metrics.json

`prepare` reads the experiment file, checks it with run.py's own parser (so a broken file fails one
job, before any fit starts) and writes `experiment.yaml` to its output, the copy every fit then reads:
a run keeps the experiment it ran even if the original is edited. `summarize` reads each
`TASK/metrics.json` under the fits' location (a map step's tasks each write under their own folder)
and writes `summary.json` and `summary.md`, best fit first. LOC is s3://BUCKET/PREFIX or a local folder.

`summarize`, `summary_md` and `metrics_keys` are pure; the rest reads and writes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import run

COLUMNS = ("task", "seed", "learning_rate", "final_loss", "r2", "accuracy")


def metrics_keys(keys: list[str], prefix: str) -> dict[str, str]:
    """{task folder: key} of the `TASK/metrics.json` directly under `prefix`, in task order."""
    prefix = prefix.rstrip("/") + "/" if prefix else ""
    found = {}
    for key in keys:
        rest = key[len(prefix):] if key.startswith(prefix) else None
        parts = rest.split("/") if rest else []
        if len(parts) == 2 and parts[1] == "metrics.json" and parts[0]:
            found[parts[0]] = key
    return dict(sorted(found.items(), key=lambda kv: (not kv[0].isdigit(), int(kv[0]) if kv[0].isdigit() else 0, kv[0])))


def summarize(metrics: dict[str, dict]) -> dict:
    """Every fit's row, best (lowest final loss) first; `best` names it."""
    if not metrics:
        raise run.ExperimentError("no TASK/metrics.json under the fits' location")
    rows = [{"task": task, **{c: m.get(c) for c in COLUMNS[1:]}} for task, m in metrics.items()]
    rows.sort(key=lambda r: (r["final_loss"] is None, r["final_loss"] or 0.0))
    return {"fits": len(rows), "best": rows[0], "rows": rows}


def summary_md(summary: dict) -> str:
    present = [c for c in COLUMNS if any(r.get(c) is not None for r in summary["rows"])]
    lines = [f"# {summary['fits']} fits, best: task {summary['best']['task']}", "",
             "| " + " | ".join(present) + " |", "|" + " --- |" * len(present)]
    for row in summary["rows"]:
        cells = [f"{row[c]:.6g}" if isinstance(row.get(c), float) else str(row.get(c)) for c in present]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _list(location: str) -> list[str]:
    if location.startswith("s3://"):
        bucket, prefix = run._split_s3(location)
        pages = run._s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/")
        return [o["Key"] for page in pages for o in page.get("Contents", [])]
    return [os.path.relpath(os.path.join(d, f), location).replace(os.sep, "/")
            for d, _, files in os.walk(location) for f in files]


def _join(location: str, key: str) -> str:
    if location.startswith("s3://"):
        return f"s3://{run._split_s3(location)[0]}/{key}"
    return os.path.join(location, key)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="The example pipeline's prepare and summarize steps.")
    parser.add_argument("mode", choices=("prepare", "summarize"))
    parser.add_argument("--experiment-file", help="prepare: s3://BUCKET/KEY.yaml or a local path")
    parser.add_argument("--fits", help="summarize: the fits' location (s3://BUCKET/PREFIX/ or a folder)")
    parser.add_argument("--output-path", required=True, help="s3://BUCKET/PREFIX or a local folder")
    args = parser.parse_args(argv)
    needed = "--experiment-file" if args.mode == "prepare" else "--fits"
    if not (args.experiment_file if args.mode == "prepare" else args.fits):
        parser.error(f"{args.mode} needs {needed}")
    import yaml
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        if args.mode == "prepare":
            text = run.read_text(args.experiment_file)
            run.parse_experiment(yaml.safe_load(text))
            files = {"experiment.yaml": (text, "application/yaml")}
        else:
            prefix = run._split_s3(args.fits)[1] if args.fits.startswith("s3://") else ""
            keys = metrics_keys(_list(args.fits), prefix)
            summary = summarize({t: json.loads(run.read_text(_join(args.fits, k))) for t, k in keys.items()})
            files = {"summary.json": (json.dumps(summary, indent=2) + "\n", "application/json"),
                     "summary.md": (summary_md(summary), "text/markdown")}
    except (run.ExperimentError, yaml.YAMLError, ValueError) as e:
        print(f"pipeline.py {args.mode}: {e}", file=sys.stderr, flush=True)
        return 2
    except (OSError, BotoCoreError, ClientError) as e:
        print(f"pipeline.py {args.mode}: cannot read: {e}", file=sys.stderr, flush=True)
        return 1
    for where in run.write_outputs(args.output_path, files):
        print(f"wrote {where}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
