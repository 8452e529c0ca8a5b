"""The doctor: why a job sits in RUNNABLE, named, with the one change that fixes it (issue #24).

`collect` describes what a job (or the project's queue) runs on, once, through batchdeploy.aws:
the job and its definition, the queue, its compute environments, the instance types they allow, the
jobs using their vCPUs, their subnets' routes and endpoints, the roles and profiles they name, the
image in ECR. `checks` are pure functions over those facts, each returning findings (what, where,
fix). `verb` is `batchdeploy doctor`; `hook` runs the doctor once when a followed job stays RUNNABLE
past RUNNABLE_WARN_S; `preflight` checks the queue before a submit, cached briefly.

Read-only: the doctor calls Describe*, Get* and List* only (the README lists the IAM actions); the
one change it can make is TerminateJob, and only with `--wait --cancel-unschedulable`.
"""
