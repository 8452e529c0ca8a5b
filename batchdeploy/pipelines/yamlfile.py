"""A YAML file a user wrote, read as PyYAML's node tree (SafeLoader), guarded: a mistake is one line
naming the file and line, and nothing in the file can make a reader blow up.

- size: at most MAX_FILE_BYTES, read no further;
- aliases (`*name`) are refused: an alias of an alias of ... is the "billion laughs" bomb, and every
  walker of the loaded data would pay for it; a pipeline file is small enough to write out;
- tags other than YAML's own kinds (`!!python/object`, `!!binary`, `!custom`) are refused;
- depth: at most MAX_DEPTH nested mappings and sequences, found from the event stream before the
  (recursive) composer sees the file;
- not UTF-8, a FIFO, a directory, a missing file: one line each.

Nodes, not Python values, because they keep their lines (`node.start_mark.line`, 0-based) and a
scalar keeps the text as written (`0.050` stays `0.050`, `yes` stays `yes`): Batch parameters are
strings, and YAML 1.1's guesses (floats, booleans) would change what the user wrote.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from batchdeploy.errors import UsageError
from batchdeploy.userjson import read_limited

MAX_FILE_BYTES = 1024 * 1024  # a pipeline of hundreds of steps is tens of KB
MAX_DEPTH = 32
NULL_TAG = "tag:yaml.org,2002:null"
# Explicit tags a value may carry: YAML's own kinds. Others (!!python/object, !!binary, !local) are
# refused rather than silently read as text: nothing here would construct them.
TAGS = tuple(f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq"))


def line(node) -> int:
    """The node's 1-based line in the file."""
    return node.start_mark.line + 1


def read_text(path, what: str, max_bytes: int = MAX_FILE_BYTES) -> str:
    path = Path(path)
    data = read_limited(path, what, max_bytes, "YAML")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text (byte {exc.start + 1})", hint="save it as UTF-8") from None


def _syntax(shown: str, exc: yaml.YAMLError) -> UsageError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return UsageError(f"{shown}: invalid YAML{where}: {problem}", hint="fix the YAML syntax")


def _guard(text: str, shown: str, max_depth: int) -> None:
    """Aliases and nesting, from the parser's events: no recursion, nothing built yet."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise UsageError(
                f"{shown}: line {event.start_mark.line + 1}: an alias (*{event.anchor}) is not accepted",
                hint="write the value out (anchors and aliases can blow up into huge documents)",
            )
        tag = getattr(event, "tag", None)
        if tag is not None and tag not in TAGS and tag != "!":
            raise UsageError(f"{shown}: line {event.start_mark.line + 1}: the tag {tag} is not accepted",
                             hint="write the value without a tag")
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > max_depth:
                raise UsageError(f"{shown}: line {event.start_mark.line + 1}: nested more than {max_depth} levels deep",
                                 hint="check the file")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def compose(text: str, shown: str, max_depth: int = MAX_DEPTH):
    """The document's node tree (None for an empty document); UsageError of one line otherwise."""
    try:
        _guard(text, shown, max_depth)
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.composer.ComposerError as exc:
        if "expected a single document" in str(exc):
            raise UsageError(f"{shown}: more than one YAML document (---)", hint="keep one document") from None
        raise _syntax(shown, exc) from None
    except yaml.YAMLError as exc:
        raise _syntax(shown, exc) from None


def is_null(node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG


def kind(node) -> str:
    """How a message names what a node is."""
    if is_null(node):
        return "empty"
    return {yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list"}.get(type(node), "a single value")


def pairs(node, problems: list[str], at: str) -> dict[str, tuple]:
    """A mapping node's entries as {key text: (key node, value node)}; a key given twice is a problem
    (PyYAML would silently keep the last one)."""
    out: dict[str, tuple] = {}
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode):
            problems.append(f"line {line(key)}: {at}: a key must be a single word, not {kind(key)}")
            continue
        if key.value in out:
            problems.append(f"line {line(key)}: {at}: {key.value} is given twice (first on line {line(out[key.value][0])})")
            continue
        out[key.value] = (key, value)
    return out
