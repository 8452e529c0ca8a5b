"""-b's pure parts: configuration parsing, registry names, ECR requests, token expiry, engine choice."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from pathlib import Path

import pytest

from batchdeploy import config, engine, images, registry, ui
from batchdeploy.aws.shapes import request as validate_request
from batchdeploy.errors import ConfigError, OperationError, UsageError
from batchdeploy.state import State

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def cfg_in(tmp_path, **values):
    return config.Config(values, {}, None, tmp_path)


def test_default_is_one_image_named_after_the_project_from_the_project_folder(tmp_path):
    (spec,) = images.parse_images(None, "dirtyduck", cfg_in(tmp_path))
    assert (spec.name, spec.context, spec.dockerfile) == ("dirtyduck", tmp_path / ".", tmp_path / "." / "Dockerfile")


def test_images_pairs_are_relative_to_the_project(tmp_path):
    specs = images.parse_images("app=. worker=src/worker", "p", cfg_in(tmp_path))
    assert [(s.name, s.context) for s in specs] == [("app", tmp_path / "."), ("worker", tmp_path / "src/worker")]


def test_every_bad_pair_is_reported_at_once(tmp_path):
    with pytest.raises(ConfigError) as err:
        images.parse_images("A=. b c=. c=x", "p", cfg_in(tmp_path))
    text = err.value.line()
    assert "'A' must be lowercase" in text and "'b' is not name=context-folder" in text and "'c' is named twice" in text


def test_build_args_and_their_secrets(tmp_path):
    assert images.parse_build_args("BASE_IMAGE=python:3.12-slim EMPTY=") == {"BASE_IMAGE": "python:3.12-slim", "EMPTY": ""}
    images.parse_build_args("PIP_TOKEN=canary-canary-123")
    assert ui.redact("x canary-canary-123 y") == "x **** y"
    with pytest.raises(ConfigError):
        images.parse_build_args("no-equals")


def test_select_names_unknown_images():
    specs = [images.ImageSpec("a", Path("."), Path("D"), "."), images.ImageSpec("b", Path("."), Path("D"), ".")]
    assert [s.name for s in images.select(specs, ["b"])] == ["b"]
    with pytest.raises(UsageError) as err:
        images.select(specs, ["c"])
    assert err.value.line() == "--image c: not in IMAGES; known: a, b"


@pytest.mark.parametrize(
    "value,host,ns,account,region,loopback",
    [
        ("123456789012.dkr.ecr.us-west-2.amazonaws.com", "123456789012.dkr.ecr.us-west-2.amazonaws.com", "", "123456789012", "us-west-2", False),
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/team", "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "team", "123456789012", "cn-north-1", False),
        ("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", "", "123456789012", "us-gov-west-1", False),
        ("127.0.0.1:5000", "127.0.0.1:5000", "", None, None, True),
        ("localhost:5000/a/b", "localhost:5000", "a/b", None, None, True),
        ("registry.example.com", "registry.example.com", "", None, None, False),
        ("12345.dkr.ecr.us-west-2.amazonaws.com", "12345.dkr.ecr.us-west-2.amazonaws.com", "", None, None, False),
    ],
)
def test_registry_names(value, host, ns, account, region, loopback):
    r = registry.Registry.parse(value)
    assert (r.host, r.namespace, r.account, r.region, r.loopback) == (host, ns, account, region, loopback)
    assert r.reference("app") == f"{host}/{ns + '/' if ns else ''}app"


def test_the_create_repository_request_is_valid_for_botocore():
    reg = registry.Registry.parse("123456789012.dkr.ecr.us-west-2.amazonaws.com/team")
    req = registry.create_repository_request("team/app", reg, "dirtyduck", registry.mutability_enum())
    assert validate_request("ecr", "CreateRepository", req) == []
    assert req["imageScanningConfiguration"] == {"scanOnPush": True}
    assert req["imageTagMutability"] == "MUTABLE_WITH_EXCLUSION"
    assert req["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "c-*"}]


def test_an_older_botocore_without_exclusions_gets_mutable_tags():
    assert registry.mutability_settings(["MUTABLE", "IMMUTABLE"]) == {"imageTagMutability": "MUTABLE"}


@pytest.mark.parametrize(
    "expires_at,expected",
    [
        (dt.datetime(2015, 1, 1, tzinfo=dt.timezone.utc), NOW + dt.timedelta(hours=12)),  # moto's
        (None, NOW + dt.timedelta(hours=12)),
        (NOW + dt.timedelta(hours=11), NOW + dt.timedelta(hours=11)),
        (NOW + dt.timedelta(hours=30), NOW + dt.timedelta(hours=12)),
        ((NOW + dt.timedelta(hours=5)).replace(tzinfo=None), NOW + dt.timedelta(hours=5)),
        ((NOW + dt.timedelta(hours=5)).timestamp(), NOW + dt.timedelta(hours=5)),
    ],
)
def test_token_expiry(expires_at, expected):
    assert registry.effective_expiry(expires_at, NOW) == expected


def test_a_login_is_reused_only_for_the_same_engine_and_auth_file_with_an_hour_left():
    key = {"engine": "/usr/bin/podman", "auth": "podman-default"}
    good = {**key, "expires_at": (NOW + dt.timedelta(hours=2)).isoformat()}
    assert registry.login_reusable(good, key, NOW)
    assert not registry.login_reusable({**good, "expires_at": (NOW + dt.timedelta(minutes=59)).isoformat()}, key, NOW)
    assert not registry.login_reusable(good, {**key, "auth": "/tmp/auth.json"}, NOW)
    assert not registry.login_reusable(good, {**key, "engine": "/usr/bin/docker"}, NOW)
    assert not registry.login_reusable(None, key, NOW)
    assert not registry.login_reusable({**key, "expires_at": "garbage"}, key, NOW)


@pytest.mark.parametrize(
    "message,auth",
    [
        ("unauthorized: authentication required", True),
        ("denied: Your authorization token has expired. Reauthenticate and try again.", True),
        ("no basic auth credentials", True),
        ("manifest invalid", False),
        ("connection refused", False),
    ],
)
def test_which_push_failures_call_for_a_new_login(message, auth):
    assert registry.looks_like_auth_failure(message) is auth


def test_credentials_the_engine_stored(tmp_path):
    auth = tmp_path / "auth.json"
    token = base64.b64encode(b"AWS:stored-password-123").decode()
    auth.write_text(json.dumps({"auths": {"https://reg.example.com/v1/": {"auth": token}, "other:1": {}}}))
    env = {"REGISTRY_AUTH_FILE": str(auth), "HOME": str(tmp_path)}
    assert registry.stored_credentials("reg.example.com", "podman", env) == ("AWS", "stored-password-123")
    assert ui.redact("stored-password-123") == "****"
    assert registry.stored_credentials("other:1", "podman", env) is None
    (tmp_path / ".docker").mkdir()
    (tmp_path / ".docker" / "config.json").write_text(json.dumps({"auths": {"reg.example.com": {"auth": token}}}))
    assert registry.stored_credentials("reg.example.com", "docker", {"HOME": str(tmp_path)}) == ("AWS", "stored-password-123")
    assert registry.stored_credentials("reg.example.com", "docker", {"HOME": str(tmp_path / "nowhere")}) is None


def test_the_state_records_one_image_and_keeps_when_an_unchanged_build_was_pushed(tmp_path):
    state = State(tmp_path / ".batchdeploy")
    state.write("images.json", {"images": {"other": {"tag": "x"}}})
    first = images.Outcome("app", "r/app", "c-1", "sha256:1", "pushed")
    images.record(state, first, "1.0")
    entry = state.read("images.json")["images"]["app"]
    assert set(entry) == {"repository", "tag", "digest", "version", "pushed_at"}
    assert state.read("images.json")["images"]["other"] == {"tag": "x"}
    images.record(state, images.Outcome("app", "r/app", "c-1", "sha256:1", "tagged"), "2.0")
    again = state.read("images.json")["images"]["app"]
    assert again["version"] == "2.0" and again["pushed_at"] == entry["pushed_at"]


# -- engine choice (tiny scripts on a private PATH stand in for the CLIs) --------------------------


def script(folder: Path, name: str, exit_code: int) -> Path:
    p = folder / name
    p.write_text(f"#!/bin/sh\nexit {exit_code}\n")
    p.chmod(0o755)
    return p


def test_docker_when_its_engine_answers(tmp_path):
    script(tmp_path, "docker", 0)
    script(tmp_path, "podman", 0)
    e = engine.choose(None, {"PATH": str(tmp_path)})
    assert (e.name, e.flavor) == ("docker", "docker")


def test_podman_when_docker_does_not_answer(tmp_path):
    script(tmp_path, "docker", 1)
    script(tmp_path, "podman", 0)
    e = engine.choose(None, {"PATH": str(tmp_path)})
    assert (e.name, e.flavor) == ("podman", "podman")


def test_container_cli_chooses_and_names_its_flavor(tmp_path):
    script(tmp_path, "docker", 0)
    script(tmp_path, "podman-remote", 0)
    assert engine.choose("podman-remote", {"PATH": str(tmp_path)}).flavor == "podman"
    assert engine.choose(str(tmp_path / "docker"), {"PATH": ""}).flavor == "docker"
    with pytest.raises(ConfigError, match="CONTAINER_CLI=nerdctl is not an executable"):
        engine.choose("nerdctl", {"PATH": str(tmp_path)})


def test_neither_engine(tmp_path):
    with pytest.raises(ConfigError, match="no container engine") as err:
        engine.choose(None, {"PATH": str(tmp_path)})
    assert err.value.exit_code == 2 and "apt-get install podman" in err.value.line()


# -- how the engine's output is shown (a shell stands in for the engine's CLI) ---------------------


class Terminal(io.StringIO):
    def isatty(self):
        return True


def sh_engine(quiet=False, terminal=False):
    out = ui.Output(quiet=quiet, stdout=io.StringIO(), stderr=Terminal() if terminal else io.StringIO())
    return engine.Engine("/bin/sh", "docker", {"PATH": "/usr/bin:/bin"}, out), out


def test_build_output_is_streamed_line_by_line():
    e, out = sh_engine()
    e.run(["-c", "echo step 1; echo step 2 >&2"], "build x")
    assert out.stderr.getvalue() == "  step 1\n  step 2\n"
    assert out.stdout.getvalue() == ""


def test_push_progress_on_a_terminal_is_one_line_rewritten_in_place():
    e, out = sh_engine(terminal=True)
    e.run(["-c", r"printf 'layer 10%%\rlayer 50%%\rlayer 100%%\n'; echo done"], "push x", display="progress")
    text = out.stderr.getvalue()
    assert "\r\x1b[K  layer 100%" in text and "\r\x1b[K  done" in text
    assert "\n  layer" not in text  # no scrolling log on a terminal


def test_quiet_hides_everything_until_a_failure_then_shows_the_tail():
    e, out = sh_engine(quiet=True)
    e.run(["-c", "echo fine"], "build x")
    assert out.stderr.getvalue() == ""
    with pytest.raises(OperationError) as err:
        e.run(["-c", "for i in $(seq 1 30); do echo line $i; done; echo boom; exit 3"], "build x")
    shown = out.stderr.getvalue().splitlines()
    assert shown[0] == "  line 12" and shown[-1] == "  boom" and len(shown) == engine.TAIL_LINES
    assert err.value.line() == "cannot build x: sh failed: boom"


def test_build_args_travel_in_the_environment_not_on_the_command_line(tmp_path):
    log = tmp_path / "argv"
    fake = tmp_path / "docker"
    fake.write_text(f'#!/bin/sh\necho "$@" > {log}\necho "A=$A" >> {log}\nprintf sha256:1 > "$7"\n')
    fake.chmod(0o755)
    e = engine.Engine(str(fake), "docker", {"PATH": "/usr/bin:/bin"})
    assert e.build(tmp_path, tmp_path / "Dockerfile", "r/app:c-1", {"A": "secret-value-1"}) == "sha256:1"
    argv, env_line = log.read_text().splitlines()
    assert "--build-arg A" in argv and "secret-value-1" not in argv
    assert env_line == "A=secret-value-1"
