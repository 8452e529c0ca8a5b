"""JSON a user wrote (job definitions, overrides, compute environment and queue files): read so that a
mistake is one line naming the file, line and column, and nothing a user controls can recurse without
bound, hang (a FIFO where a file belongs) or overflow (numbers of thousands of digits)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from batchdeploy.errors import ConfigError, UsageError

MAX_JSON_DEPTH = 64  # far deeper than any AWS request; walkers below never recurse without bound
_TOO_DEEP = object()


def json_depth(value) -> int:
    """How deeply `value` nests (a scalar is 0), found without recursion."""
    return _walk(value)[0]


def _walk(value) -> tuple[int, bool]:
    """(depth, whether a string holds a lone surrogate), found without recursion."""
    deepest, surrogate, stack = 0, False, [(value, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
            surrogate = surrogate or any(_lone_surrogate(k) for k in node)
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
        elif isinstance(node, str):
            surrogate = surrogate or _lone_surrogate(node)
    return deepest, surrogate


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _no_constant(name: str):
    raise ConfigError(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ConfigError(f"{text} is too large for a number")
    return value


def parse_json(text: str, shown: str, **kwargs):
    """Parse JSON text a user wrote: a syntax error names the line and column; nesting beyond
    MAX_JSON_DEPTH (which could exhaust the stack of any walker), NaN and Infinity (not JSON, and no
    AWS API takes them), numbers too long for Python, and `\\ud800` escapes (no UTF-8 for them) are refused."""
    hint = "fix the JSON syntax"
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_float=_finite, **kwargs)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{shown}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", hint=hint) from None
    except ConfigError as exc:
        raise ConfigError(f"{shown}: {exc.message}", hint="write a number or a string") from None
    except RecursionError:  # the decoder itself gave up: certainly too deep
        data = _TOO_DEEP
    except ValueError:  # Python's limit on integer digits (4300): no AWS API takes such a number
        raise ConfigError(f"{shown}: a number is too long (over 4300 digits)", hint="check the file") from None
    depth, surrogate = (MAX_JSON_DEPTH + 1, False) if data is _TOO_DEEP else _walk(data)
    if depth > MAX_JSON_DEPTH:
        raise ConfigError(f"{shown}: nested more than {MAX_JSON_DEPTH} levels deep",
                          hint="no AWS request nests that deep; check the file") from None
    if surrogate:
        raise ConfigError(f"{shown}: a string holds a lone \\uD800-\\uDFFF escape, which no UTF-8 text can",
                          hint="write the character itself, or a surrogate pair") from None
    return data


def refuse_special(path: Path, what: str = "file") -> None:
    """A FIFO, socket or device where a file belongs is refused: reading a FIFO waits for a writer
    that may never come."""

    try:
        mode = path.stat().st_mode
    except OSError:
        return  # missing or unreadable: the read that follows says so
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise ConfigError(f"{what} {path} is not a regular file (a FIFO, socket or device)",
                          hint="name a file") from None


def load_json(path: Path, what: str = "file"):
    """Read a JSON file a user wrote (see parse_json)."""
    refuse_special(path, what)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        example = path.with_name(path.name + ".example")
        hint = f"copy {example.name} to {path.name}" if example.exists() else "check the path"
        raise ConfigError(f"{what} {path} does not exist", hint=hint) from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path} is a directory", hint="name the JSON file itself") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text", hint="save it as UTF-8") from None
    return parse_json(text, str(path))


def read_limited(path: Path, what: str, max_bytes: int, file_kind: str, too_big_hint: str = "check the file") -> bytes:
    """The bytes of a file a user named (a tasks file, a pipeline file), at most `max_bytes`: a FIFO
    is refused, as are a missing file, a folder and a file over the limit (even one that grows while
    it is read), each as one UsageError line."""
    refuse_special(path, what)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise UsageError(f"{path} is {size:,} bytes, above the {max_bytes:,} a {what} may have", hint=too_big_hint)
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise UsageError(f"{what} {path} does not exist", hint="check the path") from None
    except IsADirectoryError:
        raise UsageError(f"{what} {path} is a directory", hint=f"name the {file_kind} file itself") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > max_bytes:  # it grew while being read
        raise UsageError(f"{path} is above the {max_bytes:,} bytes a {what} may have", hint=too_big_hint)
    return data
