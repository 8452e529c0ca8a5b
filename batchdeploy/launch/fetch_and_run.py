"""fetch-and-run: what AWS's `fetch_and_run.sh` (awslabs/aws-batch-helpers) does, for images and job
definitions written for it.

`BATCH_FILE_TYPE` is `script` or `zip`; `BATCH_FILE_S3_URL` an s3:// URL. `script`: the object is
downloaded to a temporary file, made executable and executed with the arguments after the first
(the first names the script, and is dropped, as the original does). `zip`: the zip is unpacked into
a temporary folder, which becomes the working folder, and `./ARG1` is executed with the rest.
The program replaces the launcher (exec), so its exit code is the job's.

Its own failures keep the original's exit codes and messages: a usage problem prints `* MESSAGE`,
a blank line and the usage to stdout and exits 2; a download, unpack or exec failure prints
`NAME - MESSAGE` to stderr and exits 1. It needs no AWS CLI and no unzip: botocore and zipfile do
their work. `KEEP_BATCH_FILE_CONTENTS` has nothing to keep: exec leaves the folder in place, as the
original's exec does.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
import zipfile

from batchdeploy.launch import s3

USAGE = """Usage:

export BATCH_FILE_TYPE="script"
export BATCH_FILE_S3_URL="s3://my-bucket/my-script"
{name} script-from-s3 [ <script arguments> ]

  - or -

export BATCH_FILE_TYPE="zip"
export BATCH_FILE_S3_URL="s3://my-bucket/my-zip"
{name} script-from-zip [ <script arguments> ]
"""


class Exit(Exception):
    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def wanted(environ) -> bool:
    return bool(environ.get("BATCH_FILE_TYPE") or environ.get("BATCH_FILE_S3_URL"))


def program_name(argv0: str) -> str:
    name = os.path.basename(argv0)
    return "batchdeploy.launch" if name in ("__main__.py", "") else name


def usage(name: str, message: str):
    print(f"* {message}\n", flush=True)
    sys.stdout.write(USAGE.format(name=name))
    sys.stdout.flush()
    raise Exit(2)


def error_exit(name: str, message: str):
    print(f"{name} - {message}", file=sys.stderr, flush=True)
    raise Exit(1)


def check(environ, name: str, args: list) -> tuple[str, str]:
    kind, url = environ.get("BATCH_FILE_TYPE", ""), environ.get("BATCH_FILE_S3_URL", "")
    if not kind:
        usage(name, f"BATCH_FILE_TYPE not set, unable to determine type (zip/script) of URL {url}")
    if not url:
        usage(name, "BATCH_FILE_S3_URL not set. No object to download.")
    if url.split(":", 1)[0] != "s3":
        usage(name, "BATCH_FILE_S3_URL must be for an S3 object; expecting URL starting with s3://")
    if kind == "zip" and not args:
        usage(name, "zip format requires at least one argument - the script to run from inside")
    if kind not in ("zip", "script"):
        usage(name, "Unsupported value for BATCH_FILE_TYPE. Expected (zip/script).")
    return kind, url


def _download(client, url: str, path: str) -> bool:
    bucket, _, key = url[5:].partition("/")
    try:
        s3.download(client, bucket, key, path)
        return True
    except Exception:  # noqa: BLE001 - as `aws s3 cp` failing: one message, exit 1
        return False


def run(argv: list, environ=None, argv0: str = "") -> int:
    """Fetches and execs; returns only with the exit code of its own failure."""
    environ = os.environ if environ is None else environ
    name = program_name(argv0 or sys.argv[0])
    script_env = dict(environ)  # the script's environment: without what the S3 client sets for itself
    try:
        kind, url = check(environ, name, argv)
        tmpdir = tempfile.mkdtemp(prefix="tmp.")
        tmpfile = os.path.join(tmpdir, "batch-file-temp")
        try:
            client = s3.make_client(environ)
        except Exception:  # noqa: BLE001
            client = None
        if kind == "script":
            if client is None or not _download(client, url, tmpfile):
                error_exit(name, "Failed to download S3 script.")
            _make_executable(name, tmpfile)
            _exec(name, tmpfile, argv[1:], "Failed to execute script.", script_env)
        if client is None or not _download(client, url, tmpfile):
            error_exit(name, f"Failed to download S3 zip file from {url}")
        _run_zip(name, url, tmpdir, tmpfile, argv, script_env)
    except Exit as done:
        return done.code
    return 1  # pragma: no cover - _exec never returns


def _run_zip(name: str, url: str, tmpdir: str, tmpfile: str, argv: list, env: dict) -> None:
    try:
        os.chdir(tmpdir)
        with zipfile.ZipFile(tmpfile) as archive:
            archive.extractall(tmpdir)  # zipfile drops absolute and '..' parts of member names
    except (OSError, zipfile.BadZipFile, ValueError):
        error_exit(name, "Failed to unpack zip file.")
    script = f"./{argv[0]}"
    if not os.access(script, os.R_OK):
        error_exit(name, f"Did not find specified script '{script}' in zip from {url}")
    _make_executable(name, script)
    _exec(name, script, argv[1:], " Failed to execute script.", env)


def _make_executable(name: str, path: str) -> None:
    try:
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    except OSError:
        error_exit(name, "Failed to chmod script.")


def _exec(name: str, path: str, args: list, failure: str, env: dict) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(path, [path, *args], env)
    except OSError as exc:
        if exc.errno == errno.ENOEXEC:  # no #! line: run it with sh, as a shell's exec does
            try:
                os.execve("/bin/sh", ["/bin/sh", path, *args], env)
            except OSError:
                pass
    error_exit(name, failure)
