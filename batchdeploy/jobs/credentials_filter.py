"""Temporary credentials for a job (STS), reshaped by the project's jq filter (`credentials-filter`).

Three paths, chosen by the caller's own credentials:
- long-term keys: STS GetSessionToken for the job's lifetime (the triage path);
- temporary ones (SSO, an assumed role, a session token): GetSessionToken refuses those, so either
  assume CREDENTIALS_ROLE_ARN, or pass the caller's own through with whatever lifetime they have left.
The result has the shape of `aws sts get-session-token` output, `{"Credentials": {...}}`, and the jq
program turns it into `{"environment": [...]}`, merged into the job's overrides as triage did.

Every value is registered with `ui.register_secret` the moment it is held. jq's own error messages
quote (a prefix of) the input, so a failing filter is re-run on a stand-in document with the same
shape and harmless values, and only that error is shown. The program runs in a child process under
limits of time, output and memory (`batchdeploy.userprog`), which Ctrl-C stops too.
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass, field

from batchdeploy import userjson, userprog
from batchdeploy.aws import translate
from batchdeploy.errors import ConfigError
from batchdeploy.secrets import register_secret

FILTER_FILE = "credentials-filter"
# The triage project's filter, used when the project has no `credentials-filter` of its own.
DEFAULT_FILTER = """{
        "environment": [
                {
                        "name": "AWS_ACCESS_KEY_ID",
                        "value": .Credentials.AccessKeyId
                },
                {
                        "name": "AWS_SECRET_ACCESS_KEY",
                        "value": .Credentials.SecretAccessKey
                },
                {
                        "name": "AWS_SESSION_TOKEN",
                        "value": .Credentials.SessionToken
                }
        ]
}
"""
MIN_S, MAX_S = 900, 129_600  # GetSessionToken's range
ASSUME_MAX_S = 43_200  # AssumeRole's ceiling (a role's own maximum, or 1 h when chaining, may be lower)
MARGIN_S = 1_800  # time in the queue before the first attempt starts
# No timeout to go by: the longest STS gives for the kind of credentials (GetSessionToken 36 h, as
# triage asked; an AssumeRole session ASSUME_MAX_S), with a warning that says when they expire.
NO_TIMEOUT_WHY = "the job has no timeout; the longest STS allows"
SECRET_FIELDS = ("AccessKeyId", "SecretAccessKey", "SessionToken")


@dataclass
class Obtained:
    document: dict  # {"Credentials": {...}}: what the jq filter reads
    path: str  # "GetSessionToken" | "AssumeRole" | "pass-through"
    lifetime_s: float | None  # seconds the credentials have left, None when unknown
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __repr__(self):  # the document holds secrets; keep them out of tracebacks and debuggers
        return f"Obtained(path={self.path!r}, lifetime_s={self.lifetime_s!r})"


def human(seconds: float) -> str:
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m = rest // 60
    if h and m:
        return f"{h}h{m:02d}m"
    return f"{h}h" if h else f"{m}m" if m else f"{seconds}s"


def duration(configured: str | None, timeout: int | None, attempts: int) -> tuple[int, str, list[str]]:
    """(seconds to ask STS for, why, warnings). The job may run `attempts` x `timeout` after queueing."""
    span = timeout * attempts if timeout else None
    warnings: list[str] = []
    if configured is not None:
        try:
            seconds = int(configured)
        except ValueError:
            seconds = -1
        if not MIN_S <= seconds <= MAX_S:
            raise ConfigError(
                f"CREDENTIALS_DURATION={configured} is out of range", hint=f"STS accepts {MIN_S} to {MAX_S:,} seconds"
            )
        why = "CREDENTIALS_DURATION"
    elif span is None:
        seconds, why = MAX_S, NO_TIMEOUT_WHY
    else:
        seconds = min(MAX_S, max(MIN_S, span + MARGIN_S))
        runs = f"{attempts} attempts of {human(timeout)}" if attempts > 1 else f"the job's timeout {human(timeout)}"
        why = f"{runs} plus {human(MARGIN_S)}"
    if span is not None and seconds < span:
        warnings.append(
            f"the job's credentials expire after {human(seconds)}, before its timeout ({human(span)}); "
            "prefer --no-credentials with a jobRoleArn in the job definition"
        )
    elif configured is None and span is not None and seconds < span + MARGIN_S:
        warnings.append(
            f"the job's credentials last {human(seconds)} (STS's maximum), no longer than its timeout: "
            "time spent in the queue comes off the end; prefer --no-credentials with a jobRoleArn"
        )
    return seconds, why, warnings


def is_temporary(frozen) -> bool:
    return bool(getattr(frozen, "token", None))


def _iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return value.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _remaining(expiry, now=None) -> float | None:
    if not isinstance(expiry, _dt.datetime):
        return None
    now = now or _dt.datetime.now(_dt.timezone.utc)
    if expiry.tzinfo is None:
        expiry = expiry.replace(tzinfo=_dt.timezone.utc)
    return (expiry - now).total_seconds()


def _hold(creds: dict) -> dict:
    for key in SECRET_FIELDS:
        register_secret(creds.get(key))
    return creds


def _quiet_botocore() -> None:
    # Whatever another library did to logging, botocore must not log request bodies while credentials
    # are in flight (its debug level writes them verbatim).
    for name in ("botocore", "boto3", "urllib3"):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.WARNING)


def obtain(aws, *, seconds: int, role_arn: str | None, session_name: str, span: int | None) -> Obtained:
    """Temporary credentials for the job by the path the caller's own credentials allow."""
    _quiet_botocore()
    live = aws.live_credentials()
    if live is None:
        raise ConfigError(
            "cannot get credentials for the job: no AWS credentials found",
            hint="configure a profile (aws configure / aws sso login), or use --no-credentials",
        )
    frozen = live.get_frozen_credentials()
    register_secret(frozen.access_key)
    register_secret(frozen.secret_key)
    register_secret(frozen.token)
    sts = aws.client("sts")
    if not is_temporary(frozen):
        with translate(f"get temporary credentials for the job (sts:GetSessionToken, {seconds} s)"):
            answer = sts.get_session_token(DurationSeconds=seconds)
        creds = _hold(dict(answer["Credentials"]))
        creds["Expiration"] = _iso(creds.get("Expiration"))
        return Obtained({"Credentials": creds}, "GetSessionToken", float(seconds))
    if role_arn:
        return _assume(sts, role_arn, session_name, min(seconds, ASSUME_MAX_S), span)
    return _pass_through(live, frozen, span)


def _assume(sts, role_arn: str, session_name: str, asked: int, span: int | None) -> Obtained:
    with translate(f"assume CREDENTIALS_ROLE_ARN for the job ({asked} s)"):
        try:
            answer = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name[:64], DurationSeconds=asked)
        except Exception as exc:  # noqa: BLE001 - add the one hint that matters, then translate
            if "DurationSeconds" in str(exc):
                raise ConfigError(
                    f"cannot assume CREDENTIALS_ROLE_ARN for {asked} s: the role's maximum session is shorter",
                    hint="set CREDENTIALS_DURATION to at most the role's maximum (3600 when chaining roles)",
                ) from None
            raise
    creds = _hold(dict(answer["Credentials"]))
    creds["Expiration"] = _iso(creds.get("Expiration"))
    got = Obtained({"Credentials": creds}, "AssumeRole", float(asked))
    got.notes.append("your credentials are temporary, so the job gets a session of CREDENTIALS_ROLE_ARN")
    if span is not None and asked < span:
        got.warnings.append(f"the role session lasts {human(asked)}, less than the job's timeout ({human(span)})")
    return got


def _pass_through(live, frozen, span: int | None) -> Obtained:
    expiry = getattr(live, "_expiry_time", None)  # botocore keeps it only for refreshable credentials
    left = _remaining(expiry)
    creds = {
        "AccessKeyId": frozen.access_key,
        "SecretAccessKey": frozen.secret_key,
        "SessionToken": frozen.token,
        "Expiration": _iso(expiry),
    }
    got = Obtained({"Credentials": creds}, "pass-through", left)
    got.notes.append(
        "your credentials are temporary (SSO, an assumed role or a session token) and STS GetSessionToken "
        "refuses those: passing them through; set CREDENTIALS_ROLE_ARN to give the job a role session instead"
    )
    if left is None:
        got.warnings.append("how long your temporary credentials last is unknown; the job may outlive them")
    elif span is not None and left < span:
        got.warnings.append(
            f"your temporary credentials expire in {human(max(left, 0))}, before the job's timeout ({human(span)})"
        )
    return got


def describe(got: Obtained, seconds: int, why: str, warnings: list[str]) -> list[tuple[str, str]]:
    """What to tell the user about `got`, as ("note" | "warn", text), in order. `seconds`, `why` and
    `warnings` are `duration`'s answer (its warnings matter only when GetSessionToken used it)."""
    if got.path == "GetSessionToken":
        told = [("note", f"credentials: STS GetSessionToken for {human(seconds)} ({why})")]
    elif got.path == "AssumeRole":
        told = [("note", f"credentials: AssumeRole of CREDENTIALS_ROLE_ARN for {human(got.lifetime_s)}")]
    else:
        left = "unknown" if got.lifetime_s is None else human(max(got.lifetime_s, 0))
        told = [("note", f"credentials: your own temporary credentials passed through (lifetime left: {left})")]
    told += [("note", f"note: {text}") for text in got.notes]
    if got.path == "GetSessionToken":
        told += [("warn", text) for text in warnings]
    if why == NO_TIMEOUT_WHY and got.path in ("GetSessionToken", "AssumeRole"):
        expires = (got.document.get("Credentials") or {}).get("Expiration") or f"in {human(got.lifetime_s or 0)}"
        told.append(("warn", f"the job has no timeout: its credentials expire at {expires} "
                             f"({human(got.lifetime_s or 0)}, the longest STS gives); a longer experiment loses AWS "
                             "access then: set a timeout (attemptDurationSeconds) or use --no-credentials and a jobRoleArn"))
    return told + [("warn", text) for text in got.warnings]


# ---- the jq filter ---------------------------------------------------------------------------------


def filter_text(found) -> tuple[str, str]:
    """(program, where it came from) of a `projectfiles.filter_file` answer: the project's filter, else
    the built-in copy of triage's."""
    if found.path is None:
        return DEFAULT_FILTER, f"{FILTER_FILE} (built-in triage filter; none in the project)"
    userjson.refuse_special(found.path, found.label)
    try:
        return found.path.read_text(encoding="utf-8"), found.label
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {found.path}: {exc}") from None


def compile_filter(program: str, label: str, seconds: float | None = None, wait: bool = True):
    """The program, compiled in a child process under userprog's limits (the wall time is
    FILTER_TIMEOUT_S when given); it runs there too, never in this process, which holds credentials.
    With wait=False the child is only started: `check_compiled` later gives its answer."""
    limits = userprog.Limits(seconds=seconds or userprog.DEFAULT_SECONDS)
    compiled = userprog.start_program(program, label, limits, time_key="FILTER_TIMEOUT_S")
    if wait:
        check_compiled(compiled)
    return compiled


def check_compiled(compiled) -> None:
    """A program that does not compile is one line (jq's first), exit 2."""
    try:
        userprog.wait_compiled(compiled)
    except ValueError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "does not compile"
        raise ConfigError(f"{compiled.label}: {first}",
                          hint="fix the jq program (credentials-filter.example shows one)") from None


def evaluate(compiled, document) -> list:
    """Every output of the program on `document` (the same as `jq -c -f FILE < document.json`), from
    the child process; a limit exceeded is a ConfigError that quotes nothing of `document`."""
    return userprog.run(compiled, document)


def stand_in(value, path: str = ""):
    """`value` with every string replaced by a harmless one naming its place: same shape, no secrets."""
    if isinstance(value, dict):
        return {k: stand_in(v, f"{path}.{k}" if path else k) for k, v in value.items()}
    if isinstance(value, list):
        return [stand_in(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str):
        return f"<{path}>"
    return value


def reshape(compiled, document: dict, label: str) -> list[dict]:
    """The `environment` entries the filter makes of `document`; every failure is one line, no values."""
    try:
        outputs = evaluate(compiled, document)
    except ValueError:
        try:
            evaluate(compiled, stand_in(document))
        except ValueError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "it fails"
            raise ConfigError(f"{label} fails: {reason}", hint="fix the jq program") from None
        raise ConfigError(
            f"{label} fails on the credentials (jq's message is withheld: it would quote them)",
            hint="fix the jq program; test it on `aws sts get-session-token` output",
        ) from None
    if len(outputs) != 1:
        raise ConfigError(f"{label} yields {len(outputs)} values, not one object with an `environment` array")
    out = outputs[0]
    env = out.get("environment") if isinstance(out, dict) else None
    if not isinstance(env, list):
        raise ConfigError(f"{label} yields no `environment` array", hint='it must produce {"environment": [{"name": ..., "value": ...}]}')
    for i, entry in enumerate(env):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise ConfigError(f"{label}: environment[{i}] has no name", hint='each entry is {"name": "VAR", "value": ...}')
        if not isinstance(entry.get("value"), str):
            kind = "null" if entry.get("value") is None else type(entry.get("value")).__name__
            raise ConfigError(
                f"{label}: environment[{i}] ({entry['name']}) has a {kind} value, not a string",
                hint="the credentials have no such field, or the filter names the wrong one",
            )
        if set(entry) - {"name", "value"}:
            raise ConfigError(f"{label}: environment[{i}] ({entry['name']}) has fields other than name and value")
        register_secret(entry["value"])
    return [{"name": e["name"], "value": e["value"]} for e in env]


def merge(overrides: dict, environment: list[dict]) -> dict:
    """triage's `.environment += creds.environment`; a name set twice would be ambiguous, so it is an error."""
    merged = dict(overrides)
    base = list(merged.get("environment") or [])
    names = {e.get("name") for e in base}
    clash = [e["name"] for e in environment if e["name"] in names]
    if clash:
        raise ConfigError(
            f"env-overrides.json and {FILTER_FILE} both set {', '.join(clash)}",
            hint="remove them from env-overrides.json (or run with --no-credentials)",
        )
    merged["environment"] = base + environment
    return merged
