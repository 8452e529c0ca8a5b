"""Nothing lost, nothing left behind (issue #13): faults that botocore's retries cannot hide, through the
fault proxy in front of the real moto server, and damaged state files, each through the real CLI.

Every case asserts the end state, not only the exit code: objects and files byte-exact (sha256), no open
multipart upload, no stray temporary file, one job, one revision. The SIGKILL rounds are in
test_faults_kill.py."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from batchdeploy.state import SYNC_UPLOADS
from batchdeploy.sync.hashcache import HashCache
from tests import run_support
from tests.conftest import ROOT
from tests.run_support import PARAMS
from tests.s3_support import bucket_fixtures

BUCKET = "fault-bucket"
MiB = 1024 * 1024
batch_env = run_support.batch_env  # fixture
run_project = run_support.run_project  # fixture


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


s3, proj = bucket_fixtures(BUCKET)  # fixtures


def open_uploads(s3) -> list[str]:
    return sorted(u["Key"] for u in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []))


def remote_shas(s3, prefix: str) -> dict[str, str]:
    out = {}
    for obj in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix + "/").get("Contents", []):
        out[obj["Key"][len(prefix) + 1 :]] = sha(s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read())
    return out


def local_shas(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): sha(p.read_bytes()) for p in sorted(root.rglob("*")) if p.is_file()}


def error_lines(r) -> list[str]:
    """stderr's lines, after checking no traceback or translation failure leaked into it."""
    assert "Traceback" not in r.stderr and "NoneType" not in r.stderr, r.stderr
    return r.stderr.strip().splitlines()


# ---- 1. a connection failure after botocore's retries is one line ---------------------------------


@pytest.mark.parametrize("verb", ["sync-to-s3", "sync-from-s3", "results"])
def test_a_listing_whose_answers_are_all_lost_is_one_line(proj, s3, proxy, verb):
    (proj.path / "experiments").mkdir()
    proxy.add(method="GET", query={"list-type": "2"}, drop=True)
    r = proj.run(verb, "-q", env={"AWS_ENDPOINT_URL": proxy.url, "AWS_MAX_ATTEMPTS": "2"})
    assert r.returncode == 1
    lines = error_lines(r)
    assert len(lines) == 1, r.stderr
    prefix = "results" if verb == "results" else "experiments"  # --sync-from-s3 brings the experiments back
    assert lines[0].startswith(f"batchdeploy: error: cannot list s3://{BUCKET}/{prefix}/: ConnectionClosedError"), lines
    assert "check the network and the endpoint" in lines[0]


def test_downloads_cut_every_time_fail_file_by_file_with_one_line_each(proj, s3, proxy):
    big, small = os.urandom(9 * MiB), b"small\n"
    s3.put_object(Bucket=BUCKET, Key="results/big.bin", Body=big)
    s3.put_object(Bucket=BUCKET, Key="results/small.txt", Body=small)
    s3.put_object(Bucket=BUCKET, Key="results/fine.txt", Body=b"fine\n")
    proxy.add(method="GET", key="big.bin", cut=1000)
    proxy.add(method="GET", key="small.txt", cut=2)
    r = proj.run("results", "-q", env={"AWS_ENDPOINT_URL": proxy.url, "AWS_MAX_ATTEMPTS": "2"})
    assert r.returncode == 1
    lines = error_lines(r)
    assert len(lines) == 3, r.stderr  # one warning per file, one error
    assert any(line.startswith("warning: cannot download big.bin") for line in lines), lines
    assert any(line.startswith("warning: cannot download small.txt") for line in lines), lines
    assert lines[-1].startswith("batchdeploy: error: 2 of 3 transfers failed: ")
    res = proj.path / "results"
    assert sorted(p.name for p in res.iterdir()) == ["fine.txt"]  # nothing partial, no temporary file


def test_uploads_whose_answers_are_all_lost_fail_file_by_file_with_one_line_each(proj, s3, proxy):
    src = proj.path / "experiments"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(9 * MiB))
    (src / "small.txt").write_text("small\n")
    (src / "fine.txt").write_text("fine\n")
    proxy.add(method="PUT", key="big.bin", query={"partNumber": "2"}, drop=True)
    proxy.add(method="PUT", key="small.txt", drop=True)
    r = proj.run("sync-to-s3", "-q", env={"AWS_ENDPOINT_URL": proxy.url, "AWS_MAX_ATTEMPTS": "2"})
    assert r.returncode == 1
    lines = error_lines(r)
    assert len(lines) == 3, r.stderr
    assert any(line.startswith("warning: cannot upload big.bin: ConnectionClosedError") for line in lines), lines
    assert any(line.startswith("warning: cannot upload small.txt: ConnectionClosedError") for line in lines), lines
    assert lines[-1].startswith("batchdeploy: error: 2 of 3 transfers failed: ")
    assert open_uploads(s3) == []
    assert sorted(remote_shas(s3, "experiments")) in (["fine.txt"], ["fine.txt", "small.txt"])


# ---- 2. no open multipart upload is left behind ----------------------------------------------------


def test_a_lost_create_multipart_upload_answer_leaves_no_open_upload(proj, s3, proxy):
    """S3 made the upload, the answer was lost, s3transfer's client asked again: the first id is aborted."""
    src = proj.path / "experiments"
    src.mkdir()
    data = os.urandom(17 * MiB)
    (src / "big.bin").write_bytes(data)
    lost = proxy.add(method="POST", query={"uploads": ""}, nth=1, drop=True)
    r = proj.run("sync-to-s3", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 0, r.stderr
    assert lost.hits == 1 and proxy.count(f"/{BUCKET}/experiments/big.bin") >= 4  # 2 creates, 2+ parts, 1 complete
    assert "aborted 1 multipart upload(s) left open by a lost CreateMultipartUpload answer" in r.stderr
    assert open_uploads(s3) == []
    assert remote_shas(s3, "experiments") == {"big.bin": sha(data)}


def journal_path(proj, local: str = "experiments", remote: str = f"s3://{BUCKET}/experiments/") -> Path:
    local_root = os.path.realpath(proj.path / local)
    return Path(HashCache.path_for(proj.path / ".batchdeploy", local_root, remote, SYNC_UPLOADS))


def test_a_damaged_journal_stands_for_every_owned_key_and_nothing_else(proj, s3):
    """A killed run's journal that cannot be read: open uploads of every key below the prefix that is
    not excluded are aborted; another prefix's and an excluded key's are left alone."""
    src = proj.path / "experiments"
    src.mkdir()
    (src / "a.txt").write_text("a\n")
    for key in ("experiments/killed.bin", "elsewhere/theirs.bin", "experiments/.git/pack.bin"):
        s3.create_multipart_upload(Bucket=BUCKET, Key=key)
    path = journal_path(proj)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'{"keys": [1]')
    r = proj.run("sync-to-s3")
    assert r.returncode == 0, r.stderr
    assert f"aborted 1 multipart upload(s) an earlier run left open in s3://{BUCKET}/experiments/" in r.stderr
    assert open_uploads(s3) == ["elsewhere/theirs.bin", "experiments/.git/pack.bin"]
    assert not path.exists()


def test_without_a_journal_a_no_change_sync_asks_nothing_more_and_aborts_nothing(proj, s3, moto):
    src = proj.path / "experiments"
    src.mkdir()
    (src / "a.txt").write_text("a\n")
    assert proj.run("sync-to-s3").returncode == 0
    s3.create_multipart_upload(Bucket=BUCKET, Key="experiments/another-tool.bin")
    before = len(moto.requests())
    r = proj.run("sync-to-s3")
    assert r.returncode == 0, r.stderr
    assert [m for m, _, _ in moto.requests()[before:]] == ["GET"]  # the listing alone
    assert open_uploads(s3) == ["experiments/another-tool.bin"]


# ---- 3. a download writes only to temporary names the clean-up knows --------------------------------


def test_a_large_download_writes_only_to_our_temporary_name(proj, s3, proxy):
    """While a ranged GET is held, the folder holds `.big.bin.XXXXXXXX.bdpart` alone (s3transfer's own
    `.RANDOM` name would survive a SIGKILL); killed there, the next run removes it first."""
    data = os.urandom(17 * MiB)
    s3.put_object(Bucket=BUCKET, Key="results/big.bin", Body=data)
    res = proj.path / "results"
    res.mkdir()
    proxy.add(method="GET", key="big.bin", nth=2, hold=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AWS_ENDPOINT_URL": proxy.url}
    proc = subprocess.Popen([sys.executable, "-m", "batchdeploy", "results"], cwd=proj.path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert proxy.held.wait(60), "the download never reached its second ranged GET"
        names = [p.name for p in res.iterdir()]
        proc.kill()
        proc.wait(60)
    finally:
        proxy.release.set()
        if proc.poll() is None:
            proc.kill()
    assert len(names) == 1 and names[0].startswith(".big.bin.") and names[0].endswith(".bdpart"), names
    proxy.clear()
    r = proj.run("results", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 0, r.stderr
    assert local_shas(res) == {"big.bin": sha(data)}


def test_s3transfer_temporary_files_are_never_listed_uploaded_and_removed_first(proj, s3):
    """Names a killed download of an earlier version left (`.NAME.XXXXXXXX.bdpart.RANDOM`)."""
    res = proj.path / "results"
    (res / "sub").mkdir(parents=True)
    stale = [res / ".big.bin.0123abcd.bdpart.A1b2C3d4", res / "sub" / ".x.csv.89abcdef.bdpart.DEADbeef"]
    for p in stale:
        p.write_bytes(b"half a download")
    s3.put_object(Bucket=BUCKET, Key="results/out.csv", Body=b"whole\n")
    r = proj.run("results", "--delete", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "bdpart" not in r.stdout + r.stderr
    assert r.stdout.splitlines()[-1].startswith("would download 1 (6 B), would delete 0")
    r = proj.run("sync-to-s3", "--local", "results", "--remote", f"s3://{BUCKET}/up", "-q")
    assert r.returncode == 0 and "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="up/")
    r = proj.run("results", "--delete", "-q")
    assert r.returncode == 0, r.stderr
    assert local_shas(res) == {"out.csv": sha(b"whole\n")}


# ---- 6. damaged state: one line, or rebuilt when it is only a cache ----------------------------------


def test_a_hash_cache_of_the_wrong_shape_is_rebuilt(proj, s3):
    src = proj.path / "experiments"
    src.mkdir()
    (src / "a.txt").write_text("a\n")
    assert proj.run("sync-to-s3", "-q").returncode == 0
    (cache,) = (proj.path / ".batchdeploy").glob("sync-*.json")
    cache.write_text(json.dumps({"version": 1, "local_root": os.path.realpath(src), "etags": [1], "local": {"a.txt": 3}}))
    r = proj.run("sync-to-s3")
    assert r.returncode == 0 and error_lines(r) == [], r.stderr
    assert r.stdout.startswith("uploaded 0 ")
    assert isinstance(json.loads(cache.read_text())["etags"], dict)  # written whole again


def damaged_jobs_jsonl(project, good: dict | None = None) -> None:
    folder = project.path / ".batchdeploy"
    folder.mkdir(exist_ok=True)
    lines = [b"\xff\xfe not utf-8\n", b'"a JSON string"\n', b"[1, 2]\n", b'{"torn": \n']
    if good:
        lines.append(json.dumps(good).encode() + b"\n")
    (folder / "jobs.jsonl").write_bytes(b"".join(lines))


def test_status_with_a_damaged_jobs_jsonl_warns_once_and_shows_the_rest(run_project, aws, batch_env):
    job = aws.client("batch").submit_job(jobName="exp1", jobQueue=batch_env["queue"],
                                         jobDefinition=batch_env["jobdef_arn"])
    damaged_jobs_jsonl(run_project, {"job_id": job["jobId"], "name": "exp1", "queue": batch_env["queue"],
                                     "submitted_at": "2026-01-01T00:00:00+00:00"})
    r = run_project.deploy("--status")
    assert r.returncode == 0, r.stderr
    lines = error_lines(r)
    assert lines == [f"warning: {run_project.path / '.batchdeploy' / 'jobs.jsonl'}: 4 damaged line(s) skipped "
                     "(torn by a crash or edited by hand)"], r.stderr
    assert job["jobId"] in r.stdout


@pytest.mark.parametrize(
    "content, problem",
    [
        (b'{"default": "demo-experiment", "definitions": ["demo-experiment"]}', '"definitions" is an array, not an object'),
        (b'{"default": "x", "definitions": {"x": "arn:aws:batch:x"}}', "the entry of 'x' is a string, not an object"),
        (b'{"default": 3, "definitions": {}}', '"default" is a number, not a name'),
        (b'["a list"]', "it holds list, not an object"),
        (b"\xff\xfe{}", "UnicodeDecodeError"),
    ],
)
def test_run_with_a_damaged_job_definitions_json_is_one_line(run_project, content, problem):
    path = run_project.path / ".batchdeploy" / "job-definitions.json"
    path.write_bytes(content)
    r = run_project.deploy("-r", "exp1", *PARAMS)
    assert r.returncode == 2, r.stderr
    lines = error_lines(r)
    assert len(lines) == 1 and lines[0].startswith(f"batchdeploy: error: state file {path} "), r.stderr
    assert problem in lines[0]


def test_update_jobs_with_a_damaged_job_definitions_json_is_one_line(moto, project):
    project.write(".aws_env", "PROJECT_NAME=demo\nVERSION=1\nAWS_REGISTRY=registry.example.com\n")
    project.write("job-definition.json", (ROOT / "job-definition.json.example").read_text())
    project.write(".batchdeploy/job-definitions.json", '{"definitions": [1]}')
    r = project.run("update-jobs")
    assert r.returncode == 2, r.stderr
    lines = error_lines(r)
    assert len(lines) == 1 and '"definitions" is an array, not an object' in lines[0], r.stderr
