"""What one -b run is asked to do: IMAGES as `name=context-folder` pairs, BUILD_ARGS, `--image` and
`--force`, the registry, gathered in one typed `ImagesOptions`.

Pure: reads the configuration and looks at the folders, calls no engine and no network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from batchdeploy.errors import ConfigError, UsageError
from batchdeploy.images.registry import Registry
from batchdeploy.secrets import is_secret, register_secret

# Docker's grammar for one path component of a repository name.
NAME = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
BUILD_ARG_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class ImageSpec:
    name: str
    context: Path
    dockerfile: Path
    label: str  # the context folder as configured, for messages


def parse_images(value: str | None, project_name: str | None, cfg) -> list[ImageSpec]:
    """IMAGES as `name=context-folder` pairs; none given: one image named PROJECT_NAME from `.`."""
    pairs = value.split() if value else [f"{project_name}=."]
    problems, specs, seen = [], [], set()
    for pair in pairs:
        name, sep, folder = pair.partition("=")
        if not sep or not folder:
            problems.append(f"{pair!r} is not name=context-folder")
            continue
        if not NAME.fullmatch(name):
            problems.append(f"image name {name!r} must be lowercase letters and digits, separated by . _ or -")
            continue
        if name in seen:
            problems.append(f"image {name!r} is named twice")
            continue
        seen.add(name)
        context = cfg.path(folder)
        specs.append(ImageSpec(name, context, context / "Dockerfile", folder))
    if problems:
        raise ConfigError("IMAGES", problems, hint="e.g. IMAGES=app=. worker=worker (name=context-folder pairs)")
    return specs


def parse_build_args(value: str | None) -> dict[str, str]:
    """BUILD_ARGS as `KEY=value` pairs; a value whose key names a secret is registered as one."""
    args = {}
    for pair in (value or "").split():
        key, sep, val = pair.partition("=")
        if not sep or not BUILD_ARG_KEY.fullmatch(key):
            raise ConfigError(f"BUILD_ARGS: {pair!r} is not KEY=value", hint="e.g. BUILD_ARGS=BASE_IMAGE=python:3.12-slim")
        args[key] = val
        if is_secret(key):
            register_secret(val)
    return args


def select(specs: list[ImageSpec], wanted: list[str] | None) -> list[ImageSpec]:
    if not wanted:
        return specs
    known = {s.name for s in specs}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise UsageError(f"--image {', '.join(unknown)}: not in IMAGES", hint=f"known: {', '.join(sorted(known))}")
    return [s for s in specs if s.name in wanted]


def check_contexts(specs: list[ImageSpec]) -> None:
    problems = []
    for s in specs:
        if not s.context.is_dir():
            problems.append(f"image {s.name}: context folder {s.context} does not exist")
        elif not s.dockerfile.is_file():
            problems.append(f"image {s.name}: no Dockerfile in {s.context}")
    if problems:
        raise ConfigError("IMAGES", problems, hint="each context folder needs a Dockerfile")


@dataclass(frozen=True)
class ImagesOptions:
    registry: Registry
    specs: tuple[ImageSpec, ...]
    build_args: dict[str, str]
    version: str  # VERSION: the movable tag pushed beside the content tag (and `latest`)
    project: str | None  # PROJECT_NAME: tags the ECR repositories -b creates
    force: bool  # --force: rebuild without the cache, push as a new content tag
    container_cli: str | None  # CONTAINER_CLI, else the engine is chosen
    state_dir: Path  # left out of the content tag (it changes on every run)
    env_file: Path | None  # warned about when the build context would send it

    @classmethod
    def from_config(cls, cfg, args) -> ImagesOptions:
        """Every key checked first, then IMAGES and --image, BUILD_ARGS, AWS_REGISTRY, the folders."""
        images_value = cfg.get("IMAGES")
        required = ["AWS_REGISTRY"] + ([] if images_value else ["PROJECT_NAME"])
        cfg.require(*required, optional=("IMAGES", "BUILD_ARGS", "CONTAINER_CLI", "VERSION", "PROJECT_NAME"))
        specs = select(parse_images(images_value, cfg.get("PROJECT_NAME"), cfg), getattr(args, "image", None))
        build_args = parse_build_args(cfg.get("BUILD_ARGS"))
        registry = Registry.parse(cfg["AWS_REGISTRY"])
        check_contexts(specs)
        return cls(
            registry=registry,
            specs=tuple(specs),
            build_args=build_args,
            version=cfg.get("VERSION", "latest"),
            project=cfg.get("PROJECT_NAME"),
            force=bool(getattr(args, "force", False)),
            container_cli=cfg.get("CONTAINER_CLI"),
            state_dir=cfg.state_dir(),
            env_file=cfg.env_file,
        )
