"""`batchdeploy pipeline rerun RUN_ID` (its door is pipelines.verb.rerun): a new submit of only the steps of RUN_ID that did not succeed
(failed, not run, never submitted) and every step after them, from today's pipeline file (the path
run.json names: what changed since is the point of a rerun). The steps that succeeded are not run
again and are no dependency: their outputs stay where the original run wrote them, and the rerun's
`{steps.NAME.output}` still name the original run's locations. Before it submits, the rerun writes
its marker ORIGINAL/reruns/NEW_RUN_ID.json once (as sweeps' rerun does), so `--status ORIGINAL`
reads the original and its reruns as one run.
"""

from __future__ import annotations

from batchdeploy.pipelines import graph


def to_rerun(steps: list[graph.StepState], current: dict[str, str]) -> list[str]:
    """The steps that did not succeed, and every step after one of them (steps in dependency order)."""
    out: set[str] = set()
    for s in steps:
        if current[s.name] != "SUCCEEDED" or any(d in out for d in s.depends_on):
            out.add(s.name)
    return [s.name for s in steps if s.name in out]
