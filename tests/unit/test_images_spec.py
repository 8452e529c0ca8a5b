"""-b's configuration: IMAGES pairs, BUILD_ARGS and --image selection (batchdeploy.images.spec)."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchdeploy import config, ui
from batchdeploy.errors import ConfigError, UsageError
from batchdeploy.images.spec import ImageSpec, parse_build_args, parse_images, select


def cfg_in(tmp_path, **values):
    return config.Config(values, {}, None, tmp_path)


def test_default_is_one_image_named_after_the_project_from_the_project_folder(tmp_path):
    (spec,) = parse_images(None, "dirtyduck", cfg_in(tmp_path))
    assert (spec.name, spec.context, spec.dockerfile) == ("dirtyduck", tmp_path / ".", tmp_path / "." / "Dockerfile")


def test_images_pairs_are_relative_to_the_project(tmp_path):
    specs = parse_images("app=. worker=src/worker", "p", cfg_in(tmp_path))
    assert [(s.name, s.context) for s in specs] == [("app", tmp_path / "."), ("worker", tmp_path / "src/worker")]


def test_every_bad_pair_is_reported_at_once(tmp_path):
    with pytest.raises(ConfigError) as err:
        parse_images("A=. b c=. c=x", "p", cfg_in(tmp_path))
    text = err.value.line()
    assert "'A' must be lowercase" in text and "'b' is not name=context-folder" in text and "'c' is named twice" in text


def test_build_args_and_their_secrets(tmp_path):
    assert parse_build_args("BASE_IMAGE=python:3.12-slim EMPTY=") == {"BASE_IMAGE": "python:3.12-slim", "EMPTY": ""}
    parse_build_args("PIP_TOKEN=canary-canary-123")
    assert ui.redact("x canary-canary-123 y") == "x **** y"
    with pytest.raises(ConfigError):
        parse_build_args("no-equals")


def test_select_names_unknown_images():
    specs = [ImageSpec("a", Path("."), Path("D"), "."), ImageSpec("b", Path("."), Path("D"), ".")]
    assert [s.name for s in select(specs, ["b"])] == ["b"]
    with pytest.raises(UsageError) as err:
        select(specs, ["c"])
    assert err.value.line() == "--image c: not in IMAGES; known: a, b"
