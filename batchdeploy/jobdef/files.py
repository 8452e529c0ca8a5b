"""Job definition files: found (JOB_DEFINITIONS), read, rendered (`${VAR}`) and checked, all before any
AWS call. Any problem in any file is reported with the others and nothing is registered.

`${IMAGE_TAG}` is the tag `-b` recorded (`.batchdeploy/images.json`), else IMAGE_TAG, else VERSION.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from batchdeploy import config, userjson
from batchdeploy.errors import ConfigError
from batchdeploy.jobdef import check as definition
from batchdeploy.jobdef import compare
from batchdeploy.jobdef.images import built_names, image_problems
from batchdeploy.secrets import is_secret
from batchdeploy.state import IMAGES

DEFAULT_FILE = "job-definition.json"


@dataclass
class Source:
    """One job definition file, read, rendered and checked."""

    path: Path
    shown: str  # as the user names it: relative to the project folder when inside it
    definition: dict | None = None
    request: dict | None = None  # what RegisterJobDefinition is sent, tags included
    content_hash: str = ""
    uses_image_tag: bool = False

    @property
    def name(self) -> str:
        return self.definition["jobDefinitionName"]


def _shown(cfg, path: Path) -> str:
    try:
        return str(path.relative_to(cfg.project_dir))
    except ValueError:
        return str(path)


def find_files(cfg) -> tuple[list[Path], list[str]]:
    """The files JOB_DEFINITIONS names, folders expanded to their *.json files (sorted)."""
    raw = cfg.get("JOB_DEFINITIONS") or DEFAULT_FILE
    try:
        entries = shlex.split(raw)
    except ValueError as exc:
        raise ConfigError(f"JOB_DEFINITIONS={raw!r} cannot be split into paths: {exc}") from None
    files: list[Path] = []
    problems: list[str] = []
    for entry in entries:
        path = cfg.path(entry)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix == ".json" and p.is_file() and not p.name.startswith("."))
            if not found:
                problems.append(f"{entry}: the folder holds no .json file")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            example = path.with_name(path.name + ".example")
            hint = (
                f"copy {_shown(cfg, example)} to {entry} and adapt it"
                if example.is_file()
                else "check JOB_DEFINITIONS in .aws_env"
            )
            problems.append(f"{entry}: no such file ({hint})")
    unique: list[Path] = []
    for p in files:
        if p.resolve() not in {u.resolve() for u in unique}:
            unique.append(p)
    return unique, problems


def _parse_json(text: str, shown: str, problems: list[str]):
    duplicates: list[str] = []

    def pairs(items):
        seen = {}
        for k, v in items:
            if k in seen:
                duplicates.append(k)
            seen[k] = v
        return seen

    try:
        data = userjson.parse_json(text, shown, object_pairs_hook=pairs)  # bounded depth, no NaN, ...
    except ConfigError as exc:
        problems.append(exc.message)
        return None
    for key in dict.fromkeys(duplicates):
        problems.append(f"{shown}: key {key!r} appears twice in one object (JSON keeps only the last)")
    return data


def _placeholders(node, where=""):
    """(name, json path, in_key) of every ${VAR} in `node`, keys included."""
    if isinstance(node, dict):
        for k, v in node.items():
            here = f"{where}.{k}" if where else k
            for m in config.PLACEHOLDER.finditer(k):
                yield m.group(1), here, True
            yield from _placeholders(v, here)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _placeholders(v, f"{where}[{i}]")
    elif isinstance(node, str):
        for m in config.PLACEHOLDER.finditer(node):
            yield m.group(1), where or "(top)", False


def resolve_image_tag(cfg, images: dict) -> tuple[str | None, str]:
    """`${IMAGE_TAG}`: IMAGE_TAG set in .aws_env, else the tag `-b` pushed for the image named
    PROJECT_NAME (else the only image), else VERSION. None with the reason when it is ambiguous."""
    if cfg.get("IMAGE_TAG"):
        return cfg["IMAGE_TAG"], f"IMAGE_TAG in {cfg.sources.get('IMAGE_TAG', 'the configuration')}"
    project = cfg.get("PROJECT_NAME")
    recorded = {k: v for k, v in (images or {}).items() if isinstance(v, dict) and v.get("tag")}
    if project in recorded:
        chosen = project
    elif len(recorded) == 1:
        chosen = next(iter(recorded))
    elif not recorded:
        return cfg.get("VERSION", "latest"), "VERSION (no image pushed yet by ./deploy.sh -b)"
    else:
        names = ", ".join(sorted(recorded))
        return None, f"images.json records several images ({names}) and none is named {project}"
    entry = recorded[chosen]
    when = f", pushed {entry['pushed_at']}" if entry.get("pushed_at") else ""
    return entry["tag"], f"image {chosen} in .batchdeploy/{IMAGES}{when}"


def _image_problems(cfg, src: Source) -> list[str]:
    from batchdeploy.state import State

    image = (src.definition.get("containerProperties") or {}).get("image")
    built = built_names(cfg.get("IMAGES"), cfg.get("PROJECT_NAME"))
    recorded = (State(cfg.state_dir()).read(IMAGES) or {}).get("images") or {}
    return image_problems(src.shown, image, cfg.get("AWS_REGISTRY"), built, recorded)


def load_sources(cfg, image_tag: str | None, image_tag_origin: str, region: str | None = None):
    """Read, render and check every file. Returns (sources, warnings), or raises ConfigError with
    every problem of every file."""
    paths, problems = find_files(cfg)
    # A region from the profile: ${AWS_REGION} works either way.
    extra = {"AWS_REGION": region} if region and not cfg.variables().get("AWS_REGION") else None
    warnings: list[str] = []
    sources: list[Source] = []
    for path in paths:
        src, found, warned = load_file(cfg, path, image_tag, image_tag_origin, variables=extra)
        problems += found
        warnings += warned
        if src is not None:
            sources.append(src)
            problems += _image_problems(cfg, src)
    by_name: dict[str, str] = {}
    for src in sources:
        if src.name in by_name:
            problems.append(f"{src.shown}: jobDefinitionName {src.name!r} is also defined in {by_name[src.name]}")
        by_name.setdefault(src.name, src.shown)
    if problems:
        n = len(problems)
        raise ConfigError(
            f"{n} problem{'s' if n > 1 else ''} in the job definitions",
            problems,
            hint="nothing was registered; fix them and run again",
        )
    if not sources:
        raise ConfigError("JOB_DEFINITIONS names no job definition file", hint="list files or folders in .aws_env")
    return sources, warnings


def _refuse_placeholders(src: Source, data, image_tag: str | None, image_tag_origin: str):
    """({name: stand-in}, problems) for the ${VAR}s a file may not use: in a key, a secret's, or
    ${IMAGE_TAG} when it cannot be told. Notes on `src` whether the file uses ${IMAGE_TAG}."""
    problems: list[str] = []
    stand_ins: dict[str, str] = {}
    for name, where, in_key in _placeholders(data):
        if in_key:
            problems.append(f"{src.shown}: ${{{name}}} in the key {where}: placeholders are filled in values only")
        elif is_secret(name):
            problems.append(
                f"{src.shown}: ${{{name}}} at {where} is a secret; a job definition is readable by anyone "
                "allowed batch:DescribeJobDefinitions, so use containerProperties.secrets instead"
            )
            stand_ins[name] = ""
        elif name == "IMAGE_TAG":
            src.uses_image_tag = True
            if image_tag is None:
                problems.append(f"{src.shown}: ${{IMAGE_TAG}} at {where}: {image_tag_origin}; set IMAGE_TAG in .aws_env")
                stand_ins[name] = ""
    return stand_ins, problems


def load_file(cfg, path: Path, image_tag: str | None, image_tag_origin: str, *, shown: str | None = None,
              variables: dict | None = None,
              default_name: str | None = None) -> tuple[Source | None, list[str], list[str]]:
    """One file read, rendered and checked as `load_sources` does it for each file of JOB_DEFINITIONS.

    `shown` names the file in messages (default: relative to the project folder); `variables` are
    values for `${VAR}` beside the configuration's (a secret's placeholder is refused all the same);
    `default_name` is the jobDefinitionName of a file that leaves it out. Returns (source, problems,
    warnings), each line naming the file: the source is None when the file cannot be read, rendered
    or checked, and any problem means it must not be registered."""
    project = cfg["PROJECT_NAME"]
    src = Source(path, shown or _shown(cfg, path))
    problems: list[str] = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None, [f"{src.shown}: not UTF-8 text"], []
    except OSError as exc:
        return None, [f"{src.shown}: cannot read it ({exc.strerror})"], []
    data = _parse_json(text, src.shown, problems)
    if data is None:
        return None, problems, []
    values = {k: v for k, v in cfg.variables().items() if not is_secret(k)}
    if image_tag is not None:
        values["IMAGE_TAG"] = image_tag
    values.update(variables or {})
    stand_ins, refused = _refuse_placeholders(src, data, image_tag, image_tag_origin)
    problems += refused
    try:
        rendered = config.render(data, {**values, **stand_ins}, src.shown)
    except ConfigError as exc:
        for unknown in exc.problems:
            var = unknown.split("}", 1)[0].lstrip("${")
            problems.append(f"{src.shown}: unknown placeholder {unknown} (define {var} in .aws_env)")
        return None, problems, []
    if refused:
        return None, problems, []
    defn = definition.tidy(rendered)
    if default_name and isinstance(defn, dict):
        defn.setdefault("jobDefinitionName", default_name)
    found = definition.check(defn, project)
    problems += [f"{src.shown}: {p}" for p in found.problems]
    warnings = [f"{src.shown}: {w}" for w in found.warnings]
    if found.problems:
        return None, problems, warnings
    src.definition = defn
    base = definition.build_request(defn, project)
    src.content_hash = compare.content_hash(base)
    src.request = definition.build_request(defn, project, src.content_hash)
    return src, problems, warnings


def rebuilt(cfg, src: Source, defn: dict) -> Source:
    """`src` with definition `defn` (SECRETS' references added), checked, its request and content hash
    made again as `load_file` makes them."""
    project = cfg["PROJECT_NAME"]
    found = definition.check(defn, project)
    if found.problems:
        raise ConfigError(f"{src.shown} with the SECRETS references", [f"{src.shown}: {p}" for p in found.problems])
    new = Source(src.path, src.shown, defn, uses_image_tag=src.uses_image_tag)
    base = definition.build_request(defn, project)
    new.content_hash = compare.content_hash(base)
    new.request = definition.build_request(defn, project, new.content_hash)
    return new


def names_in_files(cfg) -> list[str]:
    """The jobDefinitionName of each file JOB_DEFINITIONS names (${VAR} filled), for `-r` in a folder
    where -u never ran; files that cannot be read or name none are skipped (-u reports them)."""
    names: list[str] = []
    for path in find_files(cfg)[0]:
        try:
            data = userjson.parse_json(path.read_text(encoding="utf-8"), str(path))
        except (OSError, UnicodeDecodeError, ConfigError):
            continue
        raw = data.get("jobDefinitionName") if isinstance(data, dict) else None
        if isinstance(raw, str):
            name = config.PLACEHOLDER.sub(lambda m: cfg.variables().get(m.group(1), m.group(0)), raw)
            if "${" not in name:
                names.append(name)
    return list(dict.fromkeys(names))
