"""`pegasus-aws-batch`: pegasus's command line, properties, resources, files, logs and exit codes, on
batchdeploy's executor. A pegasus user (or Pegasus WMS) switches by changing the program's name.

The order keeps every refusal before any change: the command line, the properties, the submit files
(every problem at once), the settings and the resource plan, then each task's SubmitJob built and
checked; only then are resources created, files uploaded, tasks submitted. Whatever happens after the
first change, the resources this run created are deleted before it exits (pegasus's run-scoped
resources; what existed is kept). Exit codes are pegasus's: 0 every task succeeded, 1 a task failed,
2 a usage, configuration, AWS or internal error (it wins over a failed task), 130 interrupted.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from batchdeploy import errors
from batchdeploy.bags import arrays, names, pegasus_cli, properties, submitfile
from batchdeploy.bags import logs as baglogs
from batchdeploy.bags.execute import BagRunner, Outcome, Placed, launchers_for, new_token, request_for
from batchdeploy.bags.files import upload
from batchdeploy.bags.resources import Resources
from batchdeploy.secrets import is_secret, redact, register_secret
from batchdeploy.ui import one_line


@dataclass
class World:
    """What a run reads from outside: injected so tests never touch the real ones."""

    cwd: Path
    environ: dict
    home: Path | None
    sleep: object = time.sleep
    clock: object = time.monotonic
    now: object = lambda: datetime.now().astimezone()  # noqa: E731 - pegasus writes local times


class Log:
    """pegasus's client log: stderr, or `-l F` -> the first free F.000 .. F.999; INFO unless -L says."""

    def __init__(self, opts: pegasus_cli.PegasusOptions, cwd: Path):
        self.quiet = opts.log_level in ("ERROR", "FATAL", "OFF")
        self.path = baglogs.rotated_log_path(cwd / opts.log_file) if opts.log_file else None

    def __call__(self, text: str) -> None:
        if self.quiet:
            return
        line = one_line(redact(f"{datetime.now():%Y-%m-%d %H:%M:%S.%f}"[:-3] + f" INFO  [pegasus-aws-batch] {text}"))
        if self.path is None:
            print(line, file=sys.stderr, flush=True)
        else:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")


def _aws(s: properties.Settings, environ: dict):
    from batchdeploy.aws import Aws, AwsSettings

    return Aws(AwsSettings(region=s.region, profile=environ.get("AWS_PROFILE"),
                           endpoint_url=environ.get("AWS_ENDPOINT_URL"),
                           access_key_id=environ.get("AWS_ACCESS_KEY_ID"),
                           secret_access_key=environ.get("AWS_SECRET_ACCESS_KEY"),
                           session_token=environ.get("AWS_SESSION_TOKEN")))


def placed_tasks(bag: submitfile.Bag, s: properties.Settings, plan: names.Plan, used: dict[str, str]) -> list[Placed]:
    """Each task's SubmitJob: its own jobDefinition/jobQueue when it names them (pegasus overrides them
    with -j/-q), else the run's; PEGASUS_AWS_BATCH_BUCKET, PEGASUS_JOB_NAME and TRANSFER_INPUT_FILES set."""
    refs = {r.ref.kind: r.ref for r in plan.setup}
    default = {k: used.get(k) or (refs[k].arn or refs[k].name if k in refs else None)
               for k in (names.JOB_DEFINITION, names.JOB_QUEUE)}
    token = new_token()
    out = []
    for n, task in enumerate(bag.tasks, 1):
        env = names.task_environment(task.environment, task.name, plan.s3, list(s.files))
        jd = task.job_definition or default[names.JOB_DEFINITION]
        queue = task.job_queue or default[names.JOB_QUEUE]
        if not jd or not queue:
            raise errors.ConfigError(f"{task.where}: no job " + ("definition" if not jd else "queue"),
                                     hint="give -j/-q (or the properties), or jobDefinition/jobQueue in the task")
        out.append(Placed(task, request_for(task, env, jd, queue, f"{token}-t{n}")))
    return out


def run(argv: list[str], world: World, out=sys.stdout) -> int:
    for key, value in world.environ.items():  # never a credential in a log line or an error
        if is_secret(key):
            register_secret(value)
    opts = pegasus_cli.parse(argv)
    if opts.mode == "help":
        print(pegasus_cli.help_text(), file=out)
        return baglogs.SUCCEEDED
    cwd = world.cwd
    props = properties.load(opts.conf, world.home, cwd, world.environ)
    bag = None
    common = [Path(f) if Path(f).is_absolute() else cwd / f for f in opts.files]
    if opts.mode == "run":
        bag = submitfile.load([cwd / f for f in opts.submit_files], cwd, common)
    placed_all = bool(bag) and all(t.job_definition and t.job_queue for t in bag.tasks)
    s = properties.settings(opts, props, every_task_placed=placed_all)
    plan = names.plan(s, cwd)
    log = Log(opts, cwd)
    for warning in bag.warnings if bag else []:
        log(f"warning: {warning}")
    if bag is not None:
        placed_tasks(bag, s, plan, {})  # every request checked before anything changes
    aws = _aws(s, world.environ)
    res = Resources(aws, plan, region=s.region, sleep=world.sleep, clock=world.clock, note=log)
    if plan.mode == "delete":
        res.teardown()
        return baglogs.SUCCEEDED
    try:
        res.setup()
        code = baglogs.SUCCEEDED if plan.mode == "create" else _run_bag(aws, bag, s, plan, res, world, log)
    except BaseException:
        if plan.mode == "run":  # what the run created goes even so; the first error is the one reported
            with contextlib.suppress(errors.BatchdeployError):
                res.teardown()  # each failure of its own is logged
        else:  # -c that failed half-way: nothing it made is left behind
            res.undo()
        raise
    if plan.mode == "run":
        res.teardown()
    return code


def _run_bag(aws, bag, s, plan, res, world: World, log) -> int:
    cwd = world.cwd
    files = {**bag.uploads(), **{Path(f).name: (Path(f) if Path(f).is_absolute() else cwd / f) for f in s.files}}
    sent = upload(aws.client("s3"), plan.s3, files)
    if files:
        log(f"files at {plan.s3.url}: {len(sent.uploaded)} uploaded, {len(sent.unchanged)} unchanged")
    placed = placed_tasks(bag, s, plan, res.used)
    from_file = [step.ref.spec for step in plan.setup if step.ref.kind == names.JOB_DEFINITION and step.ref.spec]
    created = {res.used[names.JOB_DEFINITION]: from_file[0]} if from_file else {}  # registered from a file: known
    launchers = launchers_for(aws.client("batch"), {p.request["jobDefinition"] for p in placed}, created, {})
    notes: list[str] = []
    units = arrays.plan(placed, launchers, bucket=plan.s3.bucket, key_prefix=plan.s3.key_prefix,
                        token=new_token(), notes=notes)
    for note in notes:
        log(note)
    runner = BagRunner(aws, sleep=world.sleep, clock=world.clock, now=world.now, note=log, logs_dir=cwd,
                       jobstate=baglogs.jobstate_path(cwd, s.prefix))
    outcome = runner.run(placed, units)
    report(outcome, log)
    if s.merge_logs:
        summary = baglogs.cluster_summary(outcome.total, outcome.succeeded, outcome.failed, outcome.start, outcome.end)
        baglogs.merge_files([p.task.name for p in placed], cwd, s.merge_logs, summary)
    return outcome.exit_code


def report(outcome: Outcome, log) -> None:
    for name, why in outcome.failures:
        log(f"task {name} failed: {why}")
    log(baglogs.cluster_summary_log_line(outcome.total, outcome.succeeded, outcome.failed))


def main(argv: list[str] | None = None, world: World | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if world is None:
        environ = dict(os.environ)
        world = World(cwd=Path.cwd(), environ=environ, home=Path(environ["HOME"]) if environ.get("HOME") else None)

    def fail(line: str, code: int) -> int:
        print(one_line(redact(f"{pegasus_cli.PROG}: error: {line}")), file=sys.stderr, flush=True)
        return code

    from batchdeploy.interrupts import terminate_as_interrupt

    restore = terminate_as_interrupt()  # SIGTERM too deletes what the run created, then exits 130
    try:
        return run(argv, world)
    except errors.BatchdeployError as exc:
        return fail(exc.line(), baglogs.NON_TASK_FAILURE)
    except KeyboardInterrupt:
        return fail("interrupted; the resources this run created were deleted", errors.INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - the edge: AWS errors become one line, bugs keep a traceback
        from batchdeploy.aws import convert

        ours = convert(exc, "talk to AWS")
        if ours is None:
            raise
        return fail(ours.line(), baglogs.NON_TASK_FAILURE)
    finally:
        restore()
