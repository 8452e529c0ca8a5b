"""What -b records in the state (batchdeploy.images.verb)."""

from __future__ import annotations

import os

import pytest

from batchdeploy.engine import Engine
from batchdeploy.images import launcher, verb
from batchdeploy.images.pipeline import Outcome
from batchdeploy.state import State


def test_the_state_records_one_image_and_keeps_when_an_unchanged_build_was_pushed(tmp_path):
    state = State(tmp_path / ".batchdeploy")
    state.write("images.json", {"images": {"other": {"tag": "x"}}})
    first = Outcome("app", "r/app", "c-1", "sha256:1", "pushed")
    verb.record(state, first, "1.0")
    entry = state.read("images.json")["images"]["app"]
    assert set(entry) == {"repository", "tag", "digest", "version", "pushed_at", "launcher", "python"}
    assert entry["launcher"] is False  # the Dockerfile names no batchdeploy-launch (images.launcher)
    assert entry["python"] is None  # asked only of an image with the launcher
    assert state.read("images.json")["images"]["other"] == {"tag": "x"}
    verb.record(state, Outcome("app", "r/app", "c-1", "sha256:1", "tagged"), "2.0")
    again = state.read("images.json")["images"]["app"]
    assert again["version"] == "2.0" and again["pushed_at"] == entry["pushed_at"]


def engine_answering(tmp_path, script: str) -> Engine:
    """A real Engine running a stand-in CLI (a shell script) that logs its arguments."""
    cli = tmp_path / "engine"
    cli.write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path / 'calls'}\n{script}\n")
    cli.chmod(0o755)
    return Engine(str(cli), "podman", dict(os.environ))


def test_the_images_python_is_asked_once_with_no_pull_and_no_network(tmp_path):
    engine = engine_answering(tmp_path, "echo 3.11")
    assert launcher.ask_python(engine, "r/app:c-1") == "3.11"
    (call,) = (tmp_path / "calls").read_text().splitlines()
    assert call.startswith("run --rm --pull=never --network=none --entrypoint python3 r/app:c-1 -c ")


@pytest.mark.parametrize("script", ["echo 'python3: not found' >&2; exit 127", "echo hello", "exit 0"])
def test_an_image_without_an_answering_python_has_none(tmp_path, script):
    assert launcher.ask_python(engine_answering(tmp_path, script), "r/app:c-1") is None


def test_the_python_recorded_for_a_digest_is_kept_and_a_new_build_is_asked_again(tmp_path):
    engine = engine_answering(tmp_path, "echo 3.12")
    previous = {"digest": "sha256:1", "python": "3.11"}
    same = Outcome("app", "r/app", "c-1", "sha256:1", "up to date")
    assert verb.image_python(engine, same, previous) == "3.11" and not (tmp_path / "calls").exists()
    rebuilt = Outcome("app", "r/app", "c-2", "sha256:2", "pushed")
    assert verb.image_python(engine, rebuilt, previous) == "3.12"
    assert " r/app:c-2 " in (tmp_path / "calls").read_text()
    tagged = Outcome("app", "r/app", "c-3", "sha256:3", "tagged")
    verb.image_python(engine, tagged, previous)
    assert " r/app@sha256:3 " in (tmp_path / "calls").read_text()


def test_python_version_reads_images_json_by_name_or_reference():
    images = {"default": {"repository": "reg/p-default", "tag": "c-1", "version": "1.0", "digest": "sha256:9",
                          "launcher": True, "python": "3.11"},
              "old": {"repository": "reg/p-old", "tag": "c-2", "launcher": True},
              "odd": {"repository": "reg/p-odd", "tag": "c-3", "python": "eleven"}}
    for ref in ("default", "reg/p-default:c-1", "reg/p-default:1.0", "reg/p-default@sha256:9"):
        assert launcher.python_version(images, ref) == "3.11"
    assert launcher.python_version(images, "reg/p-old:c-2") is None  # recorded before -b asked
    assert launcher.python_version(images, "reg/p-odd:c-3") is None
    assert launcher.python_version(images, "elsewhere/x:1") is None and launcher.python_version({}, "x") is None
