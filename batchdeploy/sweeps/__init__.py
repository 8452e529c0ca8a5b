"""Sweeps: many tasks of one experiment as one array job through the launcher's manifest (issue #16).

A sweep comes from a dsub-style tasks file (`tasksfile`) or a grid of parameter values (`grid`);
both make the same `model.Sweep`, checked against the job definition before anything is submitted.
Built on the shared layer and on `batchdeploy.jobs` (a sweep is a run: the same checks, credentials,
run record and submit); `jobs` never imports `sweeps`.

The front half, pure (no AWS), in the order a verb calls it:

    sweep = tasksfile.read_tasks_file(path, task_range, max_tasks)     # or grid.parse_grid(words, fixed, max_tasks)
    sweep = check.with_fixed(sweep, fixed)                             # tasks file only: -r NAME key=val
    sweep = outputs.with_outputs(sweep, run_id=..., bucket=..., results_prefix=...,
                                 job_definition=jd, output_parameter=...)   # each task its own output; {run_id}, {task}
    sweep = check.check_against_definition(sweep, jd)                  # unknown parameters; defaults filled in
    tasks = model.to_manifest_tasks(sweep, command)                    # for batchdeploy.manifest.build

Every mistake is a UsageError (exit 2) of one line listing every problem with its line and column.
"""
