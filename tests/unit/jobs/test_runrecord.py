"""The run record's writer around SubmitJob: run.json before, submitted.json after, each once."""

import json
from types import SimpleNamespace

import pytest

from batchdeploy import runs
from batchdeploy.jobs import request as req
from batchdeploy.jobs.runrecord import RunRecorder
from tests.unit.test_runs import JD, NOW, S3


class Sts:
    def get_caller_identity(self):
        return {"Arn": "arn:aws:iam::123456789012:user/me", "Account": "123456789012"}


def recorder(tmp_path, bucket="bkt"):
    s3 = S3()
    values = {"S3_BUCKET": bucket, "PROJECT_NAME": "p"}
    written = {}
    ctx = SimpleNamespace(
        cfg=SimpleNamespace(get=lambda k, d=None: values.get(k) or d, project_dir=tmp_path),
        aws=SimpleNamespace(client=lambda name: {"s3": s3, "sts": Sts()}[name]),
        state=SimpleNamespace(read=lambda name: {}, write=lambda name, data: written.update({name: data})),
    )
    spec = req.RunSpec(name="exp", queue="q", job_definition=JD, parameters={"x": "1", "db_password": "hunter2-x"},
                       client_token="tok")
    return RecorderParts(RunRecorder(ctx, spec, None, now=lambda: NOW), s3, written)


class RecorderParts(SimpleNamespace):
    def __init__(self, rec, s3, written):
        super().__init__(rec=rec, s3=s3, written=written)

    def objects(self) -> dict:
        return {k.rsplit("/", 1)[1]: json.loads(v) for (_, k), v in self.s3.objects.items()}


class Out:
    def __init__(self):
        self.lines = []

    def note(self, text):
        self.lines.append(text)

    warn = note


def test_a_submitted_run_has_both_objects(tmp_path):
    parts = recorder(tmp_path)
    answer = parts.rec.around(Out(), lambda: {"jobId": "j-1", "jobArn": "arn:j-1"})
    assert answer["jobId"] == "j-1"
    objs = parts.objects()
    assert set(objs) == {"run.json", "submitted.json"}
    assert objs["run.json"]["who"]["arn"].endswith("user/me") and objs["run.json"]["state"] == "submitting"
    assert objs["run.json"]["parameters"] == {"x": "1", "db_password": "****"}
    assert objs["submitted.json"]["job_ids"] == ["j-1"] and objs["submitted.json"]["error"] is None
    assert parts.written[runs.LAST_RUN]["run_id"] == parts.rec.run_id


def test_a_failed_submit_is_recorded_and_raised(tmp_path):
    parts = recorder(tmp_path)

    def refuse():
        raise RuntimeError("queue is DISABLED")

    with pytest.raises(RuntimeError):
        parts.rec.around(Out(), refuse)
    assert parts.objects()["submitted.json"]["error"] == "RuntimeError: queue is DISABLED"


def test_an_interrupt_leaves_the_run_submitting(tmp_path):
    parts = recorder(tmp_path)

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        parts.rec.around(Out(), interrupted)
    assert set(parts.objects()) == {"run.json"}
    run = runs.read_run(parts.s3, "bkt", "runs", parts.rec.run_id)
    assert run["state"] == "submitting" and run["client_token"] == "tok"  # how a reader finds the job


def test_without_a_bucket_there_is_no_record_and_a_note(tmp_path):
    parts = recorder(tmp_path, bucket=None)
    out = Out()
    assert parts.rec.around(out, lambda: {"jobId": "j"}) == {"jobId": "j"}
    assert parts.s3.objects == {} and out.lines == ["no S3_BUCKET: no run record written"]
