"""The doctor inside `-r --wait` (injected clock: no sleeping) and `-r`'s preflight, on the moto server
through the fault proxy, which also counts the requests."""

from __future__ import annotations

import json

import pytest

from tests import doctor_support as ds
from tests.run_support import FakeClock, inprocess

pytestmark = pytest.mark.usefixtures("moto")
MISCONFIGURED = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement is higher than the CEs can meet"


@pytest.fixture
def setup(aws, project, proxy, monkeypatch):
    env = ds.environment(aws)
    ds.project_for(project, env, RUNNABLE_WARN_S="60")
    monkeypatch.chdir(project.path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    return env


def test_wait_ends_within_one_poll_of_a_cause_that_never_resolves(setup, proxy):
    proxy.add(path="/v1/describejobs", rewrite=ds.runnable(MISCONFIGURED))
    t = FakeClock()
    code, out, err = inprocess(["run", "exp1", "--no-credentials", "--wait"], sleep=t.sleep, clock=t.clock)
    assert code == 4, err
    assert "can never run: AWS says: MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT" in err
    assert "fix: lower the job's vcpus/memory/gpus" in err
    assert "--cancel-unschedulable would have terminated it" in err
    # the poll after the sleep that crossed RUNNABLE_WARN_S was the last: no sleep after the finding
    assert t.now >= 60 and t.now - t.sleeps[-1] < 60
    assert proxy.count("terminatejob") == 0


def test_cancel_unschedulable_terminates_the_job_with_a_reason(setup, proxy):
    proxy.add(path="/v1/describejobs", rewrite=ds.runnable(MISCONFIGURED))
    t = FakeClock()
    code, out, err = inprocess(["run", "exp1", "--no-credentials", "--wait", "--cancel-unschedulable"],
                               sleep=t.sleep, clock=t.clock)
    assert code == 4, err
    bodies = proxy.bodies("terminatejob")
    assert len(bodies) == 1 and "--cancel-unschedulable" in bodies[0]["reason"]
    assert "terminated (--cancel-unschedulable)" in err


def test_a_runnable_job_with_no_finding_is_still_waited_for(setup, proxy):
    t = FakeClock()
    proxy.add(path="/v1/describejobs", rewrite=ds.runnable(), when=lambda r: t.now < 90)  # RUNNABLE for 90 s
    code, out, err = inprocess(["run", "exp1", "--no-credentials", "--wait"], sleep=t.sleep, clock=t.clock)
    assert code == 0, err
    assert t.now >= 90 and err.count("the doctor looks at why") == 1
    assert "the doctor looks at why" in err and "no problem found" in err


def test_cancel_unschedulable_needs_wait(setup, proxy):
    code, out, err = inprocess(["run", "exp1", "--no-credentials", "--cancel-unschedulable"])
    assert code == 2 and "--cancel-unschedulable needs --wait" in err
    assert proxy.count("submitjob") == 0


def test_a_sweeps_wait_ends_too(setup, proxy, aws, project):
    aws.client("s3").create_bucket(Bucket="sweep-bucket")
    ds.project_for(project, setup, RUNNABLE_WARN_S="60", S3_BUCKET="sweep-bucket")
    proxy.add(path="/v1/describejobs", rewrite=ds.runnable(MISCONFIGURED))
    t = FakeClock()
    code, out, err = inprocess(["run", "sw", "--grid", "word=a,b", "--no-credentials", "--wait", "--cancel-unschedulable"],
                               sleep=t.sleep, clock=t.clock)
    assert code == 4, err
    assert "can never run: AWS says: MISCONFIGURATION" in err
    assert t.now >= 60 and t.now - t.sleeps[-1] < 60
    assert len(proxy.bodies("terminatejob")) == 1  # the first stuck job; the wait ends there


# ---- the preflight --------------------------------------------------------------------------------


def test_the_preflight_is_cached_for_repeated_runs(setup, proxy, project):
    code, out, err = inprocess(["run", "exp1", "--no-credentials"])
    assert code == 0, err
    assert proxy.count("describecomputeenvironments") == 1 and proxy.count("DescribeInstanceTypes") == 1
    first = len(proxy.requests)
    code, out, err = inprocess(["run", "exp1", "--no-credentials"])
    assert code == 0, err
    second = proxy.operations[first:]
    assert "describecomputeenvironments" not in second and "DescribeInstanceTypes" not in second, second
    # a different request shape is a different key: looked at again
    code, out, err = inprocess(["run", "exp1", "--no-credentials", "--vcpus", "2"])
    assert code == 0 and proxy.count("describecomputeenvironments") == 2
    # past its time, the cache is not trusted
    cache = project.path / ".batchdeploy" / "preflight.json"
    cache.write_text(json.dumps({k: v - 301 for k, v in json.loads(cache.read_text()).items()}))
    code, out, err = inprocess(["run", "exp1", "--no-credentials"])
    assert code == 0 and proxy.count("describecomputeenvironments") == 3


def test_the_preflight_refuses_what_no_environment_can_place(setup, proxy):
    code, out, err = inprocess(["run", "exp1", "--no-credentials", "--vcpus", "128"])
    assert code == 4, err
    assert "preflight: queue demo-queue cannot place 128 vCPU" in err and "fix:" in err
    assert proxy.count("submitjob") == 0
    code, out, err = inprocess(["run", "exp1", "--no-credentials", "--vcpus", "128", "--no-preflight"])
    assert code == 0, err
    assert proxy.count("submitjob") == 1


def test_the_preflight_refuses_an_invalid_queue(setup, proxy):
    def invalid(answer):
        for q in answer.get("jobQueues", []):
            q["status"], q["statusReason"] = "INVALID", "compute environment deleted"
        return answer

    proxy.add(path="/v1/describejobqueues", rewrite=invalid)
    code, out, err = inprocess(["run", "exp1", "--no-credentials"])
    assert code == 4 and "INVALID: compute environment deleted" in err, err
    assert proxy.count("submitjob") == 0


def test_a_sweep_goes_through_the_same_preflight(setup, proxy, aws, project):
    aws.client("s3").create_bucket(Bucket="sweep-bucket")
    ds.project_for(project, setup, S3_BUCKET="sweep-bucket")
    code, out, err = inprocess(["run", "sw", "--grid", "word=a,b", "--no-credentials", "--vcpus", "128"])
    assert code == 4 and "preflight: queue demo-queue cannot place 128 vCPU" in err, err
    assert proxy.count("submitjob") == 0 and not [r for r in proxy.requests if r.method == "PUT"]  # nothing uploaded


# ---- pipelines: the same preflight and the same doctor during --wait ---------------------------------

PIPELINE = """name: pipe
steps:
  a: {}
  b:
    depends_on: [a]
    vcpus: %s
"""


@pytest.fixture
def pipe(setup, aws, project):
    aws.client("s3").create_bucket(Bucket="pipe-bucket")
    ds.project_for(project, setup, RUNNABLE_WARN_S="60", S3_BUCKET="pipe-bucket")
    return project


def test_a_pipeline_goes_through_the_preflight_per_step_and_caches_it(pipe, proxy):
    pipe.write("pipeline.yaml", PIPELINE % 128)
    code, out, err = inprocess(["pipeline", "run", "pipeline.yaml", "--no-credentials"])
    assert code == 4 and "preflight: queue demo-queue cannot place 128 vCPU" in err, err
    assert proxy.count("submitjob") == 0 and not [r for r in proxy.requests if r.method == "PUT"]
    pipe.write("pipeline.yaml", PIPELINE % 1)
    code, out, err = inprocess(["pipeline", "run", "pipeline.yaml", "--no-credentials"])
    assert code == 0, err
    asked = proxy.count("describecomputeenvironments")
    code, out, err = inprocess(["pipeline", "run", "pipeline.yaml", "--no-credentials"])
    assert code == 0 and proxy.count("describecomputeenvironments") == asked  # both shapes cached
    code, out, err = inprocess(["pipeline", "run", "pipeline.yaml", "--no-credentials", "--cancel-unschedulable"])
    assert code == 2 and "--cancel-unschedulable needs --wait" in err


def test_a_pipelines_wait_runs_the_doctor_on_a_stuck_step_and_ends_at_a_cause_that_never_resolves(pipe, proxy):
    pipe.write("pipeline.yaml", PIPELINE % 1)
    proxy.add(path="/v1/describejobs", rewrite=ds.runnable(MISCONFIGURED))
    t = FakeClock()
    code, out, err = inprocess(["pipeline", "run", "pipeline.yaml", "--no-credentials", "--wait",
                                "--cancel-unschedulable"], sleep=t.sleep, clock=t.clock)
    assert code == 4, err
    assert "has been RUNNABLE for 6" in err and "can never run: AWS says: MISCONFIGURATION" in err
    assert t.now >= 60 and t.now - t.sleeps[-1] < 60
    assert len(proxy.bodies("terminatejob")) == 1
