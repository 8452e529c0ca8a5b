"""Python functions on the local stack, where the calls really run in containers: a value back; an
exception back with the remote traceback and output; a map of 20 with two failures that loses no
other result; a GPU option in the registered definition (submitted and described: the stack has no
GPU); a Python-version mismatch and an unpicklable argument refused before anything is submitted.
The functions are defined inside the tests, so cloudpickle ships them by value, as from a notebook."""

from __future__ import annotations

import json
import shutil
import sys
import threading

import pytest

from batchdeploy import runs
from batchdeploy.errors import UsageError
from batchdeploy.functions import api, futures
from batchdeploy.functions import options as fopts
from tests.conftest import ROOT
from tests.run_support import inprocess

from .test_launch_stack import launcher_image  # noqa: F401 - the module's image with the launcher
from .test_local_stack import Batch

pytestmark = [pytest.mark.engine, pytest.mark.e2e]
PY = f"{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.fixture(scope="module")
def batch(local_stack):
    return Batch(local_stack)


def use_project(batch: Batch, project, monkeypatch, image: str, python: str = PY) -> None:
    """The project on the stack's queue and bucket; images.json says what -b says of the image (the
    launcher, its Python); env-overrides.json gives the job its region, as a user's project does."""
    project.env_file(PROJECT_NAME="demo", AWS_JOB_QUEUE=batch.queue.rsplit("/", 1)[1], S3_BUCKET=batch.bucket)
    project.write_json("env-overrides.json", {"environment": [
        {"name": "AWS_REGION", "value": "us-east-1"}, {"name": "AWS_DEFAULT_REGION", "value": "us-east-1"},
        {"name": "AWS_EC2_METADATA_DISABLED", "value": "true"}]})
    shutil.copy(ROOT / "credentials-filter.example", project.path / "credentials-filter")
    repo, _, tag = image.rpartition(":")
    project.write_json(".batchdeploy/images.json",
                       {"images": {"app": {"repository": repo, "tag": tag, "launcher": True, "python": python}}})
    for key, value in {"AWS_ENDPOINT_URL": batch.stack.endpoint, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
                       "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(project.path)


def remote(fn, **options):
    """The containers take real time here: looks at most 2 s apart."""
    return api.Remote(fn, fopts.parse({"memory": 256, "poll": 2.0, **options}))


def queue_jobs(batch: Batch) -> list[str]:
    queue = batch.queue.rsplit("/", 1)[1]
    return [j["jobId"] for s in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
            for j in batch.batch.list_jobs(jobQueue=queue, jobStatus=s)["jobSummaryList"]]


def test_a_call_returns_its_value_and_a_raise_comes_back_with_the_remote_traceback_and_output(
        batch, launcher_image, project, monkeypatch):  # noqa: F811
    use_project(batch, project, monkeypatch, launcher_image)

    def stats(xs, scale=1):
        import platform
        return {"sum": scale * sum(xs), "python": platform.python_version()}

    def divide(a, b):
        print(f"dividing {a} by {b}", flush=True)
        return a / b

    got = remote(stats, image=launcher_image)([1, 2, 3], scale=2)
    assert got["sum"] == 12 and got["python"].startswith(PY)
    future = remote(divide, image=launcher_image).submit(1, 0)
    with pytest.raises(ZeroDivisionError) as caught:
        future.result(timeout=600)
    notes = "\n".join(getattr(caught.value, "__notes__", []))
    assert "Remote traceback" in notes and "in divide" in notes
    assert "dividing 1 by 0" in notes
    assert any("dividing 1 by 0" in line for line in future.logs())
    code, out, err = inprocess(["status", future.run_id])
    assert code == 0, err
    assert "1 tasks: 1 FAILED" in out


def test_a_map_of_20_with_two_failures_keeps_the_other_results_in_order(
        batch, launcher_image, project, monkeypatch):  # noqa: F811
    use_project(batch, project, monkeypatch, launcher_image)

    def fit(rate):
        if rate in (3, 7):
            raise ValueError(f"rate {rate} diverged")
        return rate * rate

    before = {j for j in queue_jobs(batch) if ":" not in j}  # top-level jobs (array children are PARENT:INDEX)
    handle = remote(fit, image=launcher_image).map_async(range(20))
    with pytest.raises(futures.MapError) as caught:
        handle.results(timeout=1200)
    err = caught.value
    assert sorted(err.errors) == [3, 7] and all(isinstance(e, ValueError) for e in err.errors.values())
    assert "rate 3 diverged" in str(err.errors[3])
    assert [r for i, r in enumerate(err.results) if i not in (3, 7)] == [i * i for i in range(20) if i not in (3, 7)]
    assert len({j for j in queue_jobs(batch) if ":" not in j} - before) == 1  # one SubmitJob: one array of 20
    code, out, _ = inprocess(["status", handle.run_id, "--output", "json"])
    assert json.loads(out)["counts"] == {"FAILED": 2, "SUCCEEDED": 18}
    run = runs.read_run(batch.s3, batch.bucket, "runs", handle.run_id, tasks=False)
    assert run["kind"] == "function" and run["function"]["calls"] == 20


def test_a_gpu_option_registers_its_resource_requirement(batch, launcher_image, project, monkeypatch):  # noqa: F811
    use_project(batch, project, monkeypatch, launcher_image)
    future = remote(lambda: 1, image=launcher_image, gpus=1).submit()
    job = batch.batch.describe_jobs(jobs=[future.job_id])["jobs"][0]
    definition = batch.batch.describe_job_definitions(jobDefinitions=[job["jobDefinition"]])["jobDefinitions"][0]
    assert {"type": "GPU", "value": "1"} in definition["containerProperties"]["resourceRequirements"]
    future.cancel()


def test_a_python_mismatch_and_an_unpicklable_argument_submit_nothing(
        batch, launcher_image, project, monkeypatch):  # noqa: F811
    use_project(batch, project, monkeypatch, launcher_image, python="3.7")
    before = queue_jobs(batch)
    with pytest.raises(UsageError, match=f"this Python is {PY} and image .* has Python 3.7"):
        remote(lambda x: x, image=launcher_image).submit(1)
    use_project(batch, project, monkeypatch, launcher_image)
    with pytest.raises(UsageError, match="argument 0"):
        remote(lambda x: x, image=launcher_image).submit(threading.Lock())
    assert queue_jobs(batch) == before


def test_the_example_fits_a_model_per_rate_in_one_map_and_prints_the_best(
        batch, launcher_image, project, monkeypatch):  # noqa: F811
    import os
    import subprocess

    use_project(batch, project, monkeypatch, launcher_image)
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "functions" / "fit.py"), launcher_image],
                          cwd=project.path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=1200)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1].startswith("best: rate 0.1 loss 0.0111")
    assert any(line.split()[:3] == ["3.0", "failed:", "ArithmeticError:"] for line in lines), done.stdout
