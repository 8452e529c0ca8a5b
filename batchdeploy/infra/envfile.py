"""`create --write-env`: the names used, written into `.aws_env` (a pure edit, then an atomic write)."""

from __future__ import annotations

import re
from pathlib import Path

from batchdeploy.state import atomic_write

_ENV_LINE = re.compile(
    r"^(?P<lead>\s*(?:export\s+)?)(?P<key>[A-Za-z_][A-Za-z0-9_]*)(?P<eq>\s*=\s*)(?P<rest>.*?)(?P<eol>\r?\n?)$"
)


def _trailing_comment(rest: str) -> str:
    if rest[:1] in ("'", '"'):
        end = rest.find(rest[0], 1)
        tail = rest[end + 1 :] if end > 0 else ""
    else:
        m = re.search(r"\s+#", rest)
        tail = rest[m.start() :] if m else ""
    return tail if tail.strip().startswith("#") else ""


def edit_env_text(text: str, values: dict[str, str], comment: str = "") -> str:
    """`text` with each KEY=... line of `values` set to the new value (comments, order, other lines and
    a trailing `# comment` kept); keys it lacks are appended at the end."""
    out, seen = [], set()
    for line in text.splitlines(keepends=True):
        m = _ENV_LINE.match(line)
        if m and m["key"] in values:
            seen.add(m["key"])
            line = f"{m['lead']}{m['key']}{m['eq']}{values[m['key']]}{_trailing_comment(m['rest'])}{m['eol'] or ''}"
        out.append(line)
    missing = [k for k in values if k not in seen]
    if missing:
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        if comment:
            out.append(f"# {comment}\n")
        out += [f"{k}={values[k]}\n" for k in missing]
    return "".join(out)


def write_env(path: Path, values: dict[str, str], comment: str = "") -> Path:
    path = Path(path).resolve()  # a symlinked .aws_env keeps its link; its target is edited
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        text, mode = "", 0o600
    return atomic_write(path, edit_env_text(text, values, comment), mode=mode)



ENV_KEYS = {"job-queue": "AWS_JOB_QUEUE", "bucket": "S3_BUCKET"}  # what --write-env writes


def names_used(actions) -> dict[str, str]:
    """The names a plan used, as .aws_env keys (the ones beside ENV_KEYS are shown, never written)."""
    names: dict[str, str] = {}
    for a in actions:
        if a.kind in ENV_KEYS:
            names[ENV_KEYS[a.kind]] = a.name
    ce = [a.name for a in actions if a.kind == "compute-environment"]
    if ce:
        names["BATCH_COMPUTE_ENVIRONMENT"] = ce[0]
    jd = [a for a in actions if a.kind == "job-definition"]
    if jd:
        names["BATCH_JOB_DEFINITION"] = jd[0].arn or jd[0].name
    repos = [a.details.get("uri") or a.name for a in actions if a.kind == "ecr-repository"]
    if repos:
        names["ECR_REPOSITORIES"] = " ".join(repos)
    return names
