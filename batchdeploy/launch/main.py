"""The launcher's order of work (see the package docstring): arguments, task, manifest, bundle,
inputs, command, outputs, record, exit code.

    python3 -m batchdeploy.launch [--manifest s3://B/K] [--records s3://B/P/] [--task N] [-- COMMAND ...]

`--manifest` defaults to `BATCHDEPLOY_MANIFEST`, `--records` to `BATCHDEPLOY_RECORDS`, then to the
manifest's `records`. Words after `--` are the command of a manifest whose tasks and defaults have
none. With no manifest named and `BATCH_FILE_TYPE`/`BATCH_FILE_S3_URL` set, it is fetch-and-run.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field

from batchdeploy.launch import (
    EXIT_MANIFEST,
    EXIT_RECORD,
    EXIT_USAGE,
    fetch_and_run,
    function,
    process,
    record,
    s3,
    spec,
)
from batchdeploy.launch.code import fetch_bundle, unpack
from batchdeploy.launch.spec import LaunchError
from batchdeploy.launch.transfer import OutputsMissing, copy_in, copy_out, make_output_folders

PREFIX = "batchdeploy-launch"


@dataclass
class Options:
    manifest: str | None = None
    records: str | None = None
    task: str | None = None
    command: list = field(default_factory=list)


def parse_args(argv: list, environ) -> Options:
    opts = Options()
    words = list(argv)
    while words:
        word = words.pop(0)
        if word == "--":
            opts.command = words
            break
        name, eq, value = word.partition("=")
        if name not in ("--manifest", "--records", "--task"):
            raise LaunchError(EXIT_USAGE, f"unknown argument {word!r} (expected --manifest, --records, --task, --)")
        if not eq:
            if not words:
                raise LaunchError(EXIT_USAGE, f"{name} needs a value")
            value = words.pop(0)
        setattr(opts, name[2:], value)
    opts.manifest = opts.manifest or environ.get("BATCHDEPLOY_MANIFEST") or None
    opts.records = opts.records or environ.get("BATCHDEPLOY_RECORDS") or None
    if not opts.manifest:
        raise LaunchError(EXIT_USAGE, "no manifest: pass --manifest s3://BUCKET/KEY or set BATCHDEPLOY_MANIFEST")
    return opts


def names_manifest(argv: list, environ) -> bool:
    return bool(environ.get("BATCHDEPLOY_MANIFEST")) or any(w.split("=", 1)[0] == "--manifest" for w in argv)


def say(message: str) -> None:
    sys.stdout.flush()
    print(f"{PREFIX}: {message}", file=sys.stderr, flush=True)


class Launch:
    def __init__(self, opts: Options, environ: dict, ctx: dict):
        self.opts, self.environ, self.ctx = opts, environ, ctx
        self.client = None
        self.bundle = None
        self.records = opts.records
        self.scratch = None
        self.copied = {"inputs": [], "outputs": [], "outputs_missing": []}

    def load_task(self) -> spec.Task:
        url = self.opts.manifest
        bucket, key = spec.parse_s3_url(url, "manifest")
        self.ctx["task"] = spec.task_index(self.environ, self.opts.task)
        self.client = s3.make_client(self.environ)
        self.mark("client")
        with s3.s3_errors(f"read the manifest {url}", EXIT_MANIFEST, "no such object"):
            data = s3.get_bytes(self.client, bucket, key)
        got, promised = spec.sha256_hex(data), spec.manifest_sha_from_key(key)
        if promised and got != promised:
            raise LaunchError(EXIT_MANIFEST, f"manifest {url} has sha256 {got}, not the {promised} its name promises")
        doc = spec.parse_manifest(data, url, self.opts.command)
        self.records = self.records or doc.get("records")
        self.ctx["manifest"] = {"url": url, "sha256": got}
        task = spec.select_task(doc, self.ctx["task"], url)
        self.ctx["task_id"] = task.id
        self.mark("manifest")
        self.ctx["command"] = task.command
        self.bundle = doc.get("bundle")
        return task

    def prepare(self, task: spec.Task) -> str:
        """The folder the command runs in, with the bundle unpacked and the inputs copied in."""
        workdir = os.getcwd()
        if self.bundle:
            self.scratch = tempfile.mkdtemp(prefix="batchdeploy-")
            archive, size = fetch_bundle(self.client, self.bundle, self.scratch)
            self.ctx["bundle"] = {"url": self.bundle["url"], "sha256": self.bundle["sha256"], "bytes": size}
            workdir = os.path.join(self.scratch, "code")
            unpack(archive, workdir)
            os.unlink(archive)
            self.mark("bundle")
        self.copied["inputs"] = copy_in(self.client, task.inputs, workdir)
        make_output_folders(task.outputs, workdir)
        self.mark("inputs")
        return workdir

    def mark(self, phase: str) -> None:
        """Seconds from the process's start to the end of `phase`, for the record's `phases_s`."""
        self.ctx.setdefault("phases", {})[phase] = round(time.time() - self.ctx["started"], 3)

    def child_env(self, task: spec.Task, workdir: str) -> dict:
        env = {**self.ctx["base_env"], **task.environment}
        env.update(
            BATCHDEPLOY_TASK_INDEX=str(task.index),
            BATCHDEPLOY_TASK_ID=str(task.id),
            BATCHDEPLOY_PARAMETERS=json.dumps(task.parameters, sort_keys=True),
            BATCHDEPLOY_WORKDIR=workdir,
        )
        return env

    def copy_outputs(self, task: spec.Task, workdir: str, finished) -> LaunchError | None:
        try:
            copied, missing = copy_out(self.client, task.outputs, workdir, required=finished.exit_code == 0)
        except OutputsMissing as exc:
            copied, missing, error = exc.copied, exc.missing, exc
        except LaunchError as exc:
            return exc
        else:
            error = None
        self.copied["outputs"], self.copied["outputs_missing"] = copied, missing
        return error

    def write_record(self, finished, error: LaunchError | None) -> LaunchError | None:
        if not self.records or self.client is None:
            if self.client is not None and error is None:  # a failure already said its one line
                say("no records location (--records, BATCHDEPLOY_RECORDS or the manifest's): no task record written")
            return None
        try:
            bucket, prefix = spec.parse_s3_url(self.records, "records", EXIT_RECORD)
            key = record.record_key(prefix.strip("/"), record.task_id(self.ctx), self.ctx["attempt"])
            doc = record.build_record(self.ctx, finished, error, self.copied, ended=time.time())
            with s3.s3_errors(f"write the task record s3://{bucket}/{key}", EXIT_RECORD, "no such bucket"):
                s3.put_bytes(self.client, bucket, key, record.encode(doc))
        except LaunchError as exc:
            return LaunchError(EXIT_RECORD, exc.message)
        return None

    def cleanup(self) -> None:
        if self.scratch and not self.environ.get("KEEP_BATCH_FILE_CONTENTS"):
            shutil.rmtree(self.scratch, ignore_errors=True)


def exit_code(finished, error: LaunchError | None) -> int:
    if finished is not None and finished.exit_code != 0:
        return finished.exit_code
    return error.code if error is not None else 0


def launch(opts: Options, environ: dict, ctx: dict) -> int:
    job = Launch(opts, environ, ctx)
    finished, error, call = None, None, None
    try:
        task = job.load_task()
        if task.call is not None:  # function mode (batchdeploy.launch.function)
            call = function.Call(task.call, job.client, ctx["secrets"])
            ctx["call"] = call.record_fields()
        workdir = job.prepare(task)
        after = spec.TASK_STDERR_MARKER if task.stderr == "after-marker" else None
        if call is not None:
            finished = call.run(job.child_env(task, workdir), workdir, stderr_after=after)
        else:
            finished = process.run(task.command, job.child_env(task, workdir), workdir, stderr_after=after)
        error = job.copy_outputs(task, workdir, finished)
    except LaunchError as exc:
        error = exc
    finally:
        if call is not None:
            error = call.verdict(finished, error)
            failed_result = call.store(finished, error, exit_code(finished, error))
            error = error or failed_result
            call.cleanup()
        job.cleanup()
    if error is not None:
        say(error.message)
    failed_record = job.write_record(finished, error)
    if failed_record is not None:
        say(failed_record.message)
    code = exit_code(finished, error)
    return code if code != 0 or failed_record is None else failed_record.code


def main(argv: list | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    environ = os.environ
    if not names_manifest(argv, environ) and fetch_and_run.wanted(environ):
        return fetch_and_run.run(argv, environ)
    ctx = {
        "started": record.process_started(),
        "task": 0,
        "attempt": spec.attempt_number(environ),
        "job_id": environ.get("AWS_BATCH_JOB_ID"),
        "secrets": record.secret_values(environ),
        "base_env": dict(environ),  # the command's environment, before the launcher's S3 settings
    }
    if argv[:1] in (["-h"], ["--help"]):
        import batchdeploy.launch as package

        print(__doc__.strip() + "\n\n" + package.__doc__.strip())
        return 0
    try:
        opts = parse_args(argv, environ)
    except LaunchError as exc:
        say(exc.message)
        return exc.code
    return launch(opts, environ, ctx)
