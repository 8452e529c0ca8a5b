"""The command layer: every verb's flags, the configuration they resolve, and the error edge.

`batchdeploy VERB ...` is parsed in two steps: global options and the verb, then the verb's own flags
(which may carry the global ones too). Each verb's code is imported only when that verb runs, so `--help`
stays fast. Every failure leaves here as one line on stderr and an exit code from `batchdeploy.errors`.

Where each verb lives (a test checks this table against VERBS):

    verb          deploy.sh         module
    info          -i                batchdeploy.info
    images        -b                batchdeploy.images.verb
    update-jobs   -u                batchdeploy.jobs.register
    run           -r                batchdeploy.pipelines.doors
    status        --status          batchdeploy.pipelines.doors
    logs          --logs            batchdeploy.jobs.commands
    cancel        --cancel          batchdeploy.jobs.commands
    sync-to-s3    --sync-to-s3      batchdeploy.sync.verb
    sync-from-s3  --sync-from-s3    batchdeploy.sync.verb
    results       --results         batchdeploy.sync.results
    all           -a                batchdeploy.cli
    create        --create          batchdeploy.infra.verbs
    delete        --delete          batchdeploy.infra.verbs
    submit        --submit          batchdeploy.bags.verb
    pipeline      --pipeline        batchdeploy.pipelines.verb
    doctor        --doctor          batchdeploy.doctor.verb
    report        --report          batchdeploy.report.verb
    init          --init            batchdeploy.init.verb

Below the verbs: aws/ (every AWS client and fact), jobdef/ (the job definition model -u and --create share),
config, secrets, state, polling, ui, userprog (user jq programs under limits), engine; local/ the local stack.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from batchdeploy import __version__, errors

if TYPE_CHECKING:  # imported for their names only: `--help` must not pay for boto3 or dotenv
    from batchdeploy.aws import Aws
    from batchdeploy.config import Config
    from batchdeploy.state import State
    from batchdeploy.ui import Output

PROG = "batchdeploy"

@dataclass(frozen=True)
class Verb:
    """One verb: where its code lives, its help line, and its doors (deploy.sh flags, make target)."""

    target: str  # module:function, imported only when the verb runs
    help: str
    flags: tuple[str, ...]  # ./deploy.sh's spellings
    make: str | None = None  # the make target that runs it, if any


# The one list of verbs. deploy.sh's usage and `case`, and `make help`, are checked against it by
# tests/unit/test_house_rules.py, so a verb added here and forgotten there fails the suite.
VERBS: dict[str, Verb] = {
    "info": Verb("batchdeploy.info:main", "show the resolved configuration, identity and tool versions",
                 ("-i", "--info"), "info"),
    "images": Verb("batchdeploy.images.verb:main", "build and push the images (content-addressed, skips what exists)",
                   ("-b", "--update-images"), "images"),
    "update-jobs": Verb("batchdeploy.jobs.register:main", "register job definitions that changed; --prune old revisions",
                        ("-u", "--update-jobs"), "update-jobs"),
    # run and status go through pipelines.doors (pipelines.verb for a pipeline), then sweeps.verb, then batchdeploy.jobs (a pipeline is built
    # on sweeps, a sweep on jobs; the lower never imports the higher).
    "run": Verb("batchdeploy.pipelines.doors:run_door", "submit an experiment: NAME [key=val ...] [-- extra args]",
                ("-r", "--run-experiment"), "run"),
    "status": Verb("batchdeploy.pipelines.doors:status_door", "recent runs (every clone's, from S3) as a table, or one run's tasks",
                   ("--status",), "status"),
    "logs": Verb("batchdeploy.jobs.commands:logs", "a job's log lines (--follow to stream)", ("--logs",), "logs"),
    "cancel": Verb("batchdeploy.jobs.commands:cancel", "cancel or terminate a job", ("--cancel",), "cancel"),
    "sync-to-s3": Verb("batchdeploy.sync.verb:to_s3", "upload EXPERIMENTS_DIR to s3://S3_BUCKET/S3_PREFIX/ exactly",
                       ("--sync-to-s3", "--sync_to_s3"), "sync-to-s3"),
    "sync-from-s3": Verb("batchdeploy.sync.verb:from_s3", "download s3://S3_BUCKET/S3_PREFIX/ to EXPERIMENTS_DIR exactly",
                         ("--sync-from-s3", "--sync_from_s3"), "sync-from-s3"),
    "results": Verb("batchdeploy.sync.results:main", "download a run's outputs into RESULTS_DIR/RUN_ID (none: every result)",
                    ("--results",), "results"),
    "all": Verb("batchdeploy.cli:run_all", "images, then update-jobs, then sync-to-s3", ("-a", "--all")),
    "create": Verb("batchdeploy.infra.verbs:create", "create compute environment, queue, job definition, bucket",
                   ("--create",), "create"),
    "delete": Verb("batchdeploy.infra.verbs:delete", "tear down what --create made (this project's tags only)",
                   ("--delete",), "delete"),
    "submit": Verb("batchdeploy.bags.verb:main", "pegasus job submit files: every task run, followed, its .out/.err written",
                   ("--submit",), "submit"),
    "pipeline": Verb("batchdeploy.pipelines.verb:main", "pipelines: run FILE, rerun RUN_ID", ("--pipeline",), "pipeline"),
    "doctor": Verb("batchdeploy.doctor.verb:main", "why a job (or the queue) cannot run, and the fix", ("--doctor",), "doctor"),
    "report": Verb("batchdeploy.report.verb:main", "an HTML report (and a table) of runs: RUN_ID [RUN_ID ...]",
                   ("--report",), "report"),
    "init": Verb("batchdeploy.init.verb:main", "write a new project's files: init [DIR] [--local] [--name N]", ("--init",)),
}

# Flags that set configuration keys. Precedence itself is decided once, in config.load.
FLAG_KEYS = {
    "region": "AWS_REGION", "profile": "AWS_PROFILE", "endpoint_url": "AWS_ENDPOINT_URL", "queue": "AWS_JOB_QUEUE",
}

EXIT_CODES = """exit codes:
  0    success
  1    an operation failed (AWS refused, a build or a transfer failed)
  2    usage or configuration error
  3    what was submitted failed (-r --wait: the job, or tasks of a sweep; submit: a task)
  4    a job can never run as things stand (doctor; -r preflight; --wait once the doctor looked)
  130  interrupted (Ctrl-C or SIGTERM)"""


@dataclass
class Context:
    """What every verb receives: configuration, output, state, AWS clients made on first use, time.
    A verb reads its own flags from `args` once, into a typed options object of its package."""

    cfg: Config
    out: Output
    args: argparse.Namespace
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    _aws: Aws | None = field(default=None, repr=False)
    _state: State | None = field(default=None, repr=False)

    @property
    def aws(self) -> Aws:
        if self._aws is None:
            from batchdeploy.aws import Aws, AwsSettings

            self.cfg.check_known()
            self._aws = Aws(AwsSettings.from_config(self.cfg))
        return self._aws

    @property
    def state(self) -> State:
        if self._state is None:
            from batchdeploy.state import State

            self._state = State(self.cfg.state_dir(), warn=self.out.warn)
        return self._state


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the flag and where the usage is (exit 2)."""

    def error(self, message: str):
        from batchdeploy.usage import explain

        verb = self.prog[len(PROG) :].strip()
        message = explain(verb, message)
        deploy_sh = os.environ.get("BATCHDEPLOY_FRONT_DOOR") == "deploy.sh" and verb in VERBS and VERBS[verb].flags
        door = f"./deploy.sh {VERBS[verb].flags[0]}" if deploy_sh else self.prog
        raise errors.UsageError(f"{verb}: {message}" if verb else message, hint=f"see `{door} --help`")


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    d = {"default": argparse.SUPPRESS} if suppress else {}
    g = parser.add_argument_group("global options")
    g.add_argument("--env-file", metavar="PATH", help="configuration file (default: ./.aws_env)", **d)
    g.add_argument("--region", metavar="REGION", help="AWS region (overrides AWS_REGION)", **d)
    g.add_argument("--profile", metavar="NAME", help="AWS profile (overrides AWS_PROFILE)", **d)
    g.add_argument("--endpoint-url", metavar="URL", help="AWS endpoint (overrides AWS_ENDPOINT_URL)", **d)
    g.add_argument("--output", choices=("text", "json"), help="output format (default: text)", **d)
    g.add_argument("-q", "--quiet", action="store_true", help="print results only, no progress", **d)


def _top_parser() -> argparse.ArgumentParser:
    lines = [f"  {name:<13} {verb.help}" for name, verb in VERBS.items()]
    p = _Parser(
        prog=PROG,
        usage=f"{PROG} [global options] VERB [options]",
        description="Run experiments on AWS Batch.",
        epilog="verbs:\n" + "\n".join(lines) + "\n\n" + EXIT_CODES + f"\n\nRun `{PROG} VERB --help` for a verb's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _global_options(p, suppress=False)
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    p.add_argument("verb", choices=list(VERBS), metavar="VERB", help=argparse.SUPPRESS)
    p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return p


def _images_flags(add, verb: str) -> None:
    add("--force", action="store_true", help="rebuild without cache and push it as c-HASH-fTIME (content tags never move)")
    add("--image", action="append", metavar="NAME", help="only this image (repeatable)")


def _update_jobs_flags(add, verb: str) -> None:
    add("--dry-run", action="store_true", help="show what would change, register nothing")
    add("--prune", type=int, metavar="KEEP", help="deregister ACTIVE revisions older than the newest KEEP")


def _run_flags(add, verb: str) -> None:
    add("name", nargs="?", metavar="NAME", help="the job's name (with --rerun-failed: the run's, by default)")
    add("params", nargs="*", metavar="key=val", help="job parameters (also key=val,key2=val2)")
    add("--job-definition", metavar="NAME[:REV]", help="job definition (default: the one -u recorded)")
    add("--queue", metavar="QUEUE", help="job queue (overrides AWS_JOB_QUEUE)")
    add("--vcpus", metavar="N", help="vCPUs for this run")
    add("--memory", metavar="MiB", help="memory for this run, MiB")
    add("--gpus", metavar="N", help="GPUs for this run")
    add("--timeout", type=int, metavar="SECONDS", help="attempt timeout (at least 60)")
    add("--retries", type=int, metavar="N", help="attempts (1-10)")
    add("--tags", action="append", metavar="k=v", default=[], help="job tags (repeatable; also k=v,k2=v2)")
    add("--depends-on", action="append", metavar="JOB_ID", default=[], help="job dependency (repeatable, <= 20)")
    add("--array-size", type=int, metavar="N", help="submit an array job of N children (2-10000)")
    add("--dry-run", action="store_true", help="print the SubmitJob request (secrets masked), submit nothing")
    add("--wait", action="store_true", help="follow the job to its end: states, live logs, exit code")
    add("--no-credentials", action="store_true", help="inject no credentials (right when the definition has a jobRoleArn)")
    add("--cancel-on-interrupt", action="store_true", help="with --wait: Ctrl-C terminates the job")
    add("--code", nargs="?", const="", metavar="DIR",
        help="run DIR's code (default: the project folder; CODE_DIR sets it) through the launcher, no rebuild")
    add("--no-code", action="store_true", help="run the image's code even when CODE_DIR is set")
    sweep = add  # a sweep: many tasks as one array job (batchdeploy.sweeps)
    sweep("--tasks", nargs="+", metavar=("FILE", "RANGE"),
          help="a dsub tasks file (TSV), one task per row; RANGE (m, m-, m-n) picks rows, also as --range")
    sweep("--range", metavar="m-n", help="the tasks file's rows to run (1-based, as dsub's)")
    sweep("--grid", nargs="+", action="extend", metavar="key=v1,v2",
          help="one task per combination of the values (the cartesian product)")
    sweep("--rerun-failed", metavar="RUN_ID", help="a new run of the run's failed and never-started tasks only")
    add("--pipeline", metavar="FILE", help="a pipeline file: every step submitted at once with dependsOn")
    add("--logs", nargs="?", const="", metavar="STEP,...",
        help="with --pipeline --wait: the steps' log lines as they arrive (every step, or those named)")
    importlib.import_module("batchdeploy.doctor.flags").add_run_flags(add)


def _logs_flags(add, verb: str) -> None:
    add("job", metavar="JOB_ID", help="the job")
    add("--follow", "-f", action="store_true", help="stream new lines until the job ends")


def _cancel_flags(add, verb: str) -> None:
    add("job", metavar="JOB_ID", help="the job")
    add("--reason", default="cancelled with batchdeploy", help="reason recorded on the job")


def _sync_flags(add, verb: str) -> None:
    add("--local", metavar="DIR", help="local folder (default: EXPERIMENTS_DIR; results: RESULTS_DIR)")
    add("--remote", metavar="S3_URL", help="s3://bucket/prefix (default: s3://S3_BUCKET/S3_PREFIX; results: RESULTS_PREFIX)")
    add("--delete", action="store_true", help="remove what the source no longer has (inside the target only)")
    add("--exclude", action="append", default=[], metavar="PATTERN",
        help="skip matching paths (repeatable; .git, __pycache__ and editor droppings always)")
    add("--dry-run", action="store_true", help="list what would be copied and deleted, change nothing")
    add("--jobs", "-j", type=int, default=16, metavar="N", help="parallel transfers (1-64, default 16)")
    add("--verbose", "-v", action="store_true", help="a line per file copied or deleted (default: one progress bar)")
    if verb == "sync-to-s3":
        add("--yes", "-y", action="store_true",
            help="allow --delete at a bucket's root or outside s3://S3_BUCKET/S3_PREFIX")


def _results_flags(add, verb: str) -> None:
    add("run_id", nargs="?", metavar="RUN_ID", help="the run whose outputs come home (default: every result)")
    _sync_flags(add, verb)


def _submit_flags(add, verb: str) -> None:
    add("submit_files", nargs="+", metavar="FILE", help="pegasus-aws-batch job submit files (JSON)")
    add("--job-definition", metavar="NAME[:REV]|ARN", help="for tasks naming none (default: the one -u recorded)")
    add("--queue", metavar="QUEUE", help="for tasks naming none (overrides AWS_JOB_QUEUE)")
    add("--files", "-f", metavar="FILE[,FILE...]", help="files every task gets (as pegasus's -f)")
    add("--logs-dir", metavar="DIR", help="where <jobName>.out and .err go (default: the current folder)")
    add("--merge-logs", "-m", metavar="PREFIX", help="merge them into PREFIX.out, PREFIX.err (in --logs-dir)")
    importlib.import_module("batchdeploy.doctor.flags").add_run_flags(add)  # --no-preflight, --cancel-unschedulable


# verb -> the function that adds its own flags (verbs with none are absent)
_VERB_FLAGS = {
    "images": _images_flags, "update-jobs": _update_jobs_flags, "run": _run_flags,
    "logs": _logs_flags, "cancel": _cancel_flags, "sync-to-s3": _sync_flags, "sync-from-s3": _sync_flags,
    "create": lambda add, verb: importlib.import_module("batchdeploy.infra.flags").add_flags(add, verb),
    "delete": lambda add, verb: importlib.import_module("batchdeploy.infra.flags").add_flags(add, verb),
    "results": _results_flags, "submit": _submit_flags,
    "status": lambda add, verb: importlib.import_module("batchdeploy.jobs.runlist").add_flags(add, verb),
    "report": lambda add, verb: importlib.import_module("batchdeploy.report.verb").add_flags(add, verb),
    "pipeline": lambda add, verb: importlib.import_module("batchdeploy.pipelines.flags").add_flags(add, verb),
    "doctor": lambda add, verb: importlib.import_module("batchdeploy.doctor.flags").add_flags(add, verb),
    "init": lambda add, verb: importlib.import_module("batchdeploy.init.verb").add_flags(add, verb),
}


def _verb_parser(verb: str) -> argparse.ArgumentParser:
    p = _Parser(
        prog=f"{PROG} {verb}",
        description=VERBS[verb].help,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _global_options(p, suppress=True)
    if verb in _VERB_FLAGS:
        _VERB_FLAGS[verb](p.add_argument, verb)
    return p


def parse(argv: list[str]) -> argparse.Namespace:
    # Everything after the first `--` belongs to the job's command (run), never to us.
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1 :]
    top = _top_parser().parse_args(argv)
    parser = _verb_parser(top.verb)
    args = parser.parse_intermixed_args(top.rest) if top.verb == "run" else parser.parse_args(top.rest)
    for key, value in vars(top).items():
        if key not in ("rest",) and not hasattr(args, key):
            setattr(args, key, value)
    args.extra = extra
    if extra and top.verb != "run":
        parser.error("arguments after `--` are only for `run`")
    return args


def make_context(args: argparse.Namespace, environ=None) -> Context:
    from batchdeploy import config
    from batchdeploy.secrets import is_secret, register_secret, url_passwords
    from batchdeploy.ui import Output, name_verbs

    name_verbs({flag: name for name, verb in VERBS.items() for flag in verb.flags})  # hints name the door used
    flags = {key: getattr(args, attr, None) for attr, key in FLAG_KEYS.items()}
    cfg = config.load(env_file=args.env_file, environ=environ, flags=flags)
    for key, value in cfg.values.items():
        if is_secret(key):
            register_secret(value)
        for password in url_passwords(value or ""):
            register_secret(password)
    out = Output(quiet=bool(args.quiet), fmt=args.output or "text")
    for warning in cfg.warnings:
        out.warn(warning)
    return Context(cfg=cfg, out=out, args=args)


def dispatch(ctx: Context, verb: str) -> int:
    module_name, _, func = VERBS[verb].target.partition(":")
    return int(getattr(importlib.import_module(module_name), func)(ctx) or 0)


def run_all(ctx: Context) -> int:
    """-a: images, then job definitions (which then pin the new image), then the experiment files."""
    ctx.cfg.check_known()  # a malformed key stops all three before the first step's heading
    for verb in ("images", "update-jobs", "sync-to-s3"):
        if verb == "images" and not _anything_to_build(ctx.cfg):
            ctx.out.note("==> images skipped: no Dockerfile in the IMAGES context folders, nothing for -b to build")
            continue
        ctx.out.note(f"==> {verb}")
        sub = parse([verb])
        for key in ("env_file", "region", "profile", "endpoint_url", "output", "quiet"):
            setattr(sub, key, getattr(ctx.args, key, None))
        ctx.args = sub
        code = dispatch(ctx, verb)
        if code:
            return code
    return errors.OK


def _anything_to_build(cfg) -> bool:
    spec = importlib.import_module("batchdeploy.images.spec")
    return any(s.dockerfile.is_file() for s in spec.parse_images(cfg.get("IMAGES"), cfg.get("PROJECT_NAME"), cfg))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get("BATCHDEPLOY_DEBUG") == "1"
    from batchdeploy.interrupts import terminate_as_interrupt
    from batchdeploy.secrets import redact
    from batchdeploy.ui import as_run, one_line

    def fail(line: str, code: int) -> int:
        print(one_line(as_run(redact(f"{PROG}: error: {line}"))), file=sys.stderr, flush=True)
        return code

    restore = terminate_as_interrupt()
    try:
        args = parse(argv)
        ctx = make_context(args)
        return dispatch(ctx, args.verb)
    except errors.BatchdeployError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        return fail(exc.line(), exc.exit_code)
    except KeyboardInterrupt:
        return fail("interrupted", errors.INTERRUPTED)
    except BrokenPipeError:
        # The reader went away (`| head`); nothing left to say to it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return errors.FAILED
    except Exception as exc:  # noqa: BLE001 - the edge: AWS errors become one line, bugs keep a traceback
        from batchdeploy.aws import convert

        ours = convert(exc, "talk to AWS")
        if ours is None:
            raise
        if debug:
            import traceback

            traceback.print_exc()
        return fail(ours.line(), ours.exit_code)
    finally:
        restore()
