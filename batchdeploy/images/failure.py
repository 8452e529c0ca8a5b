"""A failed build, said in one line that names the Dockerfile line: `Dockerfile:3: unknown instruction:
FORM` rather than podman's `Error: building at STEP "FORM ": Build error: Unknown instruction: "FORM"
&imagebuilder.Step{Env:[]string{...}, ...}` (hundreds of characters).

The engines say where a build failed in two ways:
- podman (buildah): `Error: building at STEP "<instruction as it ran>": <what went wrong>`; the
  instruction is found in the Dockerfile (continuation lines joined, comments skipped) for its line;
- Docker (BuildKit, and the classic builder): `dockerfile parse error [on] line N: <what went wrong>`.
Anything else is left as the engine said it. Pure: reads the Dockerfile's text, runs nothing.
"""

from __future__ import annotations

import re

from batchdeploy.engine import useful_line

_STEP = re.compile(r'building at STEP "(?P<step>[^"]*)": (?P<what>.+)$')
_UNKNOWN = re.compile(r'^Build error: Unknown instruction: "(?P<word>[^"]+)"$')
_PARSE_LINE = re.compile(r"dockerfile parse error (?:on )?line (?P<line>\d+): (?P<what>.+)$")
_ESCAPE = re.compile(r"#\s*escape\s*=\s*(?P<char>\S)\s*$", re.IGNORECASE)


def instructions(text: str) -> list[tuple[int, str]]:
    """(first line number, the instruction with its continuation lines joined) for each instruction."""
    lines = text.splitlines()
    escape = "\\"
    for line in lines:  # parser directives come first, as comments
        m = _ESCAPE.fullmatch(line.strip())
        if m:
            escape = m["char"]
        if not line.strip().startswith("#"):
            break
    out: list[tuple[int, str]] = []
    start, parts = 0, None
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if parts is None:
            if not stripped or stripped.startswith("#"):
                continue
            start, parts = number, []
        elif stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith(escape):
            parts.append(stripped[: -len(escape)])
            continue
        parts.append(stripped)
        out.append((start, " ".join(parts)))
        parts = None
    if parts:
        out.append((start, " ".join(parts)))
    return out


def _words(text: str) -> list[str]:
    words = text.split()
    return [words[0].upper(), *words[1:]] if words else []


def step_line(dockerfile_text: str, step: str) -> int | None:
    """The line of the instruction podman reports as `building at STEP "<step>"`: the first whose words
    are the step's, else the first the step's words begin (podman drops the arguments of an unknown
    instruction: `FORM x` is reported as `FORM `)."""
    wanted = _words(step)
    if not wanted:
        return None
    found = instructions(dockerfile_text)
    for number, text in found:
        if _words(text) == wanted:
            return number
    for number, text in found:
        if _words(text)[: len(wanted)] == wanted:
            return number
    return None


def explain(engine_line: str, dockerfile_text: str, shown: str) -> str | None:
    """`<shown>:<line>: <what went wrong>` from the engine's last line, or None when that line does not
    say where the build failed. `shown` names the Dockerfile as the user knows it."""
    line = useful_line(engine_line) or engine_line
    m = _PARSE_LINE.search(line)
    if m:
        return f"{shown}:{m['line']}: {m['what']}"
    m = _STEP.search(line)
    if not m:
        return None
    what = m["what"].strip()
    unknown = _UNKNOWN.match(what)
    if unknown:
        what = f"unknown instruction: {unknown['word']}"
    number = step_line(dockerfile_text, m["step"])
    return f"{shown}:{number}: {what}" if number else f"{shown}: {m['step'].strip()}: {what}"
