"""The doctor's flags: those of `batchdeploy doctor`, and the two it adds to `run` (kept out of
cli.py, which holds the verb table)."""

from batchdeploy.errors import UsageError


def add_flags(add, verb: str) -> None:
    add("target", nargs="?", metavar="JOB_ID|RUN_ID",
        help="a job, or a run's jobs (default: the project's queue, AWS_JOB_QUEUE)")
    add("--queue", metavar="QUEUE", help="the queue to look at when no job is given (overrides AWS_JOB_QUEUE)")


def add_run_flags(add) -> None:
    add("--no-preflight", action="store_true", help="skip the check that the queue can place the job (cached 5 min)")
    add("--cancel-unschedulable", action="store_true",
        help="with --wait: terminate a job the doctor finds can never run (exit 4 either way)")


def check_run_flags(args) -> None:
    if getattr(args, "cancel_unschedulable", False) and not getattr(args, "wait", False):
        raise UsageError("--cancel-unschedulable needs --wait", hint="add --wait, or leave it out")
