"""What one -b run is asked to do: IMAGES as `name=context-folder` pairs, BUILD_ARGS, BUILD_SECRETS,
`--image` and `--force`, the registry, gathered in one typed `ImagesOptions`.

A build argument is stored in the image (its history and its config, readable by anyone who can pull
it), so one whose name looks secret (`secrets.is_secret`) is refused before anything is built, with
the fix: pass it as a build secret (BUILD_SECRETS, `RUN --mount=type=secret,id=NAME`), or, when the
name only looks secret, list it in BUILD_ARGS_PUBLIC.

Pure: reads the configuration and looks at the folders, calls no engine and no network.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from batchdeploy.errors import ConfigError, UsageError
from batchdeploy.images.registry import Registry
from batchdeploy.secrets import is_secret, register_secret, url_passwords

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
        if is_secret(key) or url_passwords(val):
            register_secret(val)
    return args


def parse_build_secrets(value: str | None, lookup: Callable[[str], str | None]) -> dict[str, str]:
    """BUILD_SECRETS: names whose values `lookup` finds (the configuration, else the environment);
    every value is registered as a secret. A name without a value is an error."""
    names = list(dict.fromkeys((value or "").split()))
    bad = [n for n in names if not BUILD_ARG_KEY.fullmatch(n)]
    if bad:
        raise ConfigError(f"BUILD_SECRETS: {', '.join(map(repr, bad))} is not a name", hint="e.g. BUILD_SECRETS=NPM_TOKEN")
    values = {name: lookup(name) for name in names}
    missing = [n for n, v in values.items() if not v]
    if missing:
        raise ConfigError(
            f"BUILD_SECRETS names {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not set",
            hint=f"set {missing[0]}=... in .aws_env or the environment, or drop it from BUILD_SECRETS",
        )
    for secret in values.values():
        register_secret(secret)
    return values


def check_build_args(build_args: dict[str, str], secret_names, public: str | None) -> None:
    """Refuse a build argument that would store a secret in the image: one whose name looks secret or
    whose value holds a password in a URL (unless BUILD_ARGS_PUBLIC lists it), or one BUILD_SECRETS
    also names."""
    both = sorted(k for k in build_args if k in secret_names)
    if both:
        raise ConfigError(
            f"BUILD_ARGS: {', '.join(both)} is also in BUILD_SECRETS, and a build argument is stored in the image",
            hint=f"remove {both[0]} from BUILD_ARGS and read it with RUN --mount=type=secret,id={both[0]}",
        )
    allowed = set((public or "").split())
    secret = sorted(k for k, v in build_args.items() if (is_secret(k) or url_passwords(v)) and k not in allowed)
    if secret:
        names = " ".join(secret)
        raise ConfigError(
            f"BUILD_ARGS: {', '.join(secret)} {'looks like a secret' if len(secret) == 1 else 'look like secrets'}, "
            f"and a build argument is stored in the image (history and config) for anyone who can pull it",
            hint=f"pass it as a build secret: BUILD_SECRETS={names}, the value on a line of its own ({secret[0]}=...) "
            f"and RUN --mount=type=secret,id={secret[0]} in the Dockerfile; "
            f"if it is no secret, BUILD_ARGS_PUBLIC={names}",
        )


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
    # BUILD_SECRETS: name -> value, handed to the engine as build secrets (never shown, never stored)
    build_secrets: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_config(cls, cfg, args, environ: dict | None = None) -> ImagesOptions:
        """Every key checked first, then IMAGES and --image, BUILD_ARGS and BUILD_SECRETS, AWS_REGISTRY,
        the folders. A secret's value: the configuration's, else `environ`'s (the process environment)."""
        environ = os.environ if environ is None else environ
        images_value = cfg.get("IMAGES")
        required = ["AWS_REGISTRY"] + ([] if images_value else ["PROJECT_NAME"])
        optional = ("IMAGES", "BUILD_ARGS", "BUILD_SECRETS", "BUILD_ARGS_PUBLIC", "CONTAINER_CLI", "VERSION")
        cfg.require(*required, optional=(*optional, "PROJECT_NAME"))
        specs = select(parse_images(images_value, cfg.get("PROJECT_NAME"), cfg), getattr(args, "image", None))
        build_args = parse_build_args(cfg.get("BUILD_ARGS"))
        build_secrets = parse_build_secrets(cfg.get("BUILD_SECRETS"), lambda n: cfg.get(n) or environ.get(n))
        check_build_args(build_args, build_secrets, cfg.get("BUILD_ARGS_PUBLIC"))
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
            build_secrets=build_secrets,
        )
