"""Pipelines with no central server (issue #18): a graph of steps submitted at once with AWS Batch's
own `dependsOn`, so Batch starts each step when its dependencies succeed; no driver process, no job
that submits jobs, no object written by two writers. `model` is the contract between the pipeline
file's reader and the executor. Built on `jobs` and `sweeps` (a step is a run; a map step is a sweep).

The front half, pure (no AWS), in the order a verb calls it:

    pipeline = pipelinefile.read_pipeline_file(path, max_tasks)      # the file, checked whole (check.problems)
    check.check_pipeline(pipeline, max_tasks=..., per_task={...})     # again when the executor knows which map
                                                                      # steps go one job per task (no launcher)
    check.check_parameters(pipeline, {step name: job definition})     # after DescribeJobDefinitions
    for step in check.order(pipeline): ...                            # submit in dependency order
    outputs.expand_outputs(value, run_id, bucket, results_prefix)     # {steps.NAME.output} in each value
    check.dependents(pipeline, name)                                  # what a failure stops; what a rerun reruns
    check.job_name(pipeline.name, step.name)                          # PIPELINE-STEP

Every mistake is a UsageError (exit 2) of one line listing every problem with its line.

The back half: `submit` plans every step's requests (by shape, `maps`: a plain job, an array through
the launcher, or one job per task on an image without it; with `settings: code`, every step through
the launcher from one code bundle), writes the run record and submits; `record` reads a run (and its
reruns) back from S3, `graph` the steps' states, `view` shows them while `--wait` follows, `logs` adds
the steps' log lines (`--logs`); `rerun` picks what a rerun submits (the steps, and a per-task map's
tasks, that did not succeed).
"""
