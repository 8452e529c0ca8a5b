"""Python functions on AWS Batch (issue #19): `batch(**options)` submits a call or maps one over an
iterable as one array job, through the launcher's function mode (launch.calls, the contract), and
brings back the value or the remote exception with its traceback and output.

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
