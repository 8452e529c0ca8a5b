"""`python moto_server.py -H HOST -p PORT`: moto's server with one documented patch, so that the local
stack's `dependsOn` behaves as AWS Batch documents. Run as a script by the moto server's python
(it imports moto only, never batchdeploy).

moto 5's Job._wait_for_dependencies polls each dependency's `status` attribute. An array parent's
status is set only when something describes it, and only to SUCCEEDED: so a job after an array waits
until someone calls DescribeJobs, and forever when a child failed; and `N_TO_N` is ignored (each
child waits for the whole parent). AWS: a job after an array starts when every child succeeded and
FAILS when one failed; with N_TO_N, child i waits for child i only. The patch decides an array
dependency from its children (and sets the parent's status, as AWS does), pairs N_TO_N children by
index, and fails the waiting job without running it when a dependency failed (as moto already does
for a plain job). Nothing else of moto changes.
"""

from __future__ import annotations

import sys
import time


def dependency_state(job, dependency: dict, all_jobs) -> str | None:
    """SUCCEEDED, FAILED or None (not ended) for one entry of `job`'s dependsOn."""
    target = all_jobs.get(dependency["jobId"])
    if target is None:
        return None
    children = getattr(target, "_child_jobs", None)
    if children and dependency.get("type") == "N_TO_N":
        index = (getattr(job, "array_properties", None) or {}).get("index")
        if index is not None and 0 <= index < len(children):
            child = children[index]
            return child.status if child.status in ("SUCCEEDED", "FAILED") else None
    if children:
        states = [c.status for c in children]
        if all(s in ("SUCCEEDED", "FAILED") for s in states):
            target.status = "FAILED" if "FAILED" in states else "SUCCEEDED"  # AWS's parent: ended with its children
            return target.status
        return None
    return target.status if target.status in ("SUCCEEDED", "FAILED") else None


def wait_for_dependencies(self) -> bool:
    """moto's Job._wait_for_dependencies, deciding arrays and N_TO_N as AWS does (see the module)."""
    while True:
        found = [dependency_state(self, d, self.all_jobs) for d in self.depends_on or []]
        if "FAILED" in found:
            self._mark_stopped(success=False)
            return False
        if all(s == "SUCCEEDED" for s in found):
            return True
        time.sleep(1)
        if self.stop:
            self._mark_stopped(success=False)
            return False


def patch() -> None:
    from moto.batch import models

    models.Job._wait_for_dependencies = wait_for_dependencies


if __name__ == "__main__":
    # run as a script, this folder is sys.path[0], and its moto.py would shadow moto itself
    here = __file__.rsplit("/", 1)[0]
    sys.path[:] = [p for p in sys.path if p not in ("", here)]
    patch()
    from moto.server import main

    main(sys.argv[1:])
