"""The flags of `batchdeploy pipeline` (kept out of cli.py, which holds the verb table)."""

from batchdeploy.doctor import flags as doctor_flags


def add_flags(add, verb: str) -> None:
    add("action", metavar="run|rerun|status", help="run FILE, rerun RUN_ID, or status RUN_ID")
    add("target", metavar="FILE|RUN_ID", help="the pipeline file (run) or a pipeline run's id")
    add("--wait", action="store_true", help="follow the graph to its end (exit 3 when a step failed)")
    add("--no-credentials", action="store_true", help="inject no credentials (right when the definitions have a jobRoleArn)")
    add("--dry-run", action="store_true", help="read, check and plan; upload and submit nothing")
    add("--logs", nargs="?", const="", metavar="STEP[,STEP]",
        help="with --wait: the running steps' log lines as they arrive, each prefixed by its step (default: every step)")
    doctor_flags.add_run_flags(add)  # --no-preflight, --cancel-unschedulable: as -r's
