"""-b's configuration: IMAGES pairs, BUILD_ARGS and --image selection (batchdeploy.images.spec)."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchdeploy import config, ui
from batchdeploy.errors import ConfigError, UsageError
from batchdeploy.images.spec import (
    ImagesOptions,
    ImageSpec,
    check_build_args,
    parse_build_args,
    parse_build_secrets,
    parse_images,
    select,
)


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


def test_a_secret_looking_build_argument_is_refused_with_the_fix():
    with pytest.raises(ConfigError) as err:
        check_build_args({"BASE_IMAGE": "x", "NPM_TOKEN": "t", "PIP_PASSWORD": "p"}, {}, None)
    line = err.value.line()
    assert err.value.exit_code == 2 and "\n" not in line
    assert line.startswith("BUILD_ARGS: NPM_TOKEN, PIP_PASSWORD look like secrets, and a build argument is stored")
    assert "BUILD_SECRETS=NPM_TOKEN PIP_PASSWORD" in line and "RUN --mount=type=secret,id=NPM_TOKEN" in line
    assert "BUILD_ARGS_PUBLIC=NPM_TOKEN PIP_PASSWORD" in line
    # Names that only look secret pass once listed; the others still count.
    check_build_args({"CACHE_KEY": "v2", "BASE_IMAGE": "x"}, {}, "CACHE_KEY OTHER")
    with pytest.raises(ConfigError, match="CACHE_KEY looks like a secret"):
        check_build_args({"CACHE_KEY": "v2"}, {}, "OTHER")


def test_a_password_in_a_url_is_a_secret_whatever_the_name():
    value = "https://user:canary-url-pw-123@pypi.example/simple"
    args = parse_build_args(f"PIP_INDEX_URL={value} MIRROR=https://pypi.example/simple HOST=a:b@c")
    assert ui.redact(value) == "****"
    with pytest.raises(ConfigError, match=r"^BUILD_ARGS: PIP_INDEX_URL looks like a secret"):
        check_build_args(args, {}, None)
    check_build_args(args, {}, "PIP_INDEX_URL")


def test_a_name_both_a_build_argument_and_a_build_secret_is_refused():
    with pytest.raises(ConfigError, match="API_URL is also in BUILD_SECRETS") as err:
        check_build_args({"API_URL": "u"}, {"API_URL": "https://user:pw@host"}, "API_URL")
    assert "remove API_URL from BUILD_ARGS" in err.value.line()


def test_build_secrets_take_their_values_from_the_lookup_and_are_masked():
    found = {"NPM_TOKEN": "canary-npm-0123456789", "PIP_INDEX_URL": "https://u:canary-pip-987654@pypi.example"}
    secrets = parse_build_secrets(" NPM_TOKEN  PIP_INDEX_URL NPM_TOKEN ", found.get)
    assert secrets == found and list(secrets) == ["NPM_TOKEN", "PIP_INDEX_URL"]
    assert ui.redact(f"a {found['NPM_TOKEN']} b {found['PIP_INDEX_URL']}") == "a **** b ****"
    assert parse_build_secrets(None, found.get) == {} and parse_build_secrets("", found.get) == {}


def test_a_build_secret_without_a_value_or_with_a_bad_name():
    with pytest.raises(ConfigError) as err:
        parse_build_secrets("NPM_TOKEN GH_TOKEN", {"GH_TOKEN": ""}.get)
    assert err.value.line() == (
        "BUILD_SECRETS names NPM_TOKEN, GH_TOKEN, which are not set; "
        "set NPM_TOKEN=... in .aws_env or the environment, or drop it from BUILD_SECRETS"
    )
    with pytest.raises(ConfigError, match="'a-b' is not a name"):
        parse_build_secrets("a-b", {}.get)


def test_options_read_a_secret_from_the_configuration_else_the_environment(tmp_path):
    import argparse

    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    cfg = cfg_in(tmp_path, PROJECT_NAME="p", AWS_REGISTRY="127.0.0.1:5000", BUILD_SECRETS="A_TOKEN B_TOKEN",
                 A_TOKEN="from-the-config-1")
    options = ImagesOptions.from_config(cfg, argparse.Namespace(), {"A_TOKEN": "env-loses", "B_TOKEN": "from-env-22"})
    assert options.build_secrets == {"A_TOKEN": "from-the-config-1", "B_TOKEN": "from-env-22"}
    assert "from-the-config-1" not in repr(options) and "from-env-22" not in repr(options)
    refused = cfg_in(tmp_path, PROJECT_NAME="p", AWS_REGISTRY="127.0.0.1:5000", BUILD_ARGS="GH_TOKEN=abc")
    with pytest.raises(ConfigError, match="GH_TOKEN looks like a secret"):
        ImagesOptions.from_config(refused, argparse.Namespace(), {})
