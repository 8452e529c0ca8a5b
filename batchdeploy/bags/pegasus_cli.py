"""pegasus-aws-batch's command line, accepted as pegasus accepts it, checked as pegasus does not.

Read from pegasus's `client/PegasusAWSBatch.java` (pegasus-isi/pegasus main, 2026-06-22, d3ffe6042):
joptsimple options `-a/--account`, `-C/--conf`, `--ce/--compute-environment`, `-c/--create`,
`-d/--delete`, `-f/--files`, `-j/--job-definition`, `-m/--merge-logs`, `-p/--prefix`, `-q/--job-queue`,
`-r/--region`, `-s/--s3`, `-l/--log-file`, `-L/--log-level`, `-h/--help`; every other word is a job
submit file. What joptsimple takes and is kept here: `--opt value`, `--opt=value`, `-pVALUE`, short
flags clustered (`-cd`), a unique abbreviation of a long option (`--merge` for `--merge-logs`), options
and submit files in any order, `--` ending the options.

Where pegasus is lenient or wrong, a usage error here instead (one line, exit 2):
- `-L` goes through log4j's `Level.toLevel`, which turns any word it does not know into DEBUG; here the
  eight log4j level names (any case) are taken and anything else is refused, so `-L warning` shows.
- a value option given twice: joptsimple's `valueOf` throws when the value is read, and pegasus exits 3.
- `-c` and `-d` together: pegasus silently only deletes. `-d` with submit files: pegasus deletes and
  ignores the files. Both are refused, as `-c` with submit files already is in pegasus.
- an empty value (`-r ""`), which pegasus passes on to AWS.
- single-dash long options (`-ce`, `-log-level` as the manual once wrote it) are refused with a
  message saying `--ce`, rather than being read as clustered short flags.
`-p` is required by joptsimple on the command line; here it may come from the property
`pegasus.aws.batch.prefix` too (pegasus reads that key, but joptsimple refuses first), see properties.py.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from batchdeploy.errors import UsageError

PROG = "pegasus-aws-batch"
# log4j 2's Level names, which Level.toLevel matches in any case; pegasus documents the middle five.
LOG_LEVELS = ("OFF", "FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE", "ALL")
DEFAULT_LOG_LEVEL = "INFO"  # pegasus's root logger and its default when -L is absent
# The same levels for Python's logging (which has no TRACE: 5, below DEBUG; OFF above CRITICAL).
PYTHON_LEVELS = {"OFF": 100, "FATAL": 50, "ERROR": 40, "WARN": 30, "INFO": 20, "DEBUG": 10, "TRACE": 5, "ALL": 1}

# (flags, dest, metavar, help); None as metavar for a flag without a value.
OPTIONS = (
    (("-C", "--conf"), "conf", "PROPSFILE", "the properties file to use"),
    (("-L", "--log-level"), "log_level", "LEVEL", "error, warn, info, debug or trace"),
    (("-l", "--log-file"), "log_file", "LOGFILE", "log to LOGFILE.000 (the first of .000-.999 free)"),
    (("-m", "--merge-logs"), "merge_logs", "PREFIX", "merge every task's stdout and stderr into PREFIX.out, .err"),
    (("-a", "--account"), "account", "ACCOUNT", "the AWS account id (pegasus.aws.account)"),
    (("-r", "--region"), "region", "REGION", "the AWS region (pegasus.aws.region)"),
    (("-c", "--create"), "create", None, "only create the entities given by -j, --ce, -q, -s"),
    (("-d", "--delete"), "delete", None, "only delete the entities given by -j, --ce, -q, -s"),
    (("-p", "--prefix"), "prefix", "PREFIX", "names the entities created: PREFIX-job-definition, ..."),
    (("-j", "--job-definition"), "job_definition", "JSON|ARN|NAME", "the job definition (a file is registered)"),
    (("--ce", "--compute-environment"), "compute_environment", "JSON|ARN|NAME",
     "the compute environment (a file is created)"),
    (("-q", "--job-queue"), "job_queue", "JSON|ARN|NAME", "the job queue (a file is created)"),
    (("-s", "--s3"), "s3", "S3URL", "the bucket (and key prefix) for files; default PREFIX-bucket, created"),
    (("-f", "--files"), "files", "FILE[,FILE...]", "files copied to the bucket before any task starts"),
)


@dataclass(frozen=True)
class PegasusOptions:
    """The command line as given: values not yet merged with the properties (properties.settings does)."""

    submit_files: tuple[str, ...] = ()
    help: bool = False
    create: bool = False
    delete: bool = False
    conf: str | None = None
    log_level: str = DEFAULT_LOG_LEVEL  # a log4j level name, upper case
    log_file: str | None = None
    merge_logs: str | None = None
    account: str | None = None
    region: str | None = None
    prefix: str | None = None
    job_definition: str | None = None
    compute_environment: str | None = None
    job_queue: str | None = None
    s3: str | None = None
    files: tuple[str, ...] = ()

    @property
    def mode(self) -> str:
        """help, create, delete or run."""
        return "help" if self.help else "create" if self.create else "delete" if self.delete else "run"


class _Once(argparse.Action):
    """A value option: given at most once, never empty."""

    def __call__(self, parser, namespace, value, option_string=None):
        if getattr(namespace, self.dest) is not None:
            raise UsageError(f"{self.metavar_flag} given twice", hint=f"give it once; see `{PROG} --help`")
        if value == "":
            raise UsageError(f"{self.metavar_flag} needs a value", hint=f"see `{PROG} --help`")
        setattr(namespace, self.dest, value)

    @property
    def metavar_flag(self) -> str:
        return "/".join(self.option_strings)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(message, hint=f"see `{PROG} --help`")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, add_help=False, allow_abbrev=True,
                     description="Run a bag of tasks on AWS Batch, the pegasus-aws-batch way.")
    parser.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    for flags, dest, metavar, text in OPTIONS:
        if metavar is None:
            parser.add_argument(*flags, dest=dest, action="store_true", help=text)
        else:
            parser.add_argument(*flags, dest=dest, action=_Once, metavar=metavar, default=None, help=text)
    parser.add_argument("submit_files", nargs="*", metavar="SUBMIT_FILE", help="job submit files (JSON)")
    return parser


def help_text() -> str:
    return _parser().format_help()


def _log_level(value: str | None) -> str:
    if value is None:
        return DEFAULT_LOG_LEVEL
    if value.upper() not in LOG_LEVELS:
        raise UsageError(f"-L/--log-level {value!r} is not a log level",
                         hint="use one of error, warn, info, debug, trace (or off, fatal, all)")
    return value.upper()


def _files(value: str | None) -> tuple[str, ...]:
    """`-f a,b`: Java's split(",") keeps empty words between commas (pegasus then fails on them); here
    they are dropped, as are the spaces around a name."""
    return tuple(w.strip() for w in (value or "").split(",") if w.strip())


def _check(opts: PegasusOptions) -> None:
    if opts.create and opts.delete:
        raise UsageError("-c/--create and -d/--delete cannot be given together", hint="run one, then the other")
    if opts.submit_files and (opts.create or opts.delete):
        flag = "-c/--create" if opts.create else "-d/--delete"
        raise UsageError(f"{flag} cannot be given with job submit files ({opts.submit_files[0]})",
                         hint=f"{flag} runs no jobs; drop it, or drop the submit files")
    if not opts.submit_files and not (opts.create or opts.delete):
        raise UsageError("specify the job submit file", hint="or -c/--create, -d/--delete to only set up or tear down")


def _single_dash_long(words: list[str]) -> None:
    """`-ce`, `-log-level`: a long option written with one dash would otherwise be read as short
    flags clustered (`-c` then `e`), with a message that misleads."""
    longs = {f[2:] for flags, *_ in OPTIONS for f in flags if f.startswith("--")} | {"help"}
    for word in words:
        if word[:1] == "-" and word[1:2] != "-" and word[1:] in longs:
            raise UsageError(f"{word}: a long option takes two dashes", hint=f"write --{word[1:]}")


def parse(argv: list[str]) -> PegasusOptions:
    """pegasus-aws-batch's argv (without the program name) -> PegasusOptions, or a UsageError (exit 2)."""
    argv = list(argv)
    # `--` ends the options; argparse's intermixed parsing mishandles it, so it is split off here.
    head, rest = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    _single_dash_long(head)
    ns = _parser().parse_intermixed_args(head)
    ns.submit_files = list(ns.submit_files) + rest
    if ns.help:
        return PegasusOptions(help=True)
    fields = {k: v for k, v in vars(ns).items() if k not in ("submit_files", "log_level", "files")}
    opts = PegasusOptions(submit_files=tuple(ns.submit_files), log_level=_log_level(ns.log_level),
                          files=_files(ns.files), **fields)
    _check(opts)
    return opts
