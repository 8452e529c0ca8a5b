"""`-b`: build the images and push them to AWS_REGISTRY, content-addressed (batchdeploy.images).

The wiring: options from the configuration and flags, the engine, the registry, then each image in
turn. What was pushed (tag and digest) is recorded in the state's IMAGES file after each image, so
`-u` pins the exact build and a failure later on keeps what already went through.
"""

from __future__ import annotations

from batchdeploy.engine import build_secrets_supported, choose
from batchdeploy.errors import ConfigError
from batchdeploy.images import launcher
from batchdeploy.images.pipeline import Images, Outcome
from batchdeploy.images.remote import Remote
from batchdeploy.images.spec import ImagesOptions
from batchdeploy.state import IMAGES, iso, now


def record(state, outcome: Outcome, version: str, launcher: bool = False, python: str | None = None) -> None:
    """images.json after a push (or a look-up that found the build): only this image's entry."""
    data = state.read(IMAGES)
    images = dict(data.get("images") or {})
    old = images.get(outcome.image) or {}
    entry = {
        "repository": outcome.repository,
        "tag": outcome.tag,
        "digest": outcome.digest,
        "version": version,
        "launcher": launcher,  # the Dockerfile copies batchdeploy-launch in (images.launcher)
        "python": python,  # its python3's major.minor, asked when it has the launcher (images.launcher)
        # Unchanged build: keep when it was first recorded.
        "pushed_at": old.get("pushed_at") if old.get("digest") == outcome.digest and old.get("pushed_at") else iso(now()),
    }
    if old == entry:
        return
    images[outcome.image] = entry
    state.write(IMAGES, {**data, "images": images})


def image_python(engine, outcome: Outcome, previous: dict) -> str | None:
    """The image's Python: as recorded for this digest, else asked of the local image (built or
    pulled by this run; an up-to-date image not present locally stays unknown: nothing is pulled)."""
    known = launcher.recorded_python(previous, outcome.digest)
    if known:
        return known
    source = f"{outcome.repository}:{outcome.tag}" if outcome.action == "pushed" else f"{outcome.repository}@{outcome.digest}"
    return launcher.ask_python(engine, source)


def result_line(outcome: Outcome) -> str:
    line = f"{outcome.action}: {outcome.repository}:{outcome.tag}@{outcome.digest}"
    if outcome.tags:
        line += f" (tags {', '.join(outcome.tags)})"
    return line


def report(outcomes: list[Outcome], engine_name: str, lookups: int) -> dict:
    """The --output json document."""
    return {
        "images": [
            {
                "image": o.image,
                "repository": o.repository,
                "tag": o.tag,
                "digest": o.digest,
                "action": o.action,
                "tags_pushed": list(o.tags),
            }
            for o in outcomes
        ],
        "engine": engine_name,
        "registry_lookups": lookups,
    }


def main(ctx) -> int:
    options = ImagesOptions.from_config(ctx.cfg, ctx.args)
    engine = choose(options.container_cli)
    engine.out = ctx.out
    if options.build_secrets and not build_secrets_supported(engine):
        raise ConfigError(
            f"BUILD_SECRETS needs BuildKit, and {engine.name} has no buildx component",
            hint="install docker buildx (https://docs.docker.com/go/buildx/) or set CONTAINER_CLI=podman",
        )
    reg = options.registry
    remote = Remote(
        engine, reg, options.project, ctx.out, ctx.state, lambda: ctx.aws.client("ecr", region_name=reg.region)
    )
    work = Images(options, engine, remote, ctx.out)
    state = ctx.state
    outcomes = []
    for spec in options.specs:
        previous = (state.read(IMAGES).get("images") or {}).get(spec.name) or {}
        has_launcher = launcher.provide(spec.context, spec.dockerfile)
        outcome = work.process(spec, previous)
        python = image_python(engine, outcome, previous) if has_launcher else None
        record(state, outcome, options.version, has_launcher, python)
        outcomes.append(outcome)
        if not ctx.out.json:
            ctx.out.result(result_line(outcome))
    if ctx.out.json:
        ctx.out.emit_json(report(outcomes, engine.name, remote.lookups))
    return 0
