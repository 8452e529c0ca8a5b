"""A call's payload, on the client: the function and its arguments cloudpickled (protocol
`calls.PICKLE_PROTOCOL`), checked before anything is submitted, and the manifest's `"call"` object
that points at them (the format is batchdeploy.launch.calls's docstring). Pure: no AWS.

    fn = pickle_function(f)                           # Pickled: bytes, with .sha256 and .key(prefix)
    args = pickle_arguments((1, 2), {"lr": 0.1})
    call = call_object(fn, args, bucket="B", prefix=functions_prefix("runs/P"), result="s3://B/.../3.pkl")
    for key, data in uploads(fn, args, prefix=functions_prefix("runs/P")).items(): ...   # HEAD, then PUT

Objects are content-addressed, `<prefix>/<sha256>.pkl`, so a map uploads its function once and a
second run none; arguments of at most `calls.INLINE_ARGUMENTS_MAX` bytes travel inline in the
manifest. What cannot be pickled is named (the argument, the closure or global variable, down to
the item inside a list, dict or object that fails), and a pickle over `MAX_PICKLE_BYTES` is refused
with a hint: large data belongs in S3, read by the function, not in its arguments.
"""

from __future__ import annotations

import base64
import hashlib
import sys

from batchdeploy.errors import UsageError
from batchdeploy.launch.calls import CALL_FORMAT, INLINE_ARGUMENTS_MAX, PICKLE_PROTOCOL

MAX_PICKLE_BYTES = 100 * 1024 * 1024  # of the function, and of one call's (args, kwargs): 100 MiB
_DEPTH = 4  # how deep inside containers and objects the culprit is looked for


class Pickled(bytes):
    """A pickle's bytes, named by their sha256."""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self).hexdigest()

    def key(self, prefix: str) -> str:
        return f"{prefix.strip('/')}/{self.sha256}.pkl".lstrip("/")


def client_python() -> str:
    """This Python's major.minor: the launcher refuses a call pickled by another."""
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def functions_prefix(prefix: str) -> str:
    """The folder of the content-addressed pickles under a project's S3 prefix."""
    return f"{prefix.strip('/')}/functions".lstrip("/")


def describe(obj) -> str:
    kind = type(obj)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    return f"a {name}"


def _dumps(obj) -> bytes:
    import cloudpickle

    return cloudpickle.dumps(obj, protocol=PICKLE_PROTOCOL)


def _pickles(obj) -> bool:
    try:
        _dumps(obj)
    except Exception:  # noqa: BLE001 - whatever pickling raises, the object does not travel
        return False
    return True


def _parts(obj) -> list:
    """(how to name it, the part) of what `obj` holds, for a search for what does not pickle."""
    if isinstance(obj, dict):
        return [(f"[{k!r}]", v) for k, v in obj.items()] + [(f"key {k!r}", k) for k in obj]
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [(f"[{i}]", v) for i, v in enumerate(obj)]
    if hasattr(obj, "__code__"):
        return _function_parts(obj)
    state = getattr(obj, "__dict__", None)
    return [(f".{k}", v) for k, v in state.items()] if isinstance(state, dict) else []


def _function_parts(fn) -> list:
    code, parts = fn.__code__, []
    for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
        try:
            parts.append((f"its closure variable {name!r}", cell.cell_contents))
        except ValueError:  # an empty cell
            continue
    names = set(code.co_names)
    globals_ = getattr(fn, "__globals__", {}) or {}
    parts += [(f"its global {n!r}", globals_[n]) for n in sorted(names) if n in globals_]
    parts += [(f"its default {i}", d) for i, d in enumerate(fn.__defaults__ or ())]
    parts += [(f"its default {k!r}", d) for k, d in (fn.__kwdefaults__ or {}).items()]
    return parts


def culprit(obj, depth: int = _DEPTH) -> tuple[str, object]:
    """(where inside `obj` the first thing that does not pickle is, that thing): the path is "" for
    `obj` itself, else as "[2]['lock']", "its closure variable 'conn'.sock" or "[0]: its global 'db'"."""
    if depth > 0:
        for label, part in _parts(obj):
            if not _pickles(part):
                inner, leaf = culprit(part, depth - 1)
                joined = inner if not inner or inner[0] in "[." else f": {inner}"
                return label + joined, leaf
    return "", obj


def _named(what: str, obj) -> str:
    """`what (a T) cannot be pickled`, and the thing inside it that is the cause, when it is not itself."""
    path, leaf = culprit(obj)
    inside = f": {path} ({describe(leaf)}) inside it" if path else ""
    return f"{what} ({describe(obj)}) cannot be pickled{inside}"


def _reason(obj) -> str:
    try:
        _dumps(obj)
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"
    return ""


def _check_size(data: bytes, what: str) -> None:
    if len(data) > MAX_PICKLE_BYTES:
        raise UsageError(
            f"{what} pickle to {len(data) / 2**20:.1f} MiB, over the limit of {MAX_PICKLE_BYTES / 2**20:.1f} MiB",
            hint="put large data in S3 and pass its s3:// URL for the function to read",
        )


def pickle_function(fn) -> Pickled:
    """The function cloudpickled; UsageError naming what it holds that cannot be pickled."""
    name = getattr(fn, "__qualname__", None) or describe(fn)
    if not callable(fn):
        raise UsageError(f"{describe(fn)} is not callable", hint="pass a function")
    try:
        data = _dumps(fn)
    except Exception as exc:  # noqa: BLE001 - named below
        raise UsageError(f"{_named(f'the function {name}', fn)} ({type(exc).__name__}: {exc})",
                         hint="make it a module-level function or create that object inside the function") from None
    _check_size(data, f"the function {name} and what it holds")
    return Pickled(data)


def pickle_arguments(args, kwargs, index: int | None = None) -> Pickled:
    """`(args, kwargs)` cloudpickled; UsageError naming the argument that cannot be pickled (and
    the map element `index`, when given)."""
    args, kwargs = tuple(args), dict(kwargs or {})
    element = f"element {index} of the map: " if index is not None else ""
    try:
        data = _dumps((args, kwargs))
    except Exception as exc:  # noqa: BLE001 - named below
        named = [(f"argument {i}", a) for i, a in enumerate(args)] + [(f"keyword argument {k!r}", v) for k, v in kwargs.items()]
        for label, value in named:
            reason = _reason(value)
            if reason:
                raise UsageError(f"{element}{_named(label, value)} ({reason})",
                                 hint="pass data that pickles, or create the object inside the function") from None
        raise UsageError(f"{element}the arguments cannot be pickled: {type(exc).__name__}: {exc}") from None
    _check_size(data, f"{element}the arguments")
    return Pickled(data)


def call_object(function: Pickled, arguments: Pickled, *, bucket: str, prefix: str, result: str,
                python: str | None = None) -> dict:
    """The manifest task's `"call"`: the function by URL, the arguments inline when small."""
    args_ref = ({"inline": base64.b64encode(arguments).decode("ascii"), "sha256": arguments.sha256}
                if len(arguments) <= INLINE_ARGUMENTS_MAX
                else {"url": f"s3://{bucket}/{arguments.key(prefix)}", "sha256": arguments.sha256})
    return {
        "format": CALL_FORMAT,
        "function": {"url": f"s3://{bucket}/{function.key(prefix)}", "sha256": function.sha256},
        "arguments": args_ref,
        "python": python or client_python(),
        "result": result,
    }


def uploads(function: Pickled, arguments: Pickled, *, prefix: str) -> dict:
    """{key: bytes} of what the call's objects need in S3 (not inline arguments)."""
    found = {function.key(prefix): bytes(function)}
    if len(arguments) > INLINE_ARGUMENTS_MAX:
        found[arguments.key(prefix)] = bytes(arguments)
    return found
