"""A step's output location, and `{steps.NAME.output}` in a value: pure functions of the run id,
bucket and prefix they are given.

Step NAME of run RUN_ID writes under `s3://BUCKET/RESULTS_PREFIX/RUN_ID/NAME/` (an empty prefix is left
out); a map step's task T under `.../NAME/T/` (sweeps.outputs gives each task its own). So a value
`{steps.prepare.output}data.csv` becomes `s3://BUCKET/RESULTS_PREFIX/RUN_ID/prepare/data.csv`, and
`{steps.fit.output}` names the folder of all of fit's tasks. Nothing else in braces is touched: the
sweeps' `{run_id}` and `{task}` are expanded after this, by sweeps.outputs.
"""

from __future__ import annotations

from batchdeploy.pipelines.check import OUTPUT_REF


def step_output_url(bucket: str, results_prefix: str, run_id: str, step: str, task: int | None = None) -> str:
    """`s3://BUCKET/RESULTS_PREFIX/RUN_ID/STEP/` (with `TASK/` for a map step's task)."""
    parts = [p.strip("/") for p in (results_prefix, run_id, step, None if task is None else str(task)) if p and p.strip("/")]
    return f"s3://{bucket}/" + "/".join(parts) + "/"


def expand_outputs(text: str, run_id: str, bucket: str, results_prefix: str) -> str:
    """`text` with every `{steps.NAME.output}` replaced by NAME's output location (see the module
    docstring). Names were checked by check.problems: any name is expanded as written."""
    return OUTPUT_REF.sub(lambda m: step_output_url(bucket, results_prefix, run_id, m.group(1)), text)
