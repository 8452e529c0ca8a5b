"""`python moto_server.py -H HOST -p PORT`: moto's server with its Batch extended so that the local
stack's jobs run as AWS Batch documents (see docs/local-stack.md, "The local AWS Batch behaves like AWS"). Run as a script by the moto
server's python; it imports moto and its sibling files batch_rules.py, batch_container.py and
batch_runner.py (loaded by path), never batchdeploy.

Written for moto 5.2.5 (pinned in constraints.txt). What it replaces, and nothing else:
- Job.run: batch_runner.run for container jobs (dependencies, vCPU limits, retries, timeouts, secrets,
  AWS_BATCH_* variables, live logs, exit codes and reasons); moto's own run for anything else;
- Job._wait_for_dependencies (used by moto's own run): arrays, N_TO_N and SEQUENTIAL as AWS decides them;
- Job._get_container_property("environment"): the merged environment, without moto's habit of
  appending AWS_BATCH_JOB_ID to the override list at every DescribeJobs;
- Job.describe: container.exitCode, container.reason and logStreamName (from the start) as AWS gives them;
- BatchResponse.submitjob: SubmitJob's retryStrategy, which moto drops, kept on the job.
`check_moto()` fails loudly when moto is not the version these were written against (tests call it).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MOTO_VERSION = "5.2.5"
# what the patches rely on: moto's names, checked at start-up and by tests/unit
MOTO_NAMES = ("run", "describe", "_get_container_property", "_wait_for_dependencies", "_mark_stopped",
              "_add_parameters_to_command", "_get_attempt_duration", "docker_client")


def load(name: str):
    """A sibling file as a top-level module (this folder is not on sys.path: its moto.py would shadow moto)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def check_moto() -> None:
    """Raises RuntimeError when the installed moto is not the one the patches were written for."""
    import moto
    from moto.batch import models, responses

    problems = []
    if moto.__version__ != MOTO_VERSION:
        problems.append(f"moto is {moto.__version__}, the local Batch extension was written for {MOTO_VERSION}")
    problems += [f"moto's batch Job has no {n}" for n in MOTO_NAMES if not hasattr(models.Job, n)]
    if not hasattr(responses.BatchResponse, "submitjob"):
        problems.append("moto's BatchResponse has no submitjob")
    if problems:
        raise RuntimeError("; ".join(problems) + ": re-read batchdeploy/local/moto_server.py against moto's source")


def wait_for_dependencies(self) -> bool:
    """moto's Job._wait_for_dependencies, deciding arrays, N_TO_N and SEQUENTIAL as AWS does."""
    rules = load("batch_rules")
    while True:
        found = [rules.dependency_state(self, d, self.all_jobs) for d in self.depends_on or []]
        if "FAILED" in found:
            self.job_stopped_reason = self.job_stopped_reason or rules.DEPENDENCY_FAILED
            self._mark_stopped(success=False)
            return False
        if all(s == "SUCCEEDED" for s in found):
            return True
        time.sleep(1)
        if self.stop:
            self._mark_stopped(success=False)
            return False


def patch() -> None:
    from moto.batch import models, responses

    check_moto()
    rules = load("batch_rules")
    load("batch_container")
    runner = load("batch_runner")
    original_run, original_describe = models.Job.run, models.Job.describe
    original_property, original_submit = models.Job._get_container_property, responses.BatchResponse.submitjob

    def run(self):
        runner.run(self, original_run)

    def container_property(self, p, default):
        if p != "environment":
            return original_property(self, p, default)
        env = rules.merged_environment(self.job_definition.container_properties.get("environment"),
                                       self.container_overrides.get("environment"))
        return [{"name": k, "value": v} for k, v in env.items()]

    def describe(self):
        result = original_describe(self)
        container = result.get("container")
        if container is not None and self.job_definition.container_properties:
            current = getattr(self, "_current_attempt", None)
            container.pop("logStreamName", None)  # the current attempt's, else the last one's
            if current is not None and current.stream:
                container["logStreamName"] = current.stream
            elif self.attempts:
                last = self.attempts[-1]["container"]
                container.update({k: last[k] for k in ("logStreamName",) if k in last})
                if self.job_stopped:
                    container.update({k: last[k] for k in ("exitCode", "reason") if k in last})
            secrets = self.job_definition.container_properties.get("secrets")
            if secrets:
                container["secrets"] = secrets
        return result

    def submitjob(self):
        body = original_submit(self)
        strategy = self._get_param("retryStrategy")
        job = self.batch_backend.get_job_by_id(json.loads(body)["jobId"])
        children = getattr(job, "_child_jobs", None) or []
        for each in [job, *children] if strategy and job else []:
            each._submitted_retry = strategy
        if children and job._status == "SUBMITTED" and not job.job_stopped:
            job._status = "PENDING"  # AWS: an array parent waits, PENDING, while its children run
        return body

    models.Job.run = run
    models.Job.describe = describe
    models.Job._get_container_property = container_property
    models.Job._wait_for_dependencies = wait_for_dependencies
    responses.BatchResponse.submitjob = submitjob
    print(f"local Batch extension: moto {MOTO_VERSION}, patched by {__file__}", flush=True)


if __name__ == "__main__":
    # run as a script, this folder is sys.path[0], and its moto.py would shadow moto itself
    sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != HERE]
    patch()
    from moto.server import main

    main(sys.argv[1:])
