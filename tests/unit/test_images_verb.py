"""What -b records in the state (batchdeploy.images.verb)."""

from __future__ import annotations

from batchdeploy.images import verb
from batchdeploy.images.pipeline import Outcome
from batchdeploy.state import State


def test_the_state_records_one_image_and_keeps_when_an_unchanged_build_was_pushed(tmp_path):
    state = State(tmp_path / ".batchdeploy")
    state.write("images.json", {"images": {"other": {"tag": "x"}}})
    first = Outcome("app", "r/app", "c-1", "sha256:1", "pushed")
    verb.record(state, first, "1.0")
    entry = state.read("images.json")["images"]["app"]
    assert set(entry) == {"repository", "tag", "digest", "version", "pushed_at", "launcher"}
    assert entry["launcher"] is False  # the Dockerfile names no batchdeploy-launch (images.launcher)
    assert state.read("images.json")["images"]["other"] == {"tag": "x"}
    verb.record(state, Outcome("app", "r/app", "c-1", "sha256:1", "tagged"), "2.0")
    again = state.read("images.json")["images"]["app"]
    assert again["version"] == "2.0" and again["pushed_at"] == entry["pushed_at"]
