"""Code bundles and manifests, the client's pure pieces: determinism, exclusions, the size refusal,
manifest building, upload-if-absent (with a recording stand-in client)."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile

import pytest

from batchdeploy import bundle as bundles
from batchdeploy import manifest as manifests
from batchdeploy.errors import UsageError
from batchdeploy.launch import code, spec


def tree(root, files: dict):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def members(b) -> dict:
    with tarfile.open(fileobj=io.BytesIO(b.data), mode="r:gz") as tar:
        return {m.name: (m.mode, m.mtime, m.uid, m.uname) for m in tar}


def test_the_same_tree_gives_the_same_bytes_whatever_the_times_and_order(tmp_path):
    a = tree(tmp_path / "a", {"z.py": "z", "pkg/m.py": "m", "run.sh": "#!/bin/sh\n"})
    b = tree(tmp_path / "b", {"run.sh": "#!/bin/sh\n", "pkg/m.py": "m", "z.py": "z"})
    os.chmod(a / "run.sh", 0o755)
    os.chmod(b / "run.sh", 0o700)
    os.utime(b / "z.py", (1, 1))
    first, second = bundles.pack(a), bundles.pack(b)
    assert first.data == second.data and first.sha256 == second.sha256
    assert list(members(first)) == ["pkg/m.py", "run.sh", "z.py"]
    assert members(first)["run.sh"] == (0o755, bundles.FIXED_MTIME, 0, "")
    assert members(first)["z.py"][0] == 0o644
    (b / "z.py").write_text("changed")
    assert bundles.pack(b).sha256 != first.sha256
    assert first.key("bd/") == f"bd/code/{first.sha256}.tar.gz"


def test_folder_exclusions_defaults_dockerignore_and_reincludes(tmp_path):
    root = tree(tmp_path / "p", {
        "train.py": "", "data/big.csv": "", "data/keep.csv": "", "pkg/__pycache__/x.pyc": "", ".git/HEAD": "",
        ".venv/bin/python": "", "notes/a.md": "", ".aws_env": "AWS_SECRET_ACCESS_KEY=x", ".batchdeploy/jobs.jsonl": "",
        "deep/node_modules/x.js": "", ".dockerignore": "# comment\ndata/*\n!data/keep.csv\n/notes\n",
    })
    files, source = bundles.list_files(root)
    assert source == "folder"
    assert files == [".dockerignore", "data/keep.csv", "train.py"]


def test_a_git_work_tree_packs_what_git_would_commit(tmp_path):
    root = tree(tmp_path / "repo", {"a.py": "", "ignored.log": "", ".gitignore": "*.log\n", "new.py": "", ".aws_env": "x"})
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "a.py", ".gitignore", ".aws_env"], check=True)
    files, source = bundles.list_files(root)
    assert source == "git" and files == [".gitignore", "a.py", "new.py"]  # .aws_env never, even tracked
    sub, _ = bundles.list_files(tree(root / "sub", {"s.py": ""}))
    assert sub == ["s.py"]


def test_a_folder_git_ignores_packs_its_files_and_an_empty_bundle_is_refused(tmp_path):
    # A copy of the code under an ignored path (bench/work/, a scratch folder) once packed to an empty
    # bundle, and the job failed in the queue with "can't open file run.py": a silent wrong run.
    root = tree(tmp_path / "repo", {".gitignore": "work/\n", "work/code/run.py": "print(1)\n", "empty/.keep": ""})
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    files, source = bundles.list_files(root / "work" / "code")
    assert (files, source) == (["run.py"], "folder")
    (root / "empty" / ".keep").unlink()
    with pytest.raises(UsageError, match="would hold no file"):
        bundles.pack(root / "empty")


def test_a_bundle_over_the_limit_is_refused_naming_its_largest_files(tmp_path):
    root = tree(tmp_path / "p", {"code.py": "x" * 10, "data/huge.bin": "x" * 3000, "data/big.bin": "x" * 2000})
    with pytest.raises(UsageError) as err:
        bundles.pack(root, limit=4000)
    text = err.value.line()
    assert "would hold 4.9 KiB, over the 3.9 KiB limit; largest files: data/huge.bin (2.9 KiB)" in text
    assert text.index("data/huge.bin") < text.index("data/big.bin") < text.index("code.py")
    assert "keep data in S3" in text


def test_links_stay_links_inside_and_are_refused_outside(tmp_path):
    root = tree(tmp_path / "p", {"lib/real.py": "print(1)\n"})
    os.symlink("lib/real.py", root / "alias.py")
    b = bundles.pack(root)
    out = tmp_path / "out"
    archive = tmp_path / "b.tar.gz"
    archive.write_bytes(b.data)
    assert code.unpack(str(archive), str(out)) == 1
    assert os.readlink(out / "alias.py") == "lib/real.py" and (out / "alias.py").read_text() == "print(1)\n"
    os.symlink("/etc/passwd", root / "outside")
    with pytest.raises(UsageError, match="links outside the code folder"):
        bundles.pack(root)


def test_pattern_translation():
    ex = bundles.Excluder(["**/*.log", "build/", "a?c", "!keep.log"])
    assert ex.excluded("x/y/z.log") and ex.excluded("z.log") and ex.excluded("build/out/x")
    assert ex.excluded("abc") and not ex.excluded("abbc") and not ex.excluded("keep.log")
    assert not ex.excluded("src/build.py")


def test_a_manifest_is_canonical_json_named_by_its_hash():
    tasks = [{"parameters": {"lr": 0.1, "n": 3, "flag": True}, "inputs": [{"from": "s3://b/x", "to": "x"}]}]
    m = manifests.build(tasks, command=["python3", "train.py", "Ref::lr"], environment={"MODE": "fast"})
    again = manifests.build(tasks, environment={"MODE": "fast"}, command=["python3", "train.py", "Ref::lr"])
    assert m.data == again.data and m.sha256 == spec.sha256_hex(m.data)
    assert m.key("bd") == f"bd/manifests/{m.sha256}.json"
    assert spec.manifest_sha_from_key(m.key("bd")) == m.sha256
    parsed = spec.parse_manifest(m.data, "s3://b/m")
    assert spec.select_task(parsed, 0).command == ["python3", "train.py", "0.1"]
    assert parsed["tasks"][0]["parameters"] == {"lr": "0.1", "n": "3", "flag": "true"}


def test_a_manifest_refuses_secrets_and_reports_every_problem():
    with pytest.raises(UsageError) as err:
        manifests.build([{"command": ["x"], "environment": {"AWS_SECRET_ACCESS_KEY": "canary-123456789", "DB_PASSWORD": "p"}}])
    assert "AWS_SECRET_ACCESS_KEY, DB_PASSWORD" in err.value.message and "canary" not in err.value.line()
    with pytest.raises(UsageError) as err:
        manifests.build([{"parameters": {"a": "1"}}, {"command": [], "outputs": [{"from": "o"}]}])
    assert "task 0: no command" in err.value.message and "task 1: command must be" in err.value.message
    assert "outputs[0] needs 'to'" in err.value.message
    with pytest.raises(UsageError, match="unknown task keys: cmd"):
        manifests.build([{"cmd": ["x"]}])


class Recorder:
    """An S3 client stand-in that keeps objects in a dict and records calls."""

    def __init__(self):
        self.objects, self.calls = {}, []

    def head_object(self, Bucket, Key):
        self.calls.append(("head", Key))
        if (Bucket, Key) not in self.objects:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "404", "Message": "Not Found"}}, "HeadObject")
        return {}

    def put_object(self, Bucket, Key, Body, ContentType):
        self.calls.append(("put", Key))
        self.objects[(Bucket, Key)] = Body


def test_upload_if_absent_puts_once(tmp_path):
    client = Recorder()
    b = bundles.pack(tree(tmp_path / "p", {"a.py": "1"}))
    ref = manifests.upload_bundle(client, "bkt", "bd", b)
    assert ref == {"url": f"s3://bkt/bd/code/{b.sha256}.tar.gz", "sha256": b.sha256, "size": len(b.data)}
    manifests.upload_bundle(client, "bkt", "bd", b)
    assert [c[0] for c in client.calls] == ["head", "put", "head"]
    url = manifests.upload_manifest(client, "bkt", "bd", manifests.build([{"command": ["x"]}], bundle=ref))
    assert url.startswith("s3://bkt/bd/manifests/") and client.calls[-1][0] == "put"
