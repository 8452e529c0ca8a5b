"""The launcher's pure parts: what it may import, task resolution, the manifest's rules, the record,
the bundle unpacker's refusals, the one-file launcher, fetch-and-run's own failures."""

from __future__ import annotations

import ast
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from batchdeploy.launch import (
    EXIT_BUNDLE,
    EXIT_CODES,
    EXIT_MANIFEST,
    EXIT_USAGE,
    code,
    fetch_and_run,
    record,
    spec,
)
from batchdeploy.launch.main import parse_args
from batchdeploy.launch.process import Finished, Tail
from batchdeploy.launch.spec import LaunchError

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ROOT / "batchdeploy" / "launch"


def _top_level_imports(path: Path) -> set:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.add(node.module)
    return found


def test_the_launcher_imports_only_the_standard_library_botocore_and_itself():
    if not hasattr(sys, "stdlib_module_names"):
        pytest.skip("needs Python 3.10's sys.stdlib_module_names")
    allowed_std = set(sys.stdlib_module_names)
    bad = {}
    for path in sorted(LAUNCH.glob("*.py")):
        for name in _top_level_imports(path):
            root = name.split(".")[0]
            if root in allowed_std or root == "botocore" or name == "batchdeploy.launch" or name.startswith("batchdeploy.launch."):
                continue
            if (path.name, name) == ("callchild.py", "cloudpickle"):  # the function call's child process alone
                continue
            bad.setdefault(path.name, []).append(name)
    assert bad == {}


def test_the_call_child_imports_cloudpickle_only_when_it_runs_so_the_launcher_never_needs_it():
    body = ast.parse((LAUNCH / "callchild.py").read_text()).body
    at_import_time = [n for n in body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert all("cloudpickle" not in ast.dump(n) for n in at_import_time)
    blocked = "import sys; sys.modules['cloudpickle'] = None; import batchdeploy.launch.main, batchdeploy.launch.function"
    done = subprocess.run([sys.executable, "-c", blocked], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_exit_codes_are_distinct_documented_and_clear_of_common_ones():
    own = [c for c in EXIT_CODES if c not in (126, 127)]
    assert len(set(EXIT_CODES)) == len(EXIT_CODES)
    assert all(100 <= c < 126 for c in own)  # not 0-2, not 126/127 (shells), not 128+N (signals)
    import batchdeploy.launch as launch

    assert all(f"    {c}  " in launch.__doc__ for c in EXIT_CODES)


@pytest.mark.parametrize(
    "env, explicit, want",
    [
        ({}, None, 0),
        ({"AWS_BATCH_JOB_ARRAY_INDEX": "7", "AWS_BATCH_JOB_ID": "p:3"}, None, 7),
        ({"AWS_BATCH_JOB_ID": "0d5e-11:3"}, None, 0),  # the index is AWS_BATCH_JOB_ARRAY_INDEX's, never the id's
        ({"AWS_BATCH_JOB_ID": "0d5e-11"}, None, 0),
        ({"AWS_BATCH_JOB_ARRAY_INDEX": "7"}, "2", 2),
        ({"AWS_BATCH_JOB_ARRAY_INDEX": ""}, None, 0),
    ],
)
def test_task_index(env, explicit, want):
    assert spec.task_index(env, explicit) == want


def test_a_malformed_task_index_is_a_usage_error():
    with pytest.raises(LaunchError) as err:
        spec.task_index({"AWS_BATCH_JOB_ARRAY_INDEX": "x"})
    assert err.value.code == EXIT_USAGE and "AWS_BATCH_JOB_ARRAY_INDEX 'x'" in err.value.message


def test_attempt_defaults_to_one():
    assert spec.attempt_number({}) == 1 and spec.attempt_number({"AWS_BATCH_JOB_ATTEMPT": "3"}) == 3


def doc(**over):
    base = {"format": spec.MANIFEST_FORMAT, "bundle": None, "records": None, "command": ["run", "Ref::a"],
            "environment": {"X": "1"}, "tasks": [{"parameters": {"a": "A"}, "environment": {"Y": "2"}}]}
    return {**base, **over}


def test_a_task_takes_the_defaults_fills_refs_and_merges_environment():
    task = spec.select_task(doc(), 0)
    assert task.command == ["run", "A"] and task.environment == {"X": "1", "Y": "2"}
    own = spec.select_task(doc(tasks=[{"command": ["x=Ref::a", "Ref::missing"], "parameters": {"a": "1"}}]), 0)
    assert own.command == ["x=1", "Ref::missing"]


def test_the_words_after_dashes_are_the_command_of_a_manifest_without_one():
    raw = b'{"format": "batchdeploy.manifest/1", "tasks": [{"parameters": {"a": "1"}}]}'
    with pytest.raises(LaunchError, match="no command"):
        spec.parse_manifest(raw, "s3://b/m")
    assert spec.select_task(spec.parse_manifest(raw, "s3://b/m", ["echo", "Ref::a"]), 0).command == ["echo", "1"]


def test_a_task_beyond_the_manifest_is_a_manifest_error():
    with pytest.raises(LaunchError) as err:
        spec.select_task(doc(), 1, "s3://b/m.json")
    assert err.value.code == EXIT_MANIFEST and "has 1 task(s); there is no task 1" in err.value.message


def test_manifest_problems_are_all_reported():
    bad = doc(format="other", command=None, environment={"bad name": "v"}, bundle={"url": "s3://b/k", "sha256": "x"},
              tasks=[{"inputs": [{"from": "http://x", "to": "a"}], "outputs": [{"to": "s3://b/o"}]}])
    problems = spec.manifest_problems(bad)
    assert len(problems) == 6, problems
    assert spec.manifest_problems(doc()) == []
    with pytest.raises(LaunchError) as err:
        spec.parse_manifest(b"{not json", "s3://b/m")
    assert err.value.code == EXIT_MANIFEST


def test_a_content_addressed_key_promises_its_hash():
    sha = "a" * 64
    assert spec.manifest_sha_from_key(f"p/manifests/{sha}.json") == sha
    assert spec.manifest_sha_from_key("p/manifests/mine.json") is None


def test_parse_args_takes_flags_environment_and_the_command_after_dashes():
    opts = parse_args(["--manifest=s3://b/m", "--task", "2", "--", "python3", "--manifest"], {"BATCHDEPLOY_RECORDS": "s3://b/r/"})
    assert (opts.manifest, opts.task, opts.records, opts.command) == ("s3://b/m", "2", "s3://b/r/", ["python3", "--manifest"])
    with pytest.raises(LaunchError) as err:
        parse_args([], {})
    assert err.value.code == EXIT_USAGE


def finished(**over):
    base = dict(exit_code=0, signal=None, started=100.0, ended=160.5, stderr_tail=b"a\nb\n", max_rss_kib=2048,
                cpu_user_s=1.5, cpu_system_s=0.25)
    return Finished(**{**base, **over})


CTX = {"task": 4, "attempt": 2, "job_id": "p:4", "started": 99.5, "command": ["run", "tok=SECRETVALUE123"],
       "manifest": {"url": "s3://b/m", "sha256": "f" * 64}, "bundle": {"url": "s3://b/c", "sha256": "e" * 64, "bytes": 10},
       "secrets": ["SECRETVALUE123"]}


def test_the_record_of_a_finished_command():
    rec = record.build_record(CTX, finished(exit_code=3, stderr_tail=b"x SECRETVALUE123\nlast\n"), ended=161.0)
    assert rec["exit_code"] == rec["command_exit_code"] == 3 and rec["outcome"] == "failed"
    assert rec["started"] == "1970-01-01T00:01:39.500Z" and rec["command_ended"] == "1970-01-01T00:02:40.500Z"
    assert rec["overhead_s"] == {"before_command": 0.5, "after_command": 0.5}
    assert rec["resources"] == {"max_rss_kib": 2048, "cpu_user_s": 1.5, "cpu_system_s": 0.25, "wall_s": 60.5}
    assert rec["stderr_tail"] == ["x ****", "last"] and rec["command"] == ["run", "tok=****"]
    assert rec["copied"]["bundle_bytes"] == 10 and rec["format"] == spec.RECORD_FORMAT
    assert "SECRETVALUE123" not in record.encode(rec).decode()


def test_the_record_of_a_launcher_failure_before_and_after_the_command():
    before = record.build_record(CTX, None, LaunchError(EXIT_MANIFEST, "cannot read"), ended=100.0)
    assert (before["exit_code"], before["outcome"], before["command_exit_code"]) == (EXIT_MANIFEST, "launcher-failed", None)
    assert before["launcher_error"] == {"exit_code": EXIT_MANIFEST, "message": "cannot read"}
    after = record.build_record(CTX, finished(), LaunchError(115, "outputs missing"), ended=161.0)
    assert (after["exit_code"], after["command_exit_code"], after["outcome"]) == (115, 0, "launcher-failed")
    failed = record.build_record(CTX, finished(exit_code=2), LaunchError(115, "outputs missing"), ended=161.0)
    assert failed["exit_code"] == 2  # the command's own failure is what the job reports


def test_record_keys_and_secret_values():
    assert record.record_key("runs/r1", 3, 2) == "runs/r1/tasks/3/attempt-2.json"
    assert record.record_key("", 0, 1) == "tasks/0/attempt-1.json"
    env = {"AWS_SECRET_ACCESS_KEY": "abcdefghij", "MY_TOKEN": "0123456789", "SHORT_TOKEN": "abc", "HOME": "/root/abcdefgh"}
    assert set(record.secret_values(env)) == {"abcdefghij", "0123456789"}


def test_tail_keeps_the_end():
    tail = Tail(limit=10)
    for _ in range(100):
        tail.add(b"0123456789")
    tail.add(b"end\n")
    assert tail.value() == b"456789end\n"


def tar_with(member: tarfile.TarInfo, data: bytes = b"") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.addfile(member, io.BytesIO(data) if data else None)
    return buf.getvalue()


@pytest.mark.parametrize(
    "name, kind, link",
    [("../evil", tarfile.REGTYPE, ""), ("/abs", tarfile.REGTYPE, ""), ("a/link", tarfile.SYMTYPE, "../../x"),
     ("a/abs", tarfile.SYMTYPE, "/etc/passwd"), ("dev", tarfile.CHRTYPE, ""), ("hard", tarfile.LNKTYPE, "x")],
)
def test_unpack_refuses_unsafe_members(tmp_path, name, kind, link):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    archive = tmp_path / "b.tar.gz"
    archive.write_bytes(tar_with(info))
    with pytest.raises(LaunchError) as err:
        code.unpack(str(archive), str(tmp_path / "out"))
    assert err.value.code == EXIT_BUNDLE
    assert not (tmp_path / "evil").exists()


def test_the_one_file_launcher_is_deterministic_and_runs(tmp_path):
    from batchdeploy.launch import zipapp

    a, b = zipapp.write(str(tmp_path / "a")), zipapp.write(str(tmp_path / "b"))
    assert Path(a).read_bytes() == Path(b).read_bytes() and os.access(a, os.X_OK)
    names = zipfile.ZipFile(a).namelist()
    assert all(n in ("__main__.py", "batchdeploy/__init__.py") or n.startswith(("batchdeploy/launch/", "cloudpickle/")) for n in names)
    assert {"cloudpickle/__init__.py", "cloudpickle/cloudpickle.py", "cloudpickle/LICENSE"} <= set(names)
    loads = f"import sys; sys.path.insert(0, {a!r}); import cloudpickle; print(cloudpickle.__file__)"
    found = subprocess.run([sys.executable, "-I", "-c", loads], capture_output=True, text=True, timeout=60)
    assert found.stdout.startswith(f"{a}/cloudpickle/"), found.stderr
    env = {"PATH": os.environ["PATH"]}
    done = subprocess.run([a], env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (EXIT_USAGE, "batchdeploy-launch: no manifest: pass --manifest s3://BUCKET/KEY or set BATCHDEPLOY_MANIFEST\n")


@pytest.mark.parametrize(
    "env, args, message",
    [
        ({"BATCH_FILE_S3_URL": "s3://b/k"}, [], "* BATCH_FILE_TYPE not set, unable to determine type (zip/script) of URL s3://b/k"),
        ({"BATCH_FILE_TYPE": "script"}, [], "* BATCH_FILE_S3_URL not set. No object to download."),
        ({"BATCH_FILE_TYPE": "script", "BATCH_FILE_S3_URL": "https://x/y"}, [], "* BATCH_FILE_S3_URL must be for an S3 object; expecting URL starting with s3://"),
        ({"BATCH_FILE_TYPE": "zip", "BATCH_FILE_S3_URL": "s3://b/k"}, [], "* zip format requires at least one argument - the script to run from inside"),
        ({"BATCH_FILE_TYPE": "tar", "BATCH_FILE_S3_URL": "s3://b/k"}, ["x"], "* Unsupported value for BATCH_FILE_TYPE. Expected (zip/script)."),
    ],
)
def test_fetch_and_run_usage_errors_exit_2_with_the_originals_message(capsys, env, args, message):
    assert fetch_and_run.run(args, env, argv0="/usr/local/bin/fetch_and_run.sh") == 2
    out = capsys.readouterr().out
    assert out.startswith(message + "\n\nUsage:\n") and "fetch_and_run.sh script-from-s3 [ <script arguments> ]" in out


def test_the_outputs_folders_are_made_before_the_command(tmp_path):
    from batchdeploy.launch.transfer import make_output_folders

    (tmp_path / "blocker").write_text("a file where a folder would go")
    make_output_folders([{"from": "outputs/task/", "to": "s3://b/r/1/", "optional": True},
                         {"from": "outputs/M/m.pt", "to": "s3://b/m.pt"},
                         {"from": "top.txt", "to": "s3://b/t"},
                         {"from": "blocker/x", "to": "s3://b/x"}], str(tmp_path))
    assert (tmp_path / "outputs" / "task").is_dir() and (tmp_path / "outputs" / "M").is_dir()
    assert not (tmp_path / "outputs" / "M" / "m.pt").exists() and (tmp_path / "blocker").is_file()


def test_an_output_folder_left_empty_counts_as_missing(tmp_path):
    from batchdeploy.launch.transfer import OutputsMissing, copy_out, make_output_folders

    outputs = [{"from": "outputs/task/", "to": "s3://bkt/r/1/", "optional": True}, {"from": "outputs/O/", "to": "s3://bkt/o/"}]
    make_output_folders(outputs, str(tmp_path))
    with pytest.raises(OutputsMissing) as caught:
        copy_out(None, outputs, str(tmp_path), required=True)  # nothing to upload: no client call
    assert caught.value.missing == ["outputs/task/", "outputs/O/"] and "outputs/O/" in caught.value.message
    assert "outputs/task/" not in caught.value.message  # optional
    assert copy_out(None, outputs, str(tmp_path), required=False) == ([], ["outputs/task/", "outputs/O/"])
