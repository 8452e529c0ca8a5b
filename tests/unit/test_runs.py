"""The run record's pure parts (batchdeploy.runs) and its reader against an in-memory S3 stand-in."""

import datetime as dt
import io
import json
import subprocess

import pytest
from botocore.exceptions import ClientError

from batchdeploy import bundle as bundles
from batchdeploy import runs

NOW = dt.datetime(2026, 11, 30, 16, 12, 5, tzinfo=dt.timezone.utc)
JD = {
    "jobDefinitionName": "q-exp", "revision": 3, "jobDefinitionArn": "arn:aws:batch:us-east-1:1:job-definition/q-exp:3",
    "status": "ACTIVE", "type": "container",
    "containerProperties": {"image": "r/q:c-1", "command": ["python3", "run.py", "Ref::x"]},
}


class S3:
    """Objects in a dict; get_object, put_object and list_objects_v2 pages, as botocore shapes them."""

    def __init__(self):
        self.objects = {}

    def put_object(self, Bucket, Key, Body, ContentType=None):
        self.objects[(Bucket, Key)] = Body

    def get_object(self, Bucket, Key):
        if (Bucket, Key) not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "no"}}, "GetObject")
        return {"Body": io.BytesIO(self.objects[(Bucket, Key)])}

    def get_paginator(self, name):
        assert name == "list_objects_v2"
        return self

    def paginate(self, Bucket, Prefix, Delimiter=None):
        keys = sorted(k for b, k in self.objects if b == Bucket and k.startswith(Prefix))
        if not Delimiter:
            return [{"Contents": [{"Key": k} for k in keys]}]
        prefixes = sorted({Prefix + k[len(Prefix):].split("/", 1)[0] + "/" for k in keys if "/" in k[len(Prefix):]})
        return [{"CommonPrefixes": [{"Prefix": p} for p in prefixes]}]


def test_run_ids_sort_by_time_and_differ_within_a_second():
    a = runs.new_run_id(NOW, "00aa11")
    assert a == "20261130T161205Z-00aa11" and runs.RUN_ID.fullmatch(a)
    later = runs.new_run_id(NOW + dt.timedelta(seconds=1), "000000")
    assert sorted([later, a]) == [a, later]
    assert runs.new_run_id(NOW) != runs.new_run_id(NOW)
    local = NOW.astimezone(dt.timezone(dt.timedelta(hours=-8)))
    assert runs.new_run_id(local, "x").startswith("20261130T161205Z")


def test_keys_and_records_url():
    assert runs.run_key("runs", "R", "run.json") == "runs/R/run.json"
    assert runs.run_key("/a/b/", "R") == "a/b/R/"
    assert runs.run_key("", "R", "submitted.json") == "R/submitted.json"
    assert runs.records_url("bkt", "runs", "R") == "s3://bkt/runs/R/"


def test_the_definition_hash_ignores_name_and_revision_only():
    other_rev = {**JD, "revision": 4, "jobDefinitionArn": "arn:...:q-exp:4", "jobDefinitionName": "renamed"}
    assert runs.definition_sha256(JD) == runs.definition_sha256(other_rev)
    changed = {**JD, "containerProperties": {**JD["containerProperties"], "image": "r/q:c-2"}}
    assert runs.definition_sha256(JD) != runs.definition_sha256(changed)


def test_git_state_commit_and_dirt(tmp_path):
    assert runs.git_state(tmp_path) is None
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "a.py").write_text("1")
    subprocess.run([*git, "add", "a.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "a"], check=True)
    clean = runs.git_state(tmp_path)
    assert len(clean["commit"]) == 40 and clean["dirty"] is False
    (tmp_path / "a.py").write_text("2")
    assert runs.git_state(tmp_path) == {**clean, "dirty": True}


def build(**extra):
    return runs.build_run(
        run_id="20261130T161205Z-00aa11", created_at=runs.iso(NOW), who={"arn": "arn:aws:iam::1:user/me"},
        git={"commit": "c" * 40, "dirty": False}, name="exp", queue="q", job_definition=JD,
        image={"reference": "r/q:c-1", "tag": "c-1", "digest": "sha256:d"}, parameters={"x": "1"},
        extra_args=["--fast"], array_size=None, client_token="tok", records="s3://bkt/runs/20261130T161205Z-00aa11/",
        **extra,
    )


def test_run_json_fields():
    doc = build(manifest={"url": "s3://m", "sha256": "m"}, bundle={"sha256": "b"})
    assert doc["state"] == "submitting" and doc["format"] == runs.FORMAT
    assert doc["job_definition"] == {"name": "q-exp", "revision": 3, "arn": JD["jobDefinitionArn"],
                                     "sha256": runs.definition_sha256(JD)}
    assert doc["created_at"] == "2026-11-30T16:12:05Z" and doc["who"]["arn"].endswith("user/me")
    assert doc["manifest"]["sha256"] == "m" and doc["bundle"]["sha256"] == "b"
    assert "environment" not in json.dumps(doc)


def test_read_run_follows_the_objects_each_written_once():
    s3 = S3()
    rid = "20261130T161205Z-00aa11"
    assert runs.read_run(s3, "bkt", "runs", rid) is None
    runs.put(s3, "bkt", runs.run_key("runs", rid, runs.RUN_FILE), build())
    got = runs.read_run(s3, "bkt", "runs", rid)
    assert got["state"] == "submitting" and got["tasks"] == {}  # killed between the two writes: still readable
    runs.put(s3, "bkt", runs.run_key("runs", rid, runs.SUBMITTED_FILE),
             runs.build_submitted(run_id=rid, at="t", job_id="j-1", job_arn="arn:j-1"))
    for attempt, code in ((1, 1), (2, 0)):
        key = runs.run_key("runs", rid, f"tasks/0/attempt-{attempt}.json")
        s3.put_object(Bucket="bkt", Key=key, Body=json.dumps({"attempt": attempt, "exit_code": code}).encode())
    got = runs.read_run(s3, "bkt", "runs", rid)
    assert got["state"] == "submitted" and got["job_ids"] == ["j-1"]
    assert [r["attempt"] for r in got["tasks"][0]] == [1, 2] and runs.last_exit_code(got["tasks"][0]) == 0
    # code/ and manifests/ live beside the runs and are not listed as runs
    s3.put_object(Bucket="bkt", Key="runs/code/abc.tar.gz", Body=b"")
    assert runs.list_run_ids(s3, "bkt", "runs") == [rid]


def test_a_failed_submit_is_its_own_state():
    s3 = S3()
    rid = "20261130T161205Z-00aa12"
    runs.put(s3, "bkt", runs.run_key("runs", rid, runs.RUN_FILE), build())
    runs.put(s3, "bkt", runs.run_key("runs", rid, runs.SUBMITTED_FILE),
             runs.build_submitted(run_id=rid, at="t", job_id=None, error="ClientException: no queue"))
    got = runs.read_run(s3, "bkt", "runs", rid, tasks=False)
    assert got["state"] == "submit-failed" and got["job_ids"] == [] and "tasks" not in got


@pytest.mark.parametrize("text,size", [("64MiB", 64 << 20), ("500 KiB", 500 << 10), ("1.5GiB", 3 << 29), ("123", 123)])
def test_size_limits_are_read_in_binary_units(text, size):
    assert bundles.parse_size(text) == size


def test_a_size_that_is_not_one_is_refused():
    with pytest.raises(Exception, match="not a number of bytes"):
        bundles.parse_size("64MB")
