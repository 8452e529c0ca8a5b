"""Configuration: `.aws_env` read as data, the process environment, and command-line flags.

Precedence, written once (see `load`): flag > process environment > `.aws_env` > default, where the
process environment may set only (`from_environment`):

- `BATCHDEPLOY_<KEY>` for any key (`BATCHDEPLOY_ENV=production ./deploy.sh -r ...`);
- `AWS_*` keys (the SDK's own, AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ..., and ours named like
  them, AWS_REGISTRY, AWS_JOB_QUEUE), and `CONTAINER_CLI`, which describes the machine, not the project;
- the keys the file itself lists in `ENVIRONMENT_KEYS` (space-separated), for a user who opts in.

So an unrelated shell variable (POSIX sh's `ENV=/root/.shrc`, a `VERSION` some tool exported) never
becomes the deployment's. The file is parsed by python-dotenv and never sourced or executed; a
`${NAME}` (or `${NAME:-default}`) in a value is expanded from the keys set earlier in the same file,
never from the environment, as triage's `source .aws_env` expanded them (single-quoted values stay
literal). A triage file's `TRIAGE_VERSION` is the `VERSION` where the file sets none. Each verb states
the keys it needs with `Config.require`, which reports every missing or malformed key at once.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from batchdeploy.errors import ConfigError
from batchdeploy.secrets import is_secret, mask, mask_url_passwords
from batchdeploy.userjson import refuse_special

DEFAULT_ENV_FILE = ".aws_env"


@dataclass(frozen=True)
class Key:
    help: str
    pattern: str | None = None  # a full-match regex for a good value
    example: str = ""
    default: str | None = None
    secret: bool = False


_NAME = r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}"
_NAMES = r"\s*([A-Za-z_][A-Za-z0-9_]*(\s+[A-Za-z_][A-Za-z0-9_]*)*)?\s*"  # space-separated variable names
_ARN = r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:\S+"

KEYS: dict[str, Key] = {
    "PROJECT_NAME": Key(
        "the project's name; names images, job definitions and tags",
        r"[a-z0-9][a-z0-9_-]{0,63}",
        "dirtyduck (lowercase letters, digits, - and _)",
    ),
    "ENV": Key("deployment environment", r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}", "development", "development"),
    "VERSION": Key("image version tag", r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", "1.0.0", "latest"),
    "AWS_REGION": Key("AWS region", r"[a-z]{2}(-[a-z]+)+-\d{1,2}", "us-west-2"),
    "AWS_PROFILE": Key("AWS CLI profile (optional)", r"[A-Za-z0-9_.@+-]+", "default"),
    "AWS_REGISTRY": Key(
        "image registry host, no scheme",
        r"[A-Za-z0-9.-]+(:\d{1,5})?(/[a-z0-9._/-]+)?",
        "123456789012.dkr.ecr.us-west-2.amazonaws.com",
    ),
    "AWS_JOB_QUEUE": Key("Batch job queue name or ARN", rf"{_NAME}|{_ARN}", "my-project-job-queue"),
    "S3_BUCKET": Key(
        "S3 bucket name, without s3://",
        r"(?!s3://)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
        "my-project-bucket",
    ),
    "S3_PREFIX": Key("key prefix for experiment files", r"[^\s]*", "experiments", "experiments"),
    "RESULTS_PREFIX": Key("key prefix sync-from-s3 downloads from", r"[^\s]*", "results", "results"),
    "EXPERIMENTS_DIR": Key("local folder synced to S3", r".+", "experiments", "experiments"),
    "RESULTS_DIR": Key("local folder results are synced into", r".+", "results", "results"),
    "JOB_DEFINITIONS": Key(
        "job definition files or folders, space-separated", r".+", "job-definition.json", "job-definition.json"
    ),
    "IMAGES": Key("images as name=context-folder pairs, space-separated", r"([^\s=]+=[^\s]+\s*)+", "app=."),
    "BUILD_ARGS": Key("build arguments as KEY=value pairs, space-separated", r"([A-Za-z_][A-Za-z0-9_]*=\S*\s*)*"),
    "BUILD_SECRETS": Key(
        "names of build secrets (values from this configuration or the environment), space-separated",
        _NAMES,
        "NPM_TOKEN",
    ),
    "BUILD_ARGS_PUBLIC": Key("build arguments that look secret but are not, space-separated", _NAMES, "CACHE_KEY"),
    "CONTAINER_CLI": Key("container engine CLI", r"docker|podman|\S+", "podman"),
    "AWS_ENDPOINT_URL": Key(
        "AWS endpoint (a local emulator): http(s)://HOST[:PORT]",
        r"https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?(/\S*)?",
        "http://127.0.0.1:5000",
    ),
    "AWS_RETRY_MODE": Key("botocore retry mode", r"standard|adaptive|legacy", "standard", "standard"),
    "AWS_MAX_ATTEMPTS": Key("botocore attempts per call", r"[1-9]\d?", "5", "5"),
    "ROLE_ARN": Key("role to assume for every AWS call (optional)", _ARN, "arn:aws:iam::123456789012:role/deployer"),
    "CREDENTIALS_ROLE_ARN": Key(
        "role assumed for the job's temporary credentials when the caller's are temporary",
        _ARN,
        "arn:aws:iam::123456789012:role/experiment",
    ),
    "CREDENTIALS_DURATION": Key("lifetime of the job's temporary credentials, seconds", r"\d+", "43200"),
    "FILTER_TIMEOUT_S": Key("longest a user's jq program (credentials-filter) may run, seconds",
                            r"[1-9]\d{0,3}", "10", "10"),
    "RUNNABLE_WARN_S": Key("warn when a job stays RUNNABLE this long, seconds", r"\d+", "600", "600"),
    "CODE_DIR": Key("-r sends this folder as a code bundle (as --code does); empty: no bundle", r".+", "."),
    "CODE_SIZE_LIMIT": Key(
        "largest code bundle -r packs (bytes of files, before compression), e.g. 64MiB",
        r"\d+(\.\d+)?\s*(B|KiB|MiB|GiB)?", "64MiB", "64MiB",
    ),
    "RUNS_PREFIX": Key("key prefix of run records, code bundles and manifests in S3_BUCKET", r"[^\s]+", "runs", "runs"),
    "MAX_SWEEP_TASKS": Key(
        "most tasks one sweep (--tasks, --grid) may have; above AWS's 10000, several arrays",
        r"[1-9]\d{0,6}", "10000", "10000",
    ),
    "OUTPUT_PARAMETER": Key(
        "job definition parameter a sweep fills with each task's own output URL, when the definition has it",
        r"[A-Za-z0-9_][A-Za-z0-9_.-]*", "output_path", "output_path",
    ),
    "STATE_DIR": Key("local state folder", r".+", ".batchdeploy", ".batchdeploy"),
    "OVERRIDES_FILE": Key("-r's containerOverrides file (else env-overrides.json or triage's)", r".+", "env-overrides.json"),
    "CREDENTIALS_FILTER": Key("-r's jq credentials filter (default: credentials-filter, else triage's credentials.filter)",
                              r".+", "credentials-filter"),
    "ENVIRONMENT_KEYS": Key(
        "keys the process environment may override besides AWS_* and BATCHDEPLOY_<KEY>, space-separated",
        _NAMES, "S3_BUCKET VERSION",
    ),
    "TRIAGE_VERSION": Key("triage's name for VERSION, read where VERSION is not set", r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}",
                          "3.3.0"),
    "SECRETS": Key("keys given to jobs by reference (SSM SecureString)", r"[A-Za-z0-9_,\s]*", "POSTGRES_PASSWORD"),
    "LOCAL_POSTGRES": Key("the local stack's `up` starts PostgreSQL too", r"(?i)yes|no|true|false|on|off|1|0", "yes"),
    # Credentials may be given to a local emulator this way; real ones belong in ~/.aws or SSO.
    "AWS_ACCESS_KEY_ID": Key("access key id (prefer profiles)", r"\S+", secret=True),
    "AWS_SECRET_ACCESS_KEY": Key("secret access key (prefer profiles)", r"\S+", secret=True),
    "AWS_SESSION_TOKEN": Key("session token (prefer profiles)", r"\S+", secret=True),
}
# `${VAR}` in a file batchdeploy fills from the configuration: the one grammar of it.
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class Config:
    values: dict[str, str]
    sources: dict[str, str]
    env_file: Path | None
    project_dir: Path
    extra: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # shown by the command layer, never fatal

    def get(self, key: str, default: str | None = None) -> str | None:
        value = self.values.get(key)
        return default if value in (None, "") else value

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def where(self) -> str:
        return str(self.env_file) if self.env_file else f"{DEFAULT_ENV_FILE} (not found)"

    def require(self, *keys: str, optional: tuple[str, ...] = ()) -> None:
        """Check `keys` are set and well formed, and `optional` well formed where set; report all."""
        problems = []
        for key in keys:
            if self.get(key) is None:
                spec = KEYS.get(key)
                good = f" (e.g. {key}={spec.example})" if spec and spec.example else ""
                problems.append(f"{key} is missing{good}")
        problems += self.malformed((*keys, *optional, *KEYS))
        self._raise(problems)

    def check_known(self) -> None:
        """Every known key that is set must be well formed. Checked before the first AWS client is
        made (and by every `require`), so `AWS_MAX_ATTEMPTS=abc` or `--region 'not a region!'` is
        exit 2 with an example, not botocore's words (or a traceback) from deep inside a call."""
        self._raise(self.malformed(KEYS))

    def malformed(self, keys) -> list[str]:
        problems = []
        for key in dict.fromkeys(keys):
            value = self.get(key)
            spec = KEYS.get(key)
            if value is None or spec is None or spec.pattern is None:
                continue
            if not re.fullmatch(spec.pattern, value):
                shown = mask(value) if is_secret(key) else repr(value)
                source = {"flag": " (from a flag)", "environment": " (from the environment)"}.get(self.sources.get(key), "")
                problems.append(f"{key}={shown} is malformed{source}: expected {spec.help}, e.g. {key}={spec.example}")
        return problems

    def _raise(self, problems: list[str]) -> None:
        if problems:
            hint = f"set them in {self.where()} or the environment (see .aws_env.example)"
            raise ConfigError(f"configuration in {self.where()}", problems, hint)

    def path(self, value: str) -> Path:
        """A path from the configuration, relative to the project folder (where `.aws_env` is)."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.project_dir / p

    def state_dir(self) -> Path:
        return self.path(self.get("STATE_DIR", ".batchdeploy"))

    def variables(self) -> dict[str, str]:
        """What `${VAR}` placeholders may name: the configuration plus values verbs add (IMAGE_TAG)."""
        merged = {k: v for k, v in self.values.items() if v is not None}
        merged.update(self.extra)
        return merged

    def masked(self) -> dict[str, str]:
        """The values with every secret masked: secret-looking keys, the keys (BUILD_)SECRETS names,
        any password inside a URL (POSTGRES_DB=postgresql://user:PASSWORD@host/db) whatever the key."""
        named = set(re.split(r"[\s,]+", f"{self.get('BUILD_SECRETS') or ''} {self.get('SECRETS') or ''}"))
        public = set((self.get("BUILD_ARGS_PUBLIC") or "").split())
        out = {k: (mask(v) if is_secret(k) or k in named else mask_url_passwords(v)) for k, v in sorted(self.values.items())}
        if "BUILD_ARGS" in out:  # pairs inside it: NPM_TOKEN=... is masked as the key NPM_TOKEN would be
            out["BUILD_ARGS"] = " ".join(_masked_pair(w, public) for w in out["BUILD_ARGS"].split())
        return out


def _masked_pair(word: str, public: set[str]) -> str:
    name, sep, value = word.partition("=")
    return f"{name}={mask(value)}" if sep and is_secret(name) and name not in public else word


def read_env_file(path: Path) -> tuple[dict[str, str], list[str]]:
    """Parse `.aws_env` as data. A line python-dotenv cannot parse is an error, not a silent skip.
    Returns the values and warnings (a key set twice, a key one letter away from a known one)."""
    from dotenv.main import DotEnv
    from dotenv.parser import parse_stream

    try:
        text = path.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory, not a configuration file",
                          hint="name the .aws_env file itself (--env-file PATH/.aws_env)") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", hint="check the path and its permissions") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text", hint="save it as UTF-8") from None
    bindings = list(parse_stream(io.StringIO(text)))
    bad = [b.original.line for b in bindings if b.error]
    if bad:
        lines = ", ".join(str(n) for n in bad)
        raise ConfigError(
            f"{path}: cannot parse line {lines}", hint="write each setting as KEY=value (comments start with #)"
        )
    # interpolate=False: the file is data; ${VAR} is expanded below from the file's own earlier keys only.
    values = {k: ("" if v is None else v) for k, v in DotEnv(path, interpolate=False).dict().items()}
    return _expand(path, bindings, values), _file_warnings(path, bindings)


_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand(path: Path, bindings, values: dict[str, str]) -> dict[str, str]:
    """`${NAME}` and `${NAME:-default}` in each value, from the keys set on earlier lines of the same
    file (as a shell sourcing it would see them); a single-quoted value stays literal. A name no earlier
    line sets is an error naming the line: the environment is never read here."""
    seen: dict[str, str] = {}
    problems = []
    for b in bindings:
        if not b.key:
            continue
        raw = values.get(b.key, "") if b.value is not None else ""
        if b.value is None or re.match(r"\s*(export\s+)?[A-Za-z_][A-Za-z0-9_.]*\s*=\s*'", b.original.string):
            seen[b.key] = raw
            continue

        def fill(m, line=b.original.line):
            name, default = m.group(1), m.group(2)
            if name in seen and seen[name] != "":
                return seen[name]
            if default is not None:
                return default
            if name in seen:
                return ""
            problems.append(f"line {line}: ${{{name}}} names no key set on an earlier line of this file")
            return m.group(0)

        seen[b.key] = _REFERENCE.sub(fill, raw)
    if problems:
        raise ConfigError(f"{path}: cannot expand", problems,
                          hint="set the key on an earlier line (the environment is not read inside the file)")
    return {k: seen.get(k, v) for k, v in values.items()}


def _file_warnings(path: Path, bindings) -> list[str]:
    import difflib

    warnings, lines = [], {}
    for b in bindings:
        if b.key:
            lines.setdefault(b.key, []).append(b.original.line)
    for key, at in lines.items():
        if len(at) > 1:
            shown = ", ".join(map(str, at))
            warnings.append(f"{path}: {key} is set {len(at)} times (lines {shown}); the last one counts")
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1, cutoff=0.85)
            if close:
                warnings.append(f"{path}: line {at[0]}: unknown key {key}; did you mean {close[0]}?")
    return warnings


MACHINE_KEYS = frozenset({"CONTAINER_CLI"})  # describe the machine, not the project: the environment may set them


def from_environment(environ: dict[str, str], keys: set[str], opted: set[str]) -> dict[str, str]:
    """What the process environment sets of `keys`: `BATCHDEPLOY_<KEY>` for any key; the plain name
    only for `AWS_*` keys, MACHINE_KEYS and the keys the file opted into (ENVIRONMENT_KEYS)."""
    out = {}
    for key in sorted(keys):
        if f"BATCHDEPLOY_{key}" in environ:
            out[key] = environ[f"BATCHDEPLOY_{key}"]
        elif key in environ and (key.startswith("AWS_") or key in MACHINE_KEYS or key in opted):
            out[key] = environ[key]
    return out


def load(
    env_file: str | os.PathLike | None = None,
    environ: dict[str, str] | None = None,
    flags: dict[str, str | None] | None = None,
    cwd: str | os.PathLike | None = None,
) -> Config:
    """Resolve the configuration. The one place precedence is decided: flag > environment > file > default."""
    environ = dict(os.environ if environ is None else environ)
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    cwd = Path(cwd or os.getcwd())

    named = env_file or environ.get("BATCHDEPLOY_ENV_FILE")
    path = Path(named).expanduser() if named else cwd / DEFAULT_ENV_FILE
    if not path.is_absolute():
        path = cwd / path
    warnings: list[str] = []
    if path.is_dir():
        read_env_file(path)  # raises: a directory is named where the file belongs
    refuse_special(path, "configuration file")
    if path.is_file():
        file_values, warnings = read_env_file(path)
    elif named:
        raise ConfigError(f"configuration file {path} does not exist", hint="check --env-file / BATCHDEPLOY_ENV_FILE")
    else:
        path, file_values = None, {}

    values: dict[str, str] = {}
    sources: dict[str, str] = {}

    def layer(items, source):
        for k, v in items:
            values[k] = v
            sources[k] = source

    layer(((k, s.default) for k, s in KEYS.items() if s.default is not None), "default")
    layer(file_values.items(), str(path))
    if not file_values.get("VERSION") and file_values.get("TRIAGE_VERSION"):
        layer([("VERSION", file_values["TRIAGE_VERSION"])], f"{path} (TRIAGE_VERSION)")
    if "AWS_REGION" not in environ and environ.get("AWS_DEFAULT_REGION"):
        environ["AWS_REGION"] = environ["AWS_DEFAULT_REGION"]
    opted = set((file_values.get("ENVIRONMENT_KEYS") or "").split())
    layer(from_environment(environ, set(KEYS) | set(file_values), opted).items(), "environment")
    layer(flags.items(), "flag")
    return Config(values, sources, path, path.parent if path else cwd, warnings=warnings)


def render(obj, variables: dict[str, str], filename: str, readable_by: str | None = None):
    """Fill `${VAR}` in every string of a parsed JSON document; report every unknown placeholder at once.

    `readable_by` names who can read what the document becomes on AWS ("anyone allowed
    batch:DescribeComputeEnvironments"); a placeholder naming a secret is then refused, not filled."""
    unknown: list[str] = []

    def fill(value, where):
        if isinstance(value, str):

            def sub(m):
                name = m.group(1)
                if readable_by and name in variables and is_secret(name):
                    unknown.append(f"${{{name}}} at {where or '(top)'} is a secret, readable by {readable_by}")
                    return m.group(0)
                if name not in variables:
                    unknown.append(f"${{{name}}} at {where or '(top)'}")
                    return m.group(0)
                return variables[name]

            return PLACEHOLDER.sub(sub, value)
        if isinstance(value, dict):
            return {k: fill(v, f"{where}.{k}" if where else k) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return value

    result = fill(obj, "")
    if unknown:
        refused = any(" is a secret" in p for p in unknown)
        raise ConfigError(
            f"{filename}: {'unknown or secret' if refused else 'unknown'} placeholder",
            unknown,
            hint="define each in .aws_env (never a secret) or remove it from the file",
        )
    return result
