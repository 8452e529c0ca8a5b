"""Pipelines with no central server (issue #18): a graph of steps submitted at once with AWS Batch's
own `dependsOn`, so Batch starts each step when its dependencies succeed; no driver process, no job
that submits jobs, no object written by two writers. `model` is the contract between the pipeline
file's reader and the executor. Built on `jobs` and `sweeps` (a step is a run; a map step is a sweep).
"""
