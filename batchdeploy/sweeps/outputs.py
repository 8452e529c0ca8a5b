"""Each task's own output location, and `{run_id}`/`{task}` in a sweep's values: pure functions of
the run id, bucket and prefix they are given.

Every task gets `s3://BUCKET/RESULTS_PREFIX/RUN_ID/TASK/`, so no two tasks or runs overwrite each other:

- its environment has `BATCHDEPLOY_OUTPUT` (that URL) and `BATCHDEPLOY_OUTPUT_DIR` (`outputs/task/`, a
  local folder the launcher copies to that URL after the command, if the command made it);
- when the job definition has the parameter OUTPUT_PARAMETER names (`output_path` by default) and the
  sweep leaves it unset (or at the definition's default), the task's value is that URL without its
  last slash; a value two tasks share is refused unless it holds `{task}`.

In every parameter, environment value, input and output URL and path, `{run_id}` becomes the run's id
and `{task}` the task's id; other braces stay as they are.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from batchdeploy.jobs.request import placeholders
from batchdeploy.sweeps.check import shown
from batchdeploy.sweeps.model import Sweep, SweepTask
from batchdeploy.sweeps.problems import raise_problems

OUTPUT_DIR = "outputs/task/"
DEFAULT_OUTPUT_PARAMETER = "output_path"


def task_output_url(bucket: str, results_prefix: str, run_id: str, task_id: int) -> str:
    """`s3://BUCKET/RESULTS_PREFIX/RUN_ID/TASK/` (an empty prefix is left out)."""
    parts = [p.strip("/") for p in (results_prefix, run_id, str(task_id)) if p and p.strip("/")]
    return f"s3://{bucket}/" + "/".join(parts) + "/"


def expand(text: str, run_id: str, task_id: int) -> str:
    return text.replace("{run_id}", run_id).replace("{task}", str(task_id))


def expand_task(task: SweepTask, run_id: str) -> SweepTask:
    """`{run_id}` and `{task}` replaced in the task's parameters, environment, inputs and outputs."""
    def values(mapping: dict) -> dict:
        return {k: expand(v, run_id, task.id) if isinstance(v, str) else v for k, v in mapping.items()}

    # The constructor, not dataclasses.replace: this runs once per task, 10,000 times for a big sweep.
    return SweepTask(id=task.id, params=values(task.params), env=values(task.env), labels=task.labels,
                     inputs=[values(i) for i in task.inputs], outputs=[values(o) for o in task.outputs],
                     line=task.line)


def with_outputs(sweep: Sweep, *, run_id: str, bucket: str, results_prefix: str, job_definition: dict,
                 output_parameter: str = DEFAULT_OUTPUT_PARAMETER) -> Sweep:
    """The sweep with each task's own output location (see the module docstring) and its templates
    expanded; UsageError when tasks would share an output."""
    defaults = dict(job_definition.get("parameters") or {})
    has_parameter = output_parameter in defaults or output_parameter in placeholders(job_definition)
    default = defaults.get(output_parameter)
    problems = [f"line {t.line or '?'}: {o['from']} is the folder of the task's default output; rename the column"
                for t in sweep.tasks for o in t.outputs if o["from"].startswith(OUTPUT_DIR)]
    given = Counter(t.params[output_parameter] for t in sweep.tasks
                    if t.params.get(output_parameter) not in (None, default))
    problems += [f"{output_parameter}={value} is the output of {n} tasks; put {{task}} in it (or leave it out: "
                 f"each task then gets its own)" for value, n in given.items() if n > 1 and "{task}" not in value]
    raise_problems(shown(sweep), problems)
    tasks = []
    for task in sweep.tasks:
        url = task_output_url(bucket, results_prefix, run_id, task.id)
        params = dict(task.params)
        if has_parameter and params.get(output_parameter) in (None, default):
            params[output_parameter] = url.rstrip("/")
        env = {**task.env, "BATCHDEPLOY_OUTPUT": url, "BATCHDEPLOY_OUTPUT_DIR": OUTPUT_DIR}
        outputs = [*task.outputs, {"from": OUTPUT_DIR, "to": url, "optional": True}]
        tasks.append(expand_task(SweepTask(id=task.id, params=params, env=env, labels=task.labels,
                                           inputs=task.inputs, outputs=outputs, line=task.line), run_id))
    return replace(sweep, tasks=tasks)
