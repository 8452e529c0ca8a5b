"""sync-to-s3 / sync-from-s3 through the real command line against a moto server over HTTP.

Faults are real too: a proxy in front of moto (tests/fault_proxy.py) refuses a bucket, cuts a
download mid-body, refuses a multipart part, damages an upload in transit. An unreadable file is
made unreadable for real by running the CLI without CAP_DAC_OVERRIDE (the tests run as root)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import RequestCounter, aws_cli
from tests.s3_support import bucket_fixtures

BUCKET = "sync-bucket"
UNICODE_NAMES = ["café.txt", "naïve/日本語 ファイル.txt", "Ωmega/e\u0301-decomposed.txt", "with space/a b.yaml"]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def local_tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): sha(p) for p in sorted(root.rglob("*")) if p.is_file()}


def remote_tree(aws, bucket: str, prefix: str) -> dict[str, str]:
    s3 = aws.client("s3")
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            out[obj["Key"][len(prefix) + 1 :]] = hashlib.sha256(body).hexdigest()
    return out


def puts(reqs):
    return [r for r in reqs if r[0] == "PUT"]


def lists(reqs):
    return [r for r in reqs if r[0] == "GET" and "list-type=2" in r[1]]


s3, proj = bucket_fixtures(BUCKET)  # fixtures


def make_tree(root: Path, big: bool = False) -> None:
    (root / "nested/deeper/deepest").mkdir(parents=True, exist_ok=True)
    (root / "a.yaml").write_text("experiment: a\n")
    (root / "nested/b.csv").write_text("x,y\n1,2\n")
    (root / "nested/deeper/deepest/c.txt").write_text("deep\n")
    (root / "empty.txt").write_bytes(b"")
    (root / "emptydir").mkdir(exist_ok=True)
    for i, name in enumerate(UNICODE_NAMES):
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"unicode {i}\n", encoding="utf-8")
    # Default exclusions: never uploaded.
    (root / ".git").mkdir(exist_ok=True)
    (root / ".git/config").write_text("[core]\n")
    (root / "__pycache__").mkdir(exist_ok=True)
    (root / "__pycache__/m.cpython-311.pyc").write_bytes(b"\0pyc")
    (root / ".a.yaml.swp").write_bytes(b"swap")
    (root / "notes.txt~").write_text("backup\n")
    if big:
        # 20 MB of non-repeating bytes: three 8 MiB parts through the transfer manager.
        block = hashlib.sha256(b"seed").digest() * 2048  # 64 KiB
        with open(root / "big.bin", "wb") as fh:
            for i in range(320):
                fh.write(hashlib.sha256(str(i).encode()).digest() + block[32:])


def test_round_trip_exact(proj, aws, s3):
    src = proj.path / "experiments"
    make_tree(src, big=True)
    r = proj.deploy("--sync-to-s3")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("uploaded 9 (") and ", deleted 0, unchanged 0 in " in r.stdout

    expected = {k: v for k, v in local_tree(src).items() if not k.startswith((".git/", "__pycache__/"))}
    expected.pop(".a.yaml.swp")
    expected.pop("notes.txt~")
    assert remote_tree(aws, BUCKET, "experiments") == expected
    # Every object carries its sha256, the multipart one too; the names are the bytes we gave.
    head = s3.head_object(Bucket=BUCKET, Key="experiments/big.bin")
    assert head["Metadata"]["sha256"] == expected["big.bin"]
    assert head["ETag"].strip('"').endswith("-3")
    assert s3.head_object(Bucket=BUCKET, Key="experiments/Ωmega/e\u0301-decomposed.txt")["ContentLength"] > 0
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []

    # Down again into a fresh folder: identical, byte for byte.
    r = proj.run("sync-from-s3", "--remote", f"s3://{BUCKET}/experiments", "--local", "back")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("downloaded 9 (")
    assert local_tree(proj.path / "back") == expected
    assert not list((proj.path / "back").rglob("*.bdpart"))


def test_same_size_edit_with_an_older_mtime_is_uploaded(proj, aws, moto):
    src = proj.path / "experiments"
    src.mkdir()
    f = src / "params.yaml"
    f.write_text("alpha: 1\n")
    old = 1_600_000_000
    os.utime(f, (old, old))
    assert proj.run("sync-to-s3", "-q").returncode == 0

    st = f.stat()
    f.write_text("alpha: 2\n")  # same size
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns - 10**9))  # and an older mtime
    counter = RequestCounter(moto)
    r = proj.run("sync-to-s3")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("uploaded 1 ("), r.stdout
    assert len(puts(counter.since())) == 1
    assert remote_tree(aws, BUCKET, "experiments") == {"params.yaml": sha(f)}

    # Even an mtime put back to the very nanosecond does not hide an edit (ctime changes).
    st = f.stat()
    f.write_text("alpha: 3\n")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert proj.run("sync-to-s3", "-q").stdout.startswith("uploaded 1 (")
    assert remote_tree(aws, BUCKET, "experiments") == {"params.yaml": sha(f)}


def test_no_change_resync_makes_no_put_and_one_list(proj, moto):
    src = proj.path / "experiments"
    make_tree(src)
    assert proj.run("sync-to-s3", "-q").returncode == 0
    counter = RequestCounter(moto)
    r = proj.run("sync-to-s3")
    assert r.returncode == 0, r.stderr
    reqs = counter.since()
    assert puts(reqs) == [] and len(lists(reqs)) == 1
    assert [m for m, _, _ in reqs] == ["GET"], reqs  # nothing but the listing
    assert r.stdout.startswith("uploaded 0 (0 B), deleted 0, unchanged 8 in ")


def test_objects_from_another_tool_are_compared_by_md5_etag(proj, moto, s3):
    """aws s3 cp stores no sha256: an identical single-part object is recognised from its ETag
    (no HEAD, no PUT), a different one is replaced, and then carries our sha256."""
    src = proj.path / "experiments"
    src.mkdir()
    (src / "same.txt").write_text("same\n")
    (src / "diff.txt").write_text("local\n")
    s3.put_object(Bucket=BUCKET, Key="experiments/same.txt", Body=b"same\n")
    s3.put_object(Bucket=BUCKET, Key="experiments/diff.txt", Body=b"other\n")
    counter = RequestCounter(moto)
    r = proj.run("sync-to-s3")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("uploaded 1 (") and "unchanged 1 " in r.stdout
    assert [p for _, p, _ in puts(counter.since())] == [f"/{BUCKET}/experiments/diff.txt"]
    assert s3.head_object(Bucket=BUCKET, Key="experiments/diff.txt")["Metadata"]["sha256"] == sha(src / "diff.txt")


def test_delete_stays_inside_its_prefix(proj, aws, s3):
    src = proj.path / "experiments"
    src.mkdir()
    (src / "keep.txt").write_text("keep\n")
    for key in ("experiments/gone.txt", "experiments/sub/gone2.txt", "experiments-old/a.txt", "experimentsX",
                "other/experiments/b.txt", "experiments/.git/HEAD"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    r = proj.run("sync-to-s3", "--delete", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert f"would delete s3://{BUCKET}/experiments/gone.txt" in r.stdout
    assert "experiments-old" not in r.stdout and ".git" not in r.stdout
    assert len(s3.list_objects_v2(Bucket=BUCKET)["Contents"]) == 6  # the dry run changed nothing

    r = proj.run("sync-to-s3", "--delete")
    assert r.returncode == 0, r.stderr
    assert "uploaded 1 (5 B), deleted 2, unchanged 0" in r.stdout
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    # Outside the prefix untouched; excluded (.git) never deleted.
    assert keys == ["experiments-old/a.txt", "experiments/.git/HEAD", "experiments/keep.txt", "experimentsX",
                    "other/experiments/b.txt"]


def test_download_delete_removes_local_extras_but_not_excluded(proj, s3):
    s3.put_object(Bucket=BUCKET, Key="results/run1/out.csv", Body=b"1,2\n")
    res = proj.path / "results"
    (res / "old").mkdir(parents=True)
    (res / "old/stale.csv").write_text("stale\n")
    (res / "notes.txt~").write_text("mine\n")
    r = proj.run("results", "--delete")
    assert r.returncode == 0, r.stderr
    assert "downloaded 1 (4 B), deleted 1, unchanged 0" in r.stdout
    assert local_tree(res) == {"run1/out.csv": hashlib.sha256(b"1,2\n").hexdigest(),
                               "notes.txt~": hashlib.sha256(b"mine\n").hexdigest()}
    assert not (res / "old").exists()  # the folder the deletion emptied


def test_dry_run_changes_nothing(proj, moto, s3):
    src = proj.path / "experiments"
    make_tree(src)
    s3.put_object(Bucket=BUCKET, Key="experiments/obsolete.txt", Body=b"x")
    counter = RequestCounter(moto)
    r = proj.run("sync-to-s3", "--dry-run", "--delete")
    assert r.returncode == 0, r.stderr
    assert "would upload a.yaml" in r.stdout and "would upload naïve/日本語 ファイル.txt" in r.stdout
    assert f"would delete s3://{BUCKET}/experiments/obsolete.txt" in r.stdout
    assert "would upload 8 (" in r.stdout and "(dry run: nothing changed)" in r.stdout
    assert [m for m, _, _ in counter.since()] == ["GET"]
    assert not (proj.path / ".batchdeploy").exists()

    r = proj.run("sync-from-s3", "--dry-run", "--remote", f"s3://{BUCKET}/experiments", "--local", "nowhere",
                 "--output", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["copy"] == ["obsolete.txt"]
    assert not (proj.path / "nowhere").exists()


def test_interrupted_download_leaves_no_partial_file(proj, s3, proxy):
    s3.put_object(Bucket=BUCKET, Key="results/victim.bin", Body=os.urandom(200_000))
    s3.put_object(Bucket=BUCKET, Key="results/fine.txt", Body=b"fine\n")
    res = proj.path / "results"
    res.mkdir()
    (res / "victim.bin").write_bytes(b"previous version")
    (res / "extra.txt").write_text("would be deleted by a successful --delete\n")
    cut = proxy.add(method="GET", key="victim.bin", cut=100_000)  # half of it
    r = proj.run("results", "--delete", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 1, r.stderr
    assert cut.hits == 3  # tried three times, each cut mid-body
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("batchdeploy: error: 1 of 2 transfers failed: cannot download victim.bin")
    assert "nothing was deleted" in last and "Traceback" not in r.stderr
    assert (res / "victim.bin").read_bytes() == b"previous version"  # never half a new one
    assert (res / "fine.txt").read_text() == "fine\n"
    assert (res / "extra.txt").exists()  # the run failed: nothing deleted
    assert sorted(p.name for p in res.iterdir()) == ["extra.txt", "fine.txt", "victim.bin"]  # no temp files

    proxy.clear()
    r = proj.run("results", "--delete", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 0, r.stderr
    assert "downloaded 1 (200.0 kB), deleted 1, unchanged 1" in r.stdout  # converges
    assert sha(res / "victim.bin") == hashlib.sha256(
        s3.get_object(Bucket=BUCKET, Key="results/victim.bin")["Body"].read()).hexdigest()


def test_failed_multipart_upload_is_aborted_and_rerun_converges(proj, s3, proxy):
    src = proj.path / "experiments"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(17 * 1024 * 1024))
    (src / "small.txt").write_text("small\n")
    s3.put_object(Bucket=BUCKET, Key="experiments/orphan.txt", Body=b"x")
    proxy.add(method="PUT", query={"partNumber": "2"}, status=400, code="InvalidRequest")
    r = proj.run("sync-to-s3", "--delete", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 1, r.stderr
    assert "1 of 2 transfers failed: cannot upload big.bin" in r.stderr
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []  # aborted, not orphaned
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {"experiments/orphan.txt", "experiments/small.txt"}  # no partial object, nothing deleted

    proxy.clear()
    r = proj.run("sync-to-s3", "--delete", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 0, r.stderr
    assert "uploaded 1 (17.8 MB), deleted 1, unchanged 1" in r.stdout
    assert s3.head_object(Bucket=BUCKET, Key="experiments/big.bin")["Metadata"]["sha256"] == sha(src / "big.bin")


def test_upload_damaged_in_transit_is_caught_and_removed(proj, s3, proxy):
    src = proj.path / "experiments"
    src.mkdir()
    (src / "data.csv").write_text("a,b\n1,2\n")
    proxy.add(method="PUT", key="data.csv", edit_request=lambda body: bytes([body[0] ^ 0xFF]) + body[1:])
    r = proj.run("sync-to-s3", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 1
    assert "upload of data.csv arrived damaged twice" in r.stderr.strip().splitlines()[-1]
    # No object may keep a sha256 that is not its content.
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="experiments/")


def test_large_files_need_no_head_either_way(proj, moto, s3):
    """The multipart upload's ETag comes from CompleteMultipartUpload and the download's sha256 from
    the ranged GETs' own headers: no HEAD per large file."""
    src = proj.path / "experiments"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(17 * 1024 * 1024))
    counter = RequestCounter(moto)
    r = proj.run("sync-to-s3")
    assert r.returncode == 0, r.stderr
    reqs = counter.since()
    assert [m for m, _, _ in reqs if m == "HEAD"] == [] and len(puts(reqs)) == 3
    assert s3.head_object(Bucket=BUCKET, Key="experiments/big.bin")["Metadata"]["sha256"] == sha(src / "big.bin")

    counter = RequestCounter(moto)
    r = proj.run("sync-from-s3", "--remote", f"s3://{BUCKET}/experiments", "--local", "back")
    assert r.returncode == 0, r.stderr
    assert [m for m, _, _ in counter.since() if m == "HEAD"] == []
    assert sha(proj.path / "back" / "big.bin") == sha(src / "big.bin")

    # The download hashed sha256 only (no upload ETag): nothing changed either way, in both directions.
    counter = RequestCounter(moto)
    r = proj.run("sync-from-s3", "--remote", f"s3://{BUCKET}/experiments", "--local", "back")
    assert r.returncode == 0 and "unchanged 1 " in r.stdout, r.stdout + r.stderr
    r = proj.run("sync-to-s3", "--local", "back", "--remote", f"s3://{BUCKET}/experiments")
    assert r.returncode == 0 and "uploaded 0 " in r.stdout, r.stdout + r.stderr
    assert [m for m, _, _ in counter.since() if m != "GET"] == []  # two LISTs, no transfer, no HEAD
    assert len(counter.since()) == 2


def test_multipart_upload_damaged_in_transit_is_caught_and_removed(proj, s3, proxy):
    src = proj.path / "experiments"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(17 * 1024 * 1024))
    proxy.add(method="PUT", query={"partNumber": "2"}, edit_request=lambda body: bytes([body[0] ^ 0xFF]) + body[1:])
    r = proj.run("sync-to-s3", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 1, r.stderr
    assert "big.bin" in r.stderr.strip().splitlines()[-1], r.stderr
    # No object may keep a sha256 that is not its content, and no upload is left behind.
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="experiments/"), r.stderr
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_two_thousand_files_no_change_makes_zero_puts(proj, moto):
    src = proj.path / "experiments"
    for i in range(2000):
        d = src / f"d{i % 10}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:04d}.txt").write_text(f"file {i}\n" * (1 + i % 5))
    r = proj.run("sync-to-s3", "-q", "--jobs", "32")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("uploaded 2,000 (")
    counter = RequestCounter(moto)
    r = proj.run("sync-to-s3")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("uploaded 0 (0 B), deleted 0, unchanged 2,000 in ")
    reqs = counter.since()
    assert puts(reqs) == [] and len(lists(reqs)) == 2 and len(reqs) == 2  # one LIST per 1,000 keys
    # The files are old enough now to be cached: the next run reads only what changed.
    (cache,) = (proj.path / ".batchdeploy").glob("sync-*.json")
    assert len(json.loads(cache.read_text())["local"]) == 2000

    # Ten same-size edits: exactly ten PUTs.
    for i in range(0, 2000, 200):
        p = src / f"d{i % 10}" / f"f{i:04d}.txt"
        st = p.stat()
        p.write_text(p.read_text().upper())
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    counter = RequestCounter(moto)
    r = proj.run("sync-to-s3", "-q")
    assert r.stdout.startswith("uploaded 10 ("), r.stdout
    assert len(puts(counter.since())) == 10


def test_symlink_loop_broken_link_and_fifo_are_reported_not_followed(proj, s3):
    src = proj.path / "experiments"
    (src / "sub").mkdir(parents=True)
    (src / "sub/real.txt").write_text("real\n")
    (src / "sub/loop").symlink_to("..")  # experiments/sub/loop -> experiments
    (src / "dangling").symlink_to("does-not-exist")
    (src / "linked.txt").symlink_to("sub/real.txt")  # a link to a file is followed
    os.mkfifo(src / "pipe")
    s3.put_object(Bucket=BUCKET, Key="experiments/dangling", Body=b"kept")
    s3.put_object(Bucket=BUCKET, Key="experiments/pipe", Body=b"kept")
    r = proj.run("sync-to-s3", "--delete", timeout=60)
    assert r.returncode == 0, r.stderr
    assert "warning: sub/loop: symbolic link loop" in r.stderr
    assert "warning: dangling: broken symbolic link (-> does-not-exist); skipped" in r.stderr
    assert "warning: pipe: not a regular file" in r.stderr
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    # What could not be read is not deleted on the other side either.
    assert keys == ["experiments/dangling", "experiments/linked.txt", "experiments/pipe", "experiments/sub/real.txt"]


# ---- bad input: one line, exit 2 for the user's mistakes, 1 for AWS refusals, nothing changed ----


def one_error_line(r) -> str:
    lines = r.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("batchdeploy: error: "), r.stderr
    assert "Traceback" not in r.stderr
    return lines[-1]


def test_missing_bucket_is_exit_2(proj):
    (proj.path / "experiments").mkdir()
    r = proj.run("sync-to-s3", "--remote", "s3://no-such-bucket/x")
    assert r.returncode == 2
    assert one_error_line(r) == (
        "batchdeploy: error: bucket 'no-such-bucket' does not exist; check S3_BUCKET or --remote "
        "(the bucket can be made with `batchdeploy create`)"
    )


def test_bucket_that_is_not_ours_is_exit_1(proj, s3, proxy):
    s3.create_bucket(Bucket="someone-elses")
    (proj.path / "experiments").mkdir()
    (proj.path / "experiments/a.txt").write_text("a\n")
    proxy.add(bucket="someone-elses", status=403, code="AccessDenied", message="Access Denied")
    r = proj.run("sync-to-s3", "--remote", "s3://someone-elses/x", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 1
    line = one_error_line(r)
    assert line.startswith("batchdeploy: error: cannot list s3://someone-elses/x/: AccessDenied: Access Denied")
    assert "IAM" in line
    assert "Contents" not in s3.list_objects_v2(Bucket="someone-elses")


def test_missing_s3_bucket_setting_is_exit_2(moto, project):
    project.env_file(PROJECT_NAME="demo", S3_PREFIX="bad prefix")
    r = project.run("sync-to-s3")
    assert r.returncode == 2
    line = one_error_line(r)
    assert "S3_BUCKET is missing" in line and "S3_PREFIX='bad prefix' is malformed" in line  # all at once


def test_bad_remote_url_is_exit_2(proj):
    r = proj.run("sync-to-s3", "--remote", "https://bucket/x")
    assert r.returncode == 2 and "is not an s3:// URL" in one_error_line(r)


def test_missing_local_folder_is_exit_2(proj, s3):
    r = proj.run("sync-to-s3", "--delete")
    assert r.returncode == 2
    assert one_error_line(r).startswith("batchdeploy: error: local folder ")
    assert "does not exist" in r.stderr


def test_unreadable_file_is_exit_2_and_nothing_changes(proj, s3, moto):
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is needed to drop CAP_DAC_OVERRIDE")
    src = proj.path / "experiments"
    src.mkdir()
    (src / "ok.txt").write_text("ok\n")
    locked = src / "locked.txt"
    locked.write_text("secret\n")
    locked.chmod(0)
    s3.put_object(Bucket=BUCKET, Key="experiments/obsolete.txt", Body=b"x")
    cmd = [sys.executable, "-m", "batchdeploy", "sync-to-s3", "--delete"]
    if os.geteuid() == 0:
        # root reads anything; without these two capabilities it obeys the permission bits.
        cmd = [setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search", *cmd]
    counter = RequestCounter(moto)
    r = proj._run(cmd, None, None, 60)
    assert r.returncode == 2, r.stderr
    assert one_error_line(r) == (
        "batchdeploy: error: cannot read 1 local path: locked.txt: Permission denied; "
        "fix the permissions or --exclude them; nothing was copied or deleted"
    )
    assert puts(counter.since()) == []
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == ["experiments/obsolete.txt"]
    r = proj._run([*cmd, "--exclude", "locked.txt"], None, None, 60)
    assert r.returncode == 0, r.stderr


def test_json_summary_and_quiet(proj, s3):
    src = proj.path / "experiments"
    src.mkdir()
    (src / "x.txt").write_text("x\n")
    r = proj.run("sync-to-s3", "--output", "json", "-q")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["copied"] == ["x.txt"] and data["list_requests"] == 1 and data["remote"] == f"s3://{BUCKET}/experiments/"
    assert r.stderr == ""


def test_secrets_never_printed_or_stored(proj, s3):
    canary = "CANARY-sync-secret-9d1e"
    proj.env_file(S3_BUCKET=BUCKET, AWS_SECRET_ACCESS_KEY="testing", DB_PASSWORD=canary)
    src = proj.path / "experiments"
    src.mkdir()
    (src / "x.txt").write_text("x\n")
    r = proj.run("sync-to-s3", "--output", "json")
    assert r.returncode == 0, r.stderr
    assert canary not in r.both
    state = proj.path / ".batchdeploy"
    assert all(canary not in p.read_text() for p in state.rglob("*") if p.is_file())


def test_state_and_env_file_inside_the_synced_folder_are_never_uploaded(proj, s3):
    (proj.path / "data.txt").write_text("d\n")
    r = proj.run("sync-to-s3", "--local", ".")
    assert r.returncode == 0, r.stderr
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert keys == ["experiments/data.txt"]
    assert proj.run("sync-to-s3", "--local", ".", "-q").stdout.startswith("uploaded 0 ")


def test_aws_cli_sees_what_we_uploaded(proj, moto):
    src = proj.path / "experiments"
    src.mkdir()
    (src / "a b.txt").write_text("spaces\n")
    assert proj.run("sync-to-s3", "-q").returncode == 0
    listing = aws_cli(moto, "s3api", "list-objects-v2", "--bucket", BUCKET)
    assert [o["Key"] for o in listing["Contents"]] == ["experiments/a b.txt"]


def test_make_target_and_deploy_flags(proj):
    (proj.path / "experiments").mkdir()
    r = proj.deploy("--sync-from-s3", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "would download 0 (0 B)" in r.stdout
    done = subprocess.run([str(Path(__file__).resolve().parents[2] / "deploy.sh"), "--sync-to-s3", "--help"],
                          capture_output=True, text=True, check=False)
    assert "--jobs" in done.stdout and "--exclude" in done.stdout


def test_sigterm_during_a_multipart_upload_aborts_it(proj, s3, proxy):
    src = proj.path / "experiments"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(17 * 1024 * 1024))
    proxy.add(method="PUT", query={"partNumber": "2"}, hold=True)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "AWS_ENDPOINT_URL": proxy.url}
    proc = subprocess.Popen([sys.executable, "-m", "batchdeploy", "sync-to-s3"], cwd=proj.path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proxy.held.wait(60), "the upload never reached part 2"
        proc.terminate()  # SIGTERM, as a CI timeout or `kill` sends
        seen = []
        for line in proc.stderr:  # wait until the CLI says it is cancelling, then let part 2 go
            seen.append(line)
            if line.startswith("interrupted: cancelling"):
                break
        proxy.release.set()
        rest = proc.stderr.read()
        assert proc.wait(60) == 130, "".join(seen) + rest
    finally:
        proxy.release.set()
        if proc.poll() is None:
            proc.kill()
    # Progress notes, then one error line: before, a warning came first, and each cancelled transfer
    # added `warning: big.bin: KeyboardInterrupt()`.
    lines = [*seen, *rest.splitlines(True)]
    assert [line for line in lines if not line.startswith(("upload ", "interrupted: cancelling"))] == [
        "batchdeploy: error: interrupted: 0 of 1 files copied, the transfers in flight cancelled (multipart uploads "
        "aborted); nothing was deleted; run again to finish\n"], lines
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="experiments/")


def test_jobs_out_of_range_is_exit_2(proj):
    (proj.path / "experiments").mkdir()
    r = proj.run("sync-to-s3", "--jobs", "0")
    assert r.returncode == 2 and one_error_line(r) == "batchdeploy: error: --jobs 0 is out of range; use 1 to 64"


def test_configured_folders_and_prefixes(proj, s3):
    proj.env_file(S3_BUCKET=BUCKET, S3_PREFIX="/team/exp/", EXPERIMENTS_DIR="src/exp", RESULTS_PREFIX="team/out",
                  RESULTS_DIR="out")
    (proj.path / "src/exp").mkdir(parents=True)
    (proj.path / "src/exp/e.yaml").write_text("e\n")
    s3.put_object(Bucket=BUCKET, Key="team/out/r.csv", Body=b"r\n")
    assert proj.run("sync-to-s3", "-q").returncode == 0
    assert proj.run("results", "-q").returncode == 0
    assert s3.head_object(Bucket=BUCKET, Key="team/exp/e.yaml")["ContentLength"] == 2
    assert (proj.path / "out/r.csv").read_text() == "r\n"  # `results`: RESULTS_PREFIX into RESULTS_DIR
    (proj.path / "src/exp/e.yaml").unlink()
    assert proj.run("sync-from-s3", "-q").returncode == 0  # triage's meaning: S3_PREFIX into EXPERIMENTS_DIR
    assert (proj.path / "src/exp/e.yaml").read_text() == "e\n" and not (proj.path / "src/exp/r.csv").exists()


def test_temporary_files_of_a_killed_download_are_cleaned_up_and_never_uploaded(proj, s3):
    res = proj.path / "results"
    res.mkdir()
    stale = res / ".out.csv.0123abcd.bdpart"
    stale.write_text("half a download\n")
    s3.put_object(Bucket=BUCKET, Key="results/out.csv", Body=b"whole\n")
    r = proj.run("sync-to-s3", "--local", "results", "--remote", f"s3://{BUCKET}/up", "-q")
    assert r.returncode == 0 and r.stdout.startswith("uploaded 0 ")
    assert proj.run("results", "-q").returncode == 0
    assert sorted(p.name for p in res.iterdir()) == ["out.csv"]


def test_access_denied_on_upload_stops_the_run(proj, s3, proxy):
    src = proj.path / "experiments"
    src.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (src / name).write_text(name)
    s3.put_object(Bucket=BUCKET, Key="experiments/old.txt", Body=b"x")
    proxy.add(bucket=BUCKET, when=lambda r: r.method in ("PUT", "POST", "DELETE"), status=403, code="AccessDenied",
              message="Access Denied")
    r = proj.run("sync-to-s3", "--delete", "--jobs", "1", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 1
    assert one_error_line(r) == (
        "batchdeploy: error: 1 of 3 transfers failed: cannot upload a.txt: AccessDenied: Access Denied; "
        "check the credentials and IAM permissions (README: IAM permissions); 2 more not tried after that; nothing was deleted; run again to retry (what did copy is kept)"
    )
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == ["experiments/old.txt"]
