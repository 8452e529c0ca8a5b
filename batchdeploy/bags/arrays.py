"""Tasks that share a job definition and queue, as one array job through the launcher's manifest, when
the definition's image has the launcher (jobs.code.launcher_path: BATCHDEPLOY_LAUNCHER declared in the
definition, or -b built the image with it). Pure: the units are planned from the tasks' requests.

An array's child i runs task i of its manifest: the task's own command (pegasus's [executable,
arguments]) and environment (PEGASUS_JOB_NAME, TRANSFER_INPUT_FILES, ...). One SubmitJob then carries
up to 10,000 tasks instead of one, and one DescribeJobs of the parent watches them all. A group of one
task, or a definition without the launcher, stays one SubmitJob per task. An array's children are
`PARENT:INDEX`, so each task still has its own job id, state and log stream. The manifest asks the
launcher for `"stderr": "after-marker"`: stdout live, then pegasus's marker and the task's stderr, so
its `.out` and `.err` come apart as they do under pegasus's own launcher.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from batchdeploy import manifest as manifests
from batchdeploy.aws.batch import ARRAY_SIZE
from batchdeploy.aws.tags import TAG_CLIENT_TOKEN
from batchdeploy.errors import UsageError
from batchdeploy.jobs import request as req


@dataclass
class Unit:
    """One SubmitJob: an array of `placed` (in index order) or one task's own job."""

    request: dict
    placed: list  # execute.Placed, in index order
    bucket: str | None = None
    manifest: manifests.Manifest | None = None
    manifest_key: str | None = None
    job_id: str | None = None
    record: dict = field(default_factory=dict)

    @property
    def is_array(self) -> bool:
        return self.manifest is not None


def _env(request: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in (request.get("containerOverrides") or {}).get("environment") or []}


def plan(placed: list, launchers: dict[str, str | None], *, bucket: str, key_prefix: str,
         token: str, notes: list | None = None) -> list[Unit]:
    """`launchers`: job definition (as the requests name it) -> the launcher's command, None without one.
    A group whose tasks cannot go in a manifest (an environment name that looks secret: a manifest never
    holds credentials) stays one job per task, said in `notes`."""
    groups: dict[tuple[str, str], list] = {}
    for p in placed:
        groups.setdefault((p.request["jobDefinition"], p.request["jobQueue"]), []).append(p)
    units: list[Unit] = []
    arrays = 0
    for (definition, queue), members in groups.items():
        launcher = launchers.get(definition)
        if launcher is None or len(members) < ARRAY_SIZE[0]:
            units += [Unit(p.request, [p]) for p in members]
            continue
        for start in range(0, len(members), ARRAY_SIZE[1]):
            chunk = members[start : start + ARRAY_SIZE[1]]
            if len(chunk) < ARRAY_SIZE[0]:  # 10,001 tasks: the last one alone
                units += [Unit(p.request, [p]) for p in chunk]
                continue
            records = f"s3://{bucket}/{key_prefix}records/{token}/"
            try:
                m = manifests.build([{"id": n, "command": p.request["containerOverrides"]["command"],
                                      "environment": _env(p.request)} for n, p in enumerate(chunk, 1)], records=records,
                                    stderr="after-marker")  # stdout and stderr apart in the one log stream
            except UsageError as exc:
                if notes is not None:
                    notes.append(f"{len(chunk)} tasks go one job each, not as an array: {exc.line()}")
                units += [Unit(p.request, [p]) for p in chunk]
                continue
            arrays += 1
            key = m.key(key_prefix)
            url = f"s3://{bucket}/{key}"
            request = {"jobName": f"{chunk[0].task.name[:100]}-bag{arrays}", "jobQueue": queue,
                       "jobDefinition": definition, "arrayProperties": {"size": len(chunk)},
                       "containerOverrides": {"command": [launcher, "--manifest", url, "--records", records]},
                       "tags": {TAG_CLIENT_TOKEN: f"{token}-a{arrays}"}}
            req.check(request)
            units.append(Unit(request, chunk, bucket, m, key))
    return units
