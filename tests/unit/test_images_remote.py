"""When a recorded registry login is reused, and which push failures call for a new one
(batchdeploy.images.remote)."""

from __future__ import annotations

import datetime as dt

import pytest

from batchdeploy.images import remote

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def test_a_login_is_reused_only_for_the_same_engine_and_auth_file_with_an_hour_left():
    key = {"engine": "/usr/bin/podman", "auth": "podman-default"}
    good = {**key, "expires_at": (NOW + dt.timedelta(hours=2)).isoformat()}
    assert remote.login_reusable(good, key, NOW)
    assert not remote.login_reusable({**good, "expires_at": (NOW + dt.timedelta(minutes=59)).isoformat()}, key, NOW)
    assert not remote.login_reusable(good, {**key, "auth": "/tmp/auth.json"}, NOW)
    assert not remote.login_reusable(good, {**key, "engine": "/usr/bin/docker"}, NOW)
    assert not remote.login_reusable(None, key, NOW)
    assert not remote.login_reusable({**key, "expires_at": "garbage"}, key, NOW)


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
    assert remote.looks_like_auth_failure(message) is auth
