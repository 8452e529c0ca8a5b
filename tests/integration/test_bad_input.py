"""Every bad input, by class, for every verb (issue #14): the exit code, exactly one line on stderr, no
traceback, no AWS request that changes anything (counted in the moto server's request log), and the
state folder byte for byte as it was. The classes: configuration, each JSON file a user writes (job
definition, overrides, compute environment, queue, the jq filter), each flag, file names, signals.

The CLI runs in this process (`cli.main`, the real edge: its one-line printer and exit codes) so the
table stays fast; the signal case runs it as a process. test_run_errors.py holds `-r`'s own table.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batchdeploy import cli
from tests import run_support
from tests.conftest import ROOT, RequestCounter
from tests.integration.conftest import wait_for
from tests.run_support import DB_CANARY, PARAMS, STS_KEY_ID, STS_SECRET

BUCKET = "demo-bucket"
JOB = "5a3c9e2b-1f4d-4c8a-9b6e-0d7f2a1c3e5b"  # well formed, known to nobody
CANARIES = (DB_CANARY, STS_SECRET, STS_SECRET[:10], STS_KEY_ID)
DEEP = '{"a": ' * 10_000 + "1" + "}" * 10_000

# Every verb, as a user would run it with good flags (the case then breaks one input).
VERBS = {
    "info": ["info"],
    "images": ["images"],
    "update-jobs": ["update-jobs", "--dry-run"],
    "run": ["run", "exp1", *PARAMS, "--dry-run"],
    "status": ["status"],
    "logs": ["logs", JOB],
    "cancel": ["cancel", JOB],
    "sync-to-s3": ["sync-to-s3", "--dry-run"],
    "sync-from-s3": ["sync-from-s3", "--dry-run"],
    "results": ["results", "--dry-run"],
    "all": ["all"],
    "create": ["create", "--dry-run"],
    "delete": ["delete", "--dry-run"],
    "report": ["report", "20261130T161200Z-3fa9c1"],
}


@pytest.fixture
def bad(moto, aws, project, monkeypatch):
    """A project every verb could run in: a queue, a registered definition recorded by -u, a bucket,
    an experiments folder, the overrides and the triage filter."""
    run_support.setup_project(project, run_support.make_batch(aws), S3_BUCKET=BUCKET, IMAGES="app=.")
    aws.client("s3").create_bucket(Bucket=BUCKET)
    project.write("experiments/a.txt", "a\n")
    project.write_json("job-definition.json", {**run_support.JOB_DEFINITION, "jobDefinitionName": "demo-run"})
    monkeypatch.chdir(project.path)
    return project


def append_env(**values):
    def setup(project):
        with open(project.path / ".aws_env", "a", encoding="utf-8") as fh:
            fh.writelines(f"{k}={v}\n" for k, v in values.items())

    return setup


def write(name: str, text: str):
    def setup(project):
        project.write(name, text)

    return setup


def nothing(project):
    pass


def snapshot(project) -> dict[str, bytes]:
    folder = project.path / ".batchdeploy"
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def changes(requests, sts_ok: bool = False) -> list[tuple[str, str]]:
    """The requests that could change something: any but GET/HEAD, Batch's Describe*/List*, and (when
    the case gets that far) STS's GetSessionToken, which moto's query protocol posts to `/`."""
    out = []
    for method, path, _ in requests:
        if method in ("GET", "HEAD") or (method == "POST" and path.startswith(("/v1/describe", "/v1/list"))):
            continue
        if sts_ok and method == "POST" and path == "/":
            continue
        out.append((method, path))
    return out


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def check(bad, moto, capsys, setup, argv, code, words, sts_ok=False):
    setup(bad)
    before = snapshot(bad)
    counter = RequestCounter(moto)
    got, out, err = run_cli(argv, capsys)
    assert got == code, err
    assert err.endswith("\n") and len(err.splitlines()) == 1, err  # exactly one line, whatever it holds
    assert err.startswith("batchdeploy: error: ") and "Traceback" not in err
    for word in words.split("|"):
        assert word in err, err
    assert changes(counter.since(), sts_ok) == []
    assert snapshot(bad) == before
    assert not any(c in out + err for c in CANARIES)
    return err


# ---- configuration: every verb, before any AWS client --------------------------------------------

CONFIG = [
    ("region-flag", nothing, ["--region", "not a region!"], "AWS_REGION='not a region!' is malformed (from a flag)"),
    ("endpoint-flag", nothing, ["--endpoint-url", "notaurl"], "AWS_ENDPOINT_URL='notaurl' is malformed (from a flag)"),
    ("attempts", append_env(AWS_MAX_ATTEMPTS="abc"), [], "AWS_MAX_ATTEMPTS='abc' is malformed"),
    ("retry-mode", append_env(AWS_RETRY_MODE="bogus"), [], "AWS_RETRY_MODE='bogus' is malformed"),
    ("filter-timeout", append_env(FILTER_TIMEOUT_S="0"), [], "FILTER_TIMEOUT_S='0' is malformed"),
    ("unparsable-line", append_env(**{"not a setting": "x y"}), [], ".aws_env: cannot parse line"),
    ("env-file-is-a-folder", nothing, ["--env-file", "experiments"], "is a directory, not a configuration file"),
    ("env-file-missing", nothing, ["--env-file", "nope.env"], "nope.env does not exist"),
    ("env-file-fifo", lambda p: (p.path / "fifo.env").exists() or os.mkfifo(p.path / "fifo.env"),
     ["--env-file", "fifo.env"], "fifo.env is not a regular file"),
]


@pytest.mark.parametrize("verb", list(VERBS))
def test_a_configuration_mistake_is_one_line_exit_2_for_every_verb(bad, moto, capsys, verb):
    """Each mistake of CONFIG in turn, in one project (its setup is the slow part)."""
    argv = VERBS[verb]
    original = (bad.path / ".aws_env").read_text()
    for name, setup, flags, words in CONFIG:
        (bad.path / ".aws_env").write_text(original)
        try:
            check(bad, moto, capsys, setup, [argv[0], *flags, *argv[1:]], 2, words)
        except AssertionError as exc:
            raise AssertionError(f"{verb} with {name}: {exc}") from None


# ---- JSON files a user writes ---------------------------------------------------------------------

CE_ARGS = ["create", "--dry-run", "--compute-environment", "compute-environment.json"]
JSON_FILES = [
    ("jobdef-deep", write("job-definition.json", DEEP), VERBS["update-jobs"], "nested more than 64 levels deep"),
    ("jobdef-nan", write("job-definition.json", '{"jobDefinitionName": NaN}'), VERBS["update-jobs"],
     "job-definition.json: NaN is not a JSON value"),
    ("jobdef-digits", write("job-definition.json", '{"x": ' + "9" * 5000 + "}"), VERBS["update-jobs"],
     "a number is too long"),
    ("jobdef-syntax", write("job-definition.json", '{"a": }'), VERBS["update-jobs"], "invalid JSON at line 1 column 7"),
    ("jobdef-twice", write("job-definition.json", '{"type": "container", "type": "multinode"}'), VERBS["update-jobs"],
     "key 'type' appears twice"),
    ("jobdef-surrogate", write("job-definition.json", '{"jobDefinitionName": "\\ud800"}'), VERBS["update-jobs"],
     "lone \\uD800-\\uDFFF escape"),
    ("jobdef-array", write("job-definition.json", "[]"), VERBS["update-jobs"], "job-definition.json"),
    ("overrides-deep", write("env-overrides.json", DEEP), VERBS["run"], "env-overrides.json: nested more than 64"),
    ("overrides-infinity", write("env-overrides.json", '{"environment": [], "memory": 1e999}'), VERBS["run"],
     "1e999 is too large for a number"),
    ("overrides-list", write("env-overrides.json", "[]"), VERBS["run"], "env-overrides.json must be a JSON object"),
    ("overrides-folder", lambda p: (p.path / "env-overrides.json").unlink() or (p.path / "env-overrides.json").mkdir(),
     VERBS["run"], "env-overrides.json"),
    ("ce-deep", write("compute-environment.json", DEEP), CE_ARGS, "compute-environment.json: nested more than 64"),
    ("ce-missing", nothing, ["create", "--dry-run", "--compute-environment", "/nonexistent/ce.json"],
     "/nonexistent/ce.json does not exist; check the path"),
    ("queue-deep", write("job-queue.json", DEEP), ["create", "--dry-run", "--job-queue", "job-queue.json"],
     "job-queue.json: nested more than 64"),
    ("queue-nan", write("job-queue.json", '{"priority": NaN}'), ["create", "--dry-run", "--job-queue", "job-queue.json"],
     "job-queue.json: NaN is not a JSON value"),
    ("filter-syntax", write("credentials-filter", "{environment: ["), VERBS["run"], "credentials-filter: jq: error"),
    ("overrides-fifo", lambda p: (p.path / "env-overrides.json").unlink() or os.mkfifo(p.path / "env-overrides.json"),
     VERBS["run"], "env-overrides.json"),
    ("filter-fifo", lambda p: os.mkfifo(p.path / "credentials-filter") if not (p.path / "credentials-filter").unlink()
     else None, VERBS["run"], "credentials-filter"),
    ("ce-fifo", lambda p: os.mkfifo(p.path / "compute-environment.json"), CE_ARGS, "is not a regular file"),
    ("filter-not-utf8", lambda p: (p.path / "credentials-filter").write_bytes(b"\xff\xfe"), VERBS["run"],
     "credentials-filter"),
]


@pytest.mark.parametrize("setup, argv, words", [c[1:] for c in JSON_FILES], ids=[c[0] for c in JSON_FILES])
def test_a_bad_json_file_is_one_line_exit_2(bad, moto, capsys, setup, argv, words):
    check(bad, moto, capsys, setup, argv, 2, words)


def test_one_bad_compute_environment_file_adds_no_queue_errors(bad, moto, capsys):
    bad.write("job-queue.json", '{"priority": 1}')
    err = check(bad, moto, capsys, write("compute-environment.json", "{"),
                [*CE_ARGS, "--job-queue", "job-queue.json"], 2, "compute-environment.json: invalid JSON")
    assert "job-queue.json" not in err and "computeEnvironmentOrder" not in err, err


# ---- user programs: the credentials filter under its limits ----------------------------------------

FILTERS = [
    ("recursion", "def f: f; f", "credentials-filter was stopped: it ran longer than 1 s"),
    ("repeat", "repeat(1)", "credentials-filter was stopped: "),
    ("huge-range", "last(range(1e12))", "credentials-filter was stopped: it ran longer than 1 s"),
    ("flood-with-secrets", "[.Credentials[]] | repeat(.)", "credentials-filter was stopped: "),
    # jq's message on the credentials is withheld; the one shown comes from a stand-in document
    ("error-quoting-secrets", 'error(.Credentials.SecretAccessKey + " leaked")',
     "credentials-filter fails: <Credentials.SecretAccessKey> leaked"),
]


@pytest.mark.parametrize("program, words", [c[1:] for c in FILTERS], ids=[c[0] for c in FILTERS])
def test_a_filter_that_never_ends_is_stopped_in_one_line_with_no_secret(bad, moto, capsys, program, words):
    setup = append_env(FILTER_TIMEOUT_S="1")
    bad.write("credentials-filter", program)
    started = time.monotonic()
    check(bad, moto, capsys, setup, VERBS["run"][:-1], 2, words, sts_ok=True)  # not a dry run: nothing submitted
    assert time.monotonic() - started < 20


# ---- flags ----------------------------------------------------------------------------------------

FLAGS = [
    ("run-depends-on", [*VERBS["run"], "--depends-on", "notajobid"], "--depends-on 'notajobid' is not a job id"),
    ("run-depends-on-index", [*VERBS["run"], "--depends-on", JOB + ":x"], "is not a job id"),
    ("run-empty-value", ["run", "exp1", *PARAMS, "replace=", "--dry-run"], "parameter 'replace' has an empty value"),
    ("run-name-newline", ["run", "exp\n1", *PARAMS], "job name 'exp\\n1' is not one AWS accepts"),
    ("run-no-name", ["run"], "the job's NAME is missing"),
    ("run-retries", [*VERBS["run"], "--retries", "0"], "--retries 0 is out of range"),
    ("run-timeout-word", [*VERBS["run"], "--timeout", "soon"], "--timeout: invalid int value: 'soon'"),
    ("run-unknown-flag", [*VERBS["run"], "--bogus"], "unrecognized arguments: --bogus"),
    ("extra-args-elsewhere", ["status", "--", "x"], "arguments after `--` are only for `run`"),
    ("unknown-verb", ["bogus"], "invalid choice: 'bogus'"),
    ("status-limit", ["status", "--limit", "0"], "--limit 0 must be at least 1"),
    ("status-unknown-job", ["status", "nope"], "no job 'nope'"),
    ("status-since", ["status", "--since", "yesterday"], "--since yesterday: not a duration or a date"),
    ("status-state", ["status", "--state", "done"], "--state DONE: not a state"),
    ("status-run", ["status", "--run", "last"], "--run last: not a run id"),
    ("status-run-and-job", ["status", "job1", "--run", "20261130T161200Z-3fa9c1"], "give one job or --run RUN_ID, not both"),
    ("report-no-run", ["report"], "the following arguments are required: RUN_ID"),
    ("report-bad-run", ["report", "last"], "last: not a run id"),
    ("report-unknown-run", ["report", "20261130T161200Z-3fa9c1"], "no run 20261130T161200Z-3fa9c1 in s3://"),
    ("logs-unknown-job", ["logs", JOB], f"no job '{JOB}'"),
    ("logs-no-job", ["logs"], "the following arguments are required: JOB_ID"),
    ("cancel-unknown-job", ["cancel", JOB], f"no job '{JOB}'"),
    ("update-prune", ["update-jobs", "--prune", "0"], "--prune KEEP must be at least 1"),
    ("sync-jobs", ["sync-to-s3", "--jobs", "0"], "--jobs 0 is out of range"),
    ("sync-remote-scheme", ["sync-to-s3", "--remote", "https://x/y"], "is not an s3:// URL"),
    ("sync-remote-bucket", ["sync-from-s3", "--remote", "s3://Bad_Bucket/x"], "is not a valid bucket name"),
    ("sync-remote-dots", ["sync-to-s3", "--remote", f"s3://{BUCKET}/a/../b"], "has empty, '.' or '..' parts"),
    ("sync-delete-root", ["sync-to-s3", "--delete", "--remote", f"s3://{BUCKET}"], "--delete at the root of"),
    ("sync-delete-outside", ["sync-to-s3", "--delete", "--remote", f"s3://{BUCKET}/results"],
     f"outside s3://{BUCKET}/experiments/"),
    ("sync-local-missing", ["sync-to-s3", "--local", "no\nsuch"], "no\\nsuch does not exist"),
    ("sync-local-file", ["sync-to-s3", "--local", ".aws_env"], "is not a folder"),
    ("create-timeout", ["create", "--dry-run", "--timeout", "-1"], "--timeout: 0 or more seconds"),
    ("create-bucket", ["create", "--dry-run", "--bucket", "Bad_Bucket"], "'Bad_Bucket' breaks S3's naming rules"),
    ("delete-unknown-flag", ["delete", "--update"], "unrecognized arguments: --update"),
    ("images-unknown-flag", ["images", "--dry-run"], "unrecognized arguments: --dry-run"),
]


@pytest.mark.parametrize("argv, words", [c[1:] for c in FLAGS], ids=[c[0] for c in FLAGS])
def test_a_bad_flag_is_one_line_exit_2(bad, moto, capsys, argv, words):
    check(bad, moto, capsys, nothing, argv, 2, words)


# ---- file names -----------------------------------------------------------------------------------


def test_file_names_with_control_characters_are_skipped_at_the_scan_one_line_each(bad, moto, capsys):
    names = ["new\nline.txt", "tab\there.txt", "esc\x1b[31m.txt"]
    for name in names:
        (bad.path / "experiments" / name).write_text("x")
    counter = RequestCounter(moto)
    code, out, err = run_cli(["sync-to-s3"], capsys)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == len(names) and "\x1b" not in err, err
    assert "warning: new\\nline.txt: the name holds a control character" in err
    puts = [path for method, path in changes(counter.since())]
    assert puts == [f"/{BUCKET}/experiments/a.txt"], puts  # the good file only; never a name with a control


# ---- signals --------------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_during_a_long_filter_is_130_one_line_and_leaves_no_child(bad, moto, signum):
    """SIGTERM takes Ctrl-C's path (before: Python died silently, exit -15)."""
    bad.write("credentials-filter", "last(range(1e12))")
    before = snapshot(bad)
    counter = RequestCounter(moto)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FILTER_TIMEOUT_S": "120"}
    proc = subprocess.Popen([sys.executable, "-m", "batchdeploy", *VERBS["run"][:-1]], cwd=bad.path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        child = wait_for(lambda: _running_child(proc.pid, "userprog_child.py"), 60, what="the filter's child")
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert err == "batchdeploy: error: interrupted\n", err
    assert not Path(f"/proc/{child}").exists() or _zombie(child)
    assert changes(counter.since(), sts_ok=True) == []
    assert snapshot(bad) == before


def _running_child(pid: int, needle: str) -> int | None:
    """The child running the filter once it has spent 0.3 s of CPU (past compiling, inside the
    program), else None."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    for child in children:
        try:
            if needle not in Path(f"/proc/{child}/cmdline").read_text():
                continue
            fields = Path(f"/proc/{child}/stat").read_text().split(")")[-1].split()
        except OSError:
            continue
        if (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") > 0.3:
            return int(child)
    return None


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def test_the_state_snapshot_sees_a_change(bad):
    """The suite's own check is able to fail: a state file written is a difference."""
    before = snapshot(bad)
    (bad.path / ".batchdeploy" / "jobs.jsonl").write_text(json.dumps({"job_id": JOB}) + "\n")
    assert snapshot(bad) != before
