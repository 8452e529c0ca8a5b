"""Python functions on AWS Batch (issue #19): `batch(**options)` submits a call or maps one over an
iterable as one array job; a call is pickled here (payload.py), run by the launcher's function mode
in the job's container (batchdeploy.launch.function), and its result read back (results.py): the
value, or the remote exception with its traceback and output. The contract between the two sides is
batchdeploy.launch.calls.

Modules: api (the decorator), options (ours and covalent's names, AWS's limits), jobdefs (one
definition per image and resources), shipping (what a submit uploads; payload pickles), pyversion,
submit (checks, run record, SubmitJob), futures (waiting, results), results and payload (the
pickles, shared with the launcher half). Imported on use: `import batchdeploy` never loads this.
"""

from __future__ import annotations


def __getattr__(name):
    if name in ("batch", "from_covalent", "Remote", "MapFuture"):
        from batchdeploy.functions import api

        return getattr(api, name)
    if name in ("MapError", "CallFailed", "Future"):
        from batchdeploy.functions import futures

        return getattr(futures, name)
    raise AttributeError(name)
