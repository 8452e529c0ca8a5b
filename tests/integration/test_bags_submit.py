"""`batchdeploy submit FILE...` against the in-process moto server: batchdeploy's configuration
(AWS_JOB_QUEUE, the definition -u recorded, S3_BUCKET), the tasks' files written, exit codes."""

from __future__ import annotations

import pytest

from batchdeploy.bags.logs import TASK_STDERR_SEPARATOR
from tests.bags_support import logs_written
from tests.run_support import FakeClock, inprocess, make_batch, setup_project

BUCKET = "bag-bucket"


@pytest.fixture
def bag_project(aws, project, monkeypatch):
    env = make_batch(aws)
    aws.client("s3").create_bucket(Bucket=BUCKET)
    setup_project(project, env, S3_BUCKET=BUCKET)
    project.write("data.csv", "1,2\n")
    project.write_json("jobs.json", {"submitjob": [
        {"JOBNAME": "one", "executable": "run.sh", "arguments": 5,
         "environment": [{"name": "TRANSFER_INPUT_FILES", "value": "data.csv"}]},
        {"jobName": "two", "executable": "run.sh"}]})
    monkeypatch.chdir(project.path)
    return project


def test_submit_runs_the_bag_in_batchdeploys_configuration(aws, bag_project, proxy, monkeypatch):
    with logs_written(aws, proxy, monkeypatch, lambda name: [f"hello {name}"]):
        clock = FakeClock()
        code, out, err = inprocess(["submit", "jobs.json", "--logs-dir", "logs", "-m", "all"],
                                   sleep=clock.sleep, clock=clock.clock)
        assert code == 0, err
        assert "2 of 2 tasks succeeded" in out
        assert "1 uploaded, 0 unchanged" in err
        assert "bag: 2 tasks: 2 SUCCEEDED; 2/2 done" in err  # the progress, a plain line off a terminal
        merged = (bag_project.path / "logs" / "all.out").read_text().splitlines()
        assert merged[0] == "hello one" and merged[1].startswith('[cluster-task id=1, name="one"')
        assert merged[-1].startswith("[cluster-summary tasks=2, succeeded=2, failed=0")
        keys = [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]]
        assert "bags/inputs/data.csv" in keys
        code, out, err = inprocess(["submit", "jobs.json", "--logs-dir", "logs"], sleep=clock.sleep, clock=clock.clock)
        assert code == 0 and "0 uploaded, 1 unchanged" in err
        assert (bag_project.path / "logs" / "two.out").read_text().startswith("hello two\n")
        assert (bag_project.path / "logs" / "two.err").read_text() == ""
        assert TASK_STDERR_SEPARATOR not in out


def test_a_bad_submit_file_is_refused_with_exit_2_and_nothing_sent(aws, moto, bag_project):
    from tests.conftest import RequestCounter

    bag_project.write_json("bad.json", {"SubmitJob": [{"jobName": "a", "executable": "x"},
                                                      {"jobName": "a", "executable": "y"}]})
    counter = RequestCounter(moto)
    code, out, err = inprocess(["submit", "bad.json"])
    assert code == 2 and "jobName a is also" in err and len(err.strip().splitlines()) == 1
    assert counter.since() == []


def test_deploy_sh_knows_submit(bag_project):
    result = bag_project.deploy("--submit", "--help")
    assert result.returncode == 0 and "--merge-logs" in result.stdout


def test_a_bag_goes_through_the_preflight_and_its_watch_through_the_doctor(aws, bag_project, proxy, monkeypatch):
    """Issue #24 for bags: the preflight before anything is uploaded or submitted, and the doctor when a
    task stays RUNNABLE past RUNNABLE_WARN_S (the injected clock), ending at a cause that never resolves."""
    from tests import doctor_support as ds

    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)

    def disabled(answer):
        for ce in answer.get("computeEnvironments", []):
            ce["state"] = "DISABLED"
        return answer

    rule = proxy.add(path="/v1/describecomputeenvironments", rewrite=disabled)
    code, out, err = inprocess(["submit", "jobs.json"])
    assert code == 4 and "preflight: queue" in err and "DISABLED" in err, err
    assert proxy.count("submitjob") == 0 and not [r for r in proxy.requests if r.method == "PUT"]
    proxy.rules.remove(rule)

    with open(bag_project.path / ".aws_env", "a") as f:
        f.write("RUNNABLE_WARN_S=60\n")
    proxy.add(path="/v1/describejobs", rewrite=ds.runnable("MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - too big"))
    clock = FakeClock()
    code, out, err = inprocess(["submit", "jobs.json", "--cancel-unschedulable"], sleep=clock.sleep, clock=clock.clock)
    assert code == 4 and "can never run: AWS says: MISCONFIGURATION" in err, err
    assert clock.now >= 60 and len(proxy.bodies("terminatejob")) == 1
