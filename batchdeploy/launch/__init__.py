"""The launcher: the small piece of batchdeploy that runs inside the job's container.

It imports nothing but the Python 3 standard library and botocore (a unit test scans its imports),
so it runs in any image with python3 and botocore, and it is shipped either with the package
(`python3 -m batchdeploy.launch`) or as one file, `batchdeploy-launch`, a zip application of this
package alone (`batchdeploy.launch.zipapp`), which a Dockerfile adds with one line:

    COPY batchdeploy-launch /usr/local/bin/

Three modes, chosen by the environment and the manifest:

**Manifest mode** (`--manifest s3://BUCKET/KEY` or `BATCHDEPLOY_MANIFEST`). In order: find the task
(`--task N`, else `AWS_BATCH_JOB_ARRAY_INDEX`, else the INDEX of an `AWS_BATCH_JOB_ID` of the form
`PARENT:INDEX`, else 0); read the manifest (its sha256 is checked when the key's name is one,
`manifests/<sha256>.json`); fetch the code bundle when the manifest names one, check its sha256 and
unpack it into a fresh folder the command runs in; copy the inputs in; make the outputs' local
folders; run the command with stdout
and stderr passed through live (the job's log) and the end of stderr kept; copy the outputs out;
write the task record; exit with the command's exit code (128+N when a signal N ended it).

The manifest (JSON, written by `batchdeploy.manifest`; `spec.parse_manifest` checks it):

    {"format": "batchdeploy.manifest/1",
     "bundle": {"url": "s3://B/P/code/<sha256>.tar.gz", "sha256": "<hex>", "size": 1234} | null,
     "records": "s3://B/P/runs/RUN_ID/" | null,          # where task records go, unless --records
     "command": ["python3", "train.py", "--lr", "Ref::lr"] | null,   # every task's, unless its own
     "environment": {"NAME": "value"},                   # every task's; a task's own entries win
     "stderr": "live" | "after-marker",                  # optional; after-marker: a bag's (see below)
     "tasks": [{"id": 7,                                # optional; every task's or none (see below)
                "command": [...] | null, "parameters": {"lr": "0.1"}, "environment": {...},
                "inputs":  [{"from": "s3://B/data/x.csv", "to": "data/x.csv"},
                            {"from": "s3://B/data/set/", "to": "data/set/"}],   # a prefix ends in /
                "outputs": [{"from": "out/", "to": "s3://B/results/3/"},
                            {"from": "model.pt", "to": "s3://B/models/3.pt", "optional": true}]}]}

`Ref::NAME` inside a command's words is replaced by the task's parameter NAME, as AWS Batch does with
a job's parameters; the task also sees `BATCHDEPLOY_TASK_INDEX` (its place in the array),
`BATCHDEPLOY_TASK_ID` (its id, a positive integer unique in the manifest; the index when the manifest
gives no ids) and `BATCHDEPLOY_PARAMETERS` (JSON). A sweep's task keeps its id when a rerun puts it at
another index, so its records stay together.
Relative local paths are relative to the folder the command runs in. With `"stderr": "after-marker"`
(what `batchdeploy submit` and `pegasus-aws-batch` write) the command's stderr is held until it ends,
then printed on stdout after pegasus's `TASK STDERR` marker line, so a reader of the one log stream
splits the two as pegasus's client does; by default both stream live. The manifest never holds
credentials: the job gets them in its environment (or from its role).

The task record, one object per task and attempt, never rewritten by anyone:
`<records>/tasks/<TASK ID>/attempt-<N>.json` (`record.build_record` lists its fields: task id and
index, exit code, signal, start and end, attempt, peak memory and CPU time of the command's processes, host, the last lines of
stderr, bytes copied, bundle hash, and the launcher's own time before and after the command).

**Function mode** (issue #19): a manifest task with a `"call"` instead of a command runs a Python
function that `batchdeploy.functions` pickled on the client (the call object, the result envelope
and the exit codes are `batchdeploy.launch.calls`'s docstring; `function` does the work). After the
bundle and the inputs as for a command: refuse a call pickled by another Python major.minor; fetch
the function's and the arguments' cloudpickles (or decode the arguments from the manifest) and check
each sha256; run the call in a child `python3` (`callchild`) whose `sys.path` starts with the
bundle's folder (also its working folder), so a function of the project's own modules imports them
from the bundle; its stdout and stderr stream live to the job's log (line by line, with the
traceback on stderr when it raises) and their ends are kept; store the result envelope (the
value, or the exception's type, message, remote traceback and pickle, with both streams' ends, the
job's secrets masked) at the call's `result`, whatever happened, then the task record (which names
the call). Exit 0 when the function returned, 1 when it raised, 117 when the call could not be
loaded or its value pickled, 143 when SIGTERM (Batch's timeout, a cancel) ended it: raised inside
the function, so the envelope has the traceback of where it was. cloudpickle travels inside the zip application (`zipapp`); only the
child imports it, so the launcher itself still needs nothing but the standard library and botocore.

**fetch-and-run mode** (`BATCH_FILE_TYPE` and `BATCH_FILE_S3_URL`, no manifest): what AWS's
`fetch_and_run.sh` does, with its variables, messages and exit codes (see `fetch_and_run`).

Exit codes of the launcher's own failures (chosen outside what commands commonly use: 0-2, 126-127,
128+N; each with one line on stderr starting `batchdeploy-launch:`):
"""

from __future__ import annotations

from batchdeploy.launch.calls import EXIT_CALL_SETUP

VERSION = "1"

# The launcher's own failures; listed in the module docstring's table by `exit_code_table`.
EXIT_USAGE = 110  # bad arguments or environment: no manifest named, a malformed URL or task index
EXIT_MANIFEST = 111  # the manifest is missing, unreadable, not ours, or has no such task
EXIT_S3 = 112  # S3 refused or could not be reached (access denied, no credentials, network)
EXIT_BUNDLE = 113  # the code bundle is missing, its sha256 differs, or it cannot be unpacked
EXIT_INPUT = 114  # an input is missing or cannot be written to its local path
EXIT_OUTPUT = 115  # a declared output is missing after the command succeeded, or its upload failed
EXIT_RECORD = 116  # the command succeeded but its task record could not be written
EXIT_NOT_FOUND = 127  # the command's program does not exist (as a shell says)
EXIT_NOT_EXECUTABLE = 126  # the command's program cannot be executed (as a shell says)

EXIT_CODES = {
    EXIT_USAGE: "usage: no manifest named, a malformed URL or task index",
    EXIT_MANIFEST: "manifest missing, unreadable, of another format, or without this task",
    EXIT_S3: "S3 refused (access denied, no credentials) or could not be reached",
    EXIT_BUNDLE: "code bundle missing, sha256 mismatch, or unsafe/unreadable archive",
    EXIT_INPUT: "an input missing in S3 or not writable locally",
    EXIT_OUTPUT: "a declared output missing after a successful command, or its upload failed",
    EXIT_RECORD: "the command succeeded but the task record could not be written",
    EXIT_CALL_SETUP: "a function call could not be loaded or its result stored (the result envelope says why)",
    EXIT_NOT_EXECUTABLE: "the command cannot be executed",
    EXIT_NOT_FOUND: "the command's program was not found",
}

__doc__ += "".join(f"\n    {code}  {text}" for code, text in sorted(EXIT_CODES.items())) + "\n"
