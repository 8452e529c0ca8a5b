"""Function mode (issue #19): the contract between the client (`batchdeploy.functions`, which pickles a
Python call and submits it) and the launcher (which runs it inside the container and stores what came
back). This module holds the shared facts; both sides import them from here. Standard library only,
like the rest of the launcher (it travels in the `batchdeploy-launch` zip application).

A function call is a task of the launcher's manifest with a `"call"` object instead of a command:

    {"id": 3,                                   # as any task: the record is tasks/3/attempt-N.json
     "call": {"function":  {"url": "s3://B/P/functions/<sha256>.pkl", "sha256": "<hex>"},
              "arguments": {"url": "s3://B/P/functions/<sha256>.pkl", "sha256": "<hex>"}
                           | {"inline": "<base64 of the pickle>", "sha256": "<hex>"},
              "python": "3.11",                 # the client's major.minor: pickles do not cross versions
              "result": "s3://B/P/runs/RUN_ID/results/3.pkl"}}

- `format` (optional, added by the launcher's half): `CALL_FORMAT`; `batchdeploy.functions.payload`
  writes it and the launcher refuses a call of another format (`spec.call_problems`).
- `function`: cloudpickle of the callable alone, content-addressed (the key's name is the sha256 of
  the bytes), so a `.map` over 1,000 inputs uploads the function once, and a second run none.
- `arguments`: cloudpickle of `(args, kwargs)` (a tuple and a dict), content-addressed too, or inline
  in the manifest when small (`INLINE_ARGUMENTS_MAX` bytes of pickle, before base64), so a `.map` of
  small inputs uploads one manifest instead of one object per element.
- `python`: the launcher refuses to unpickle when its own `sys.version_info[:2]` differs; the result
  then says so (`error.type == PYTHON_MISMATCH`), and the task exits `EXIT_CALL_SETUP`.
- `result`: where the launcher puts the result envelope; written once per attempt that ends (a retry
  overwrites it with the later attempt's; the task record keeps every attempt).

The launcher loads the call in a child Python process (`sys.executable`, the launcher's own code on its
path and the code bundle's folder first on `sys.path`, the working folder as for a command), so a
function whose module lives in the project's code imports it from the bundle, a crash or `os._exit`
in the function still leaves a record, and the memory and CPU readings of the task record apply as
for a command. cloudpickle travels inside the zip application (the client's own copy, so both sides
run the same cloudpickle); the launcher's modules themselves still import only the standard library.

The result envelope at `result` is a plain `pickle` (protocol `PICKLE_PROTOCOL`) of a dict:

    {"format": RESULT_FORMAT,
     "ok": True,  "value": <bytes: cloudpickle of the return value>,
     "ok": False, "error": {"type": "module.QualName", "message": str(exc), "traceback": "<remote text>",
                            "exception": <bytes: cloudpickle of the exception> | None},
     "stdout": "<last STREAM_TAIL_BYTES of the call's stdout>", "stderr": "<same for stderr>",
     "python": "3.11.2", "host": "...", "started": "ISO 8601 UTC", "ended": "ISO 8601 UTC"}

Two fields beyond the shape above (added by the launcher's half): `error.stage`, where the call
failed: "load" (fetching, checking or unpickling the call; `PYTHON_MISMATCH`, `LAUNCH_FAILED` or the
unpickling exception's own type), "call" (the function raised: its exception), "result" (the value
could not be pickled: `RESULT_UNPICKLABLE`), "process" (the call's process ended without a result,
killed or `os._exit`: `CALL_DIED`), "launcher" (the launcher failed around a call that ran: inputs,
outputs: `LAUNCH_FAILED`); and `error.exit_code`, the task's exit code. Every text of the envelope
(stdout, stderr, message, traceback) has the job's secret-looking environment values masked as the
task record has, and an exception whose pickle holds one is not kept (`exception: None`).

The value and the exception are pickled apart from the envelope so a client that cannot unpickle one
(a class it does not have) still reads the envelope, the message and the traceback. A return value that
cannot be pickled is an `ok: False` result whose error says so. stdout and stderr are also streamed
live to the job's log as a command's are.

Exit codes of a call task: 0 when the function returned; `EXIT_CALL_RAISED` when it raised (the
envelope holds the exception); `EXIT_CALL_SETUP` when the call could not be loaded (missing object,
sha256 mismatch, Python version, unpickling failed: the envelope says which); 143 when SIGTERM (Batch's
timeout, a cancel) ended it: raised inside the function as `callchild.Terminated`, so the envelope has
the traceback of where it was; 128+N when another signal N killed it (`CALL_DIED`); the launcher's own
codes (`batchdeploy.launch.EXIT_*`) otherwise.
"""

from __future__ import annotations

CALL_FORMAT = "batchdeploy.call/1"
RESULT_FORMAT = "batchdeploy.result/1"
PICKLE_PROTOCOL = 4  # every Python 3 this project supports reads it
INLINE_ARGUMENTS_MAX = 2048  # bytes of an arguments pickle kept in the manifest instead of its own object
STREAM_TAIL_BYTES = 64 * 1024  # of the call's stdout and of its stderr, kept in the result envelope
PYTHON_MISMATCH = "batchdeploy.PythonVersionMismatch"  # error.type of a refused call
LAUNCH_FAILED = "batchdeploy.LaunchFailed"  # error.type: the launcher's own failure (missing object, sha256, S3)
RESULT_UNPICKLABLE = "batchdeploy.UnpicklableResult"  # error.type: the return value cannot be pickled
CALL_DIED = "batchdeploy.CallDied"  # error.type: the call's process ended without a result (signal, os._exit)
EXIT_CALL_RAISED = 1  # the function raised; the exception is in the result envelope
EXIT_CALL_SETUP = 117  # the call could not be loaded or its result not stored; the envelope says why
