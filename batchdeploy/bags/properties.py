"""pegasus properties (`-C`), and the one place a setting's value is decided: flag > property > error.

Read from pegasus-isi/pegasus main (2026-06-22, d3ffe6042): `PegasusAWSBatch.java` reads the `pegasus.`
subset of `PegasusProperties.getInstance(conf)` with the prefix stripped, then for each setting takes
the command-line value, else the property, else (when required) fails with "Unable to determine value
of pegasus.<key> Either specify in properties or set command line option <option>".
`CommonProperties.java` builds those properties from, later winning: `~/.pegasusrc` (always loaded since
GH-2223), `./pegasus.properties`, the `--conf` file (silently skipped when it does not exist), then
environment variables `_PEGASUS__AWS__REGION` (leading `_` dropped, lower-cased, `__` -> `.`). Files are
read as UTF-8 (PM-1593). The same layers are kept here, with a missing `-C` file refused.

The Java .properties syntax pegasus users write, implemented here: `key=value`, `key: value`,
`key value`; leading blanks skipped; `#` and `!` comment lines; a line ending in an odd number of
backslashes continues on the next (whose leading blanks are dropped; a comment never continues);
escapes `\\t \\n \\r \\f \\uXXXX`, and a backslash before any other character keeps that character (`\\\\`,
`\\=`, `\\:`, `\\ `). A malformed `\\uXXXX` is an error naming the file and line (Java throws too).
An empty value counts as not given (pegasus would send "" to AWS).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from batchdeploy.bags.pegasus_cli import PegasusOptions
from batchdeploy.errors import ConfigError

USER_FILE = ".pegasusrc"  # in the home directory
WORKING_DIR_FILE = "pegasus.properties"  # in the working directory
ENV_PREFIX = "_PEGASUS"
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_BLANK = " \t\f"

# setting -> (the key under `pegasus.`, the command-line option pegasus names in its message)
KEYS = {
    "prefix": ("aws.batch.prefix", "-p/--prefix"),
    "region": ("aws.region", "-r/--region"),
    "account": ("aws.account", "-a/--account"),
    "job_definition": ("aws.batch.job_definition", "-j/--job-definition"),
    "compute_environment": ("aws.batch.compute_environment", "--ce/--compute-environment"),
    "job_queue": ("aws.batch.job_queue", "-q/--job-queue"),
    "s3": ("aws.batch.s3_bucket", "-s/--s3"),
}
ALWAYS_REQUIRED = ("prefix", "region", "account")
REQUIRED_TO_RUN = ("job_definition", "compute_environment")  # the queue and bucket have defaults


def _logical_lines(text: str):
    """(line number where it starts, logical line) with comments and blank lines dropped."""
    lines = re.split(r"\r\n|\r|\n", text)
    i = 0
    while i < len(lines):
        start, line = i + 1, lines[i].lstrip(_BLANK)
        i += 1
        if not line or line[0] in "#!":
            continue
        while (len(line) - len(line.rstrip("\\"))) % 2 == 1:
            line = line[:-1] + (lines[i].lstrip(_BLANK) if i < len(lines) else "")
            i += 1
        yield start, line


def _unescape(text: str, where: str) -> str:
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch != "\\" or i + 1 == len(text):
            out.append(ch if ch != "\\" else "")
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "u":
            digits = text[i + 2 : i + 6]
            if not re.fullmatch(r"[0-9A-Fa-f]{4}", digits):
                raise ConfigError(f"{where}: malformed \\uxxxx escape {text[i:i + 6]!r}",
                                  hint="write \\u and four hex digits, or \\\\ for a backslash")
            out.append(chr(int(digits, 16)))
            i += 6
        else:
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
    return "".join(out)


def _split(line: str) -> tuple[str, str]:
    """A logical line's raw key and raw value: the key ends at the first unescaped blank, `=` or `:`."""
    i = 0
    while i < len(line) and line[i] not in "=:" + _BLANK:
        i += 2 if line[i] == "\\" else 1
    key, rest = line[:i], line[i:].lstrip(_BLANK)
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(_BLANK)
    return key, rest


def parse_properties(text: str, shown: str) -> dict[str, str]:
    """Java .properties text -> {key: value}, the last of a repeated key winning."""
    props: dict[str, str] = {}
    for number, line in _logical_lines(text):
        raw_key, raw_value = _split(line)
        where = f"{shown} line {number}"
        props[_unescape(raw_key, where)] = _unescape(raw_value, where)
    return props


def read_properties(path: Path) -> dict[str, str]:
    """A properties file; a ConfigError (one line) when it is missing, not a file, or malformed."""
    if not path.is_file():
        raise ConfigError(f"properties file {path} is " + ("not a file" if path.exists() else "missing"),
                          hint="check -C/--conf")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise ConfigError(f"{path} line {line}: not UTF-8", hint="pegasus reads properties as UTF-8") from None
    except OSError as e:
        raise ConfigError(f"cannot read properties file {path}: {e.strerror}") from None
    return parse_properties(text, str(path))


def from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """pegasus's properties from the environment: `_PEGASUS__AWS__REGION=x` is pegasus.aws.region=x."""
    out = {}
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX):
            out[name[1:].lower().replace("__", ".")] = value
    return out


def load(conf: str | None, home: Path | None, cwd: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The `pegasus.` properties with the prefix stripped, from pegasus's layers, later winning:
    ~/.pegasusrc, ./pegasus.properties, the -C file, the environment."""
    layers: list[dict[str, str]] = []
    for path in ([home / USER_FILE] if home else []) + [cwd / WORKING_DIR_FILE]:
        if path.is_file():
            layers.append(read_properties(path))
    if conf is not None:
        layers.append(read_properties(Path(conf) if Path(conf).is_absolute() else cwd / conf))
    layers.append(from_environment(environ))
    merged: dict[str, str] = {}
    for layer in layers:
        merged.update(layer)
    return {k[len("pegasus."):]: v for k, v in merged.items() if k.startswith("pegasus.") and len(k) > 8}


@dataclass(frozen=True)
class Settings:
    """What a pegasus-aws-batch run uses, every value decided (flag > property)."""

    mode: str  # run, create or delete
    prefix: str
    region: str
    account: str
    job_definition: str | None = None
    compute_environment: str | None = None
    job_queue: str | None = None  # None when running: a queue is created on the compute environment
    s3: str | None = None  # None when running: PREFIX-bucket is used, created if missing
    files: tuple[str, ...] = ()
    submit_files: tuple[str, ...] = ()
    merge_logs: str | None = None
    log_level: str = "INFO"
    log_file: str | None = None


def settings(opts: PegasusOptions, props: Mapping[str, str], every_task_placed: bool = False) -> Settings:
    """The one place precedence is decided: command-line flag > property > a ConfigError (exit 2) naming
    every required value neither gave. A run needs a job definition and a compute environment, as in
    pegasus, unless `every_task_placed`: each task names its own jobDefinition and jobQueue, which
    batchdeploy honours (pegasus overrides them with -j/-q, so it must always have both)."""
    values = {name: getattr(opts, name) or props.get(key) or None for name, (key, _) in KEYS.items()}
    to_run = REQUIRED_TO_RUN if opts.mode == "run" and not every_task_placed else ()
    required = ALWAYS_REQUIRED + to_run
    missing = [name for name in required if values[name] is None]
    if missing:
        keys = ", ".join("pegasus." + KEYS[n][0] for n in missing)
        flags = ", ".join(KEYS[n][1] for n in missing)
        raise ConfigError(f"Unable to determine value of {keys}",
                          hint=f"either specify it in the properties (-C) or set the command line option {flags}")
    return Settings(mode=opts.mode, files=opts.files, submit_files=opts.submit_files, merge_logs=opts.merge_logs,
                    log_level=opts.log_level, log_file=opts.log_file, **values)
