"""Registry addresses and the credentials an engine stored (batchdeploy.images.registry)."""

from __future__ import annotations

import base64
import json

import pytest

from batchdeploy import ui
from batchdeploy.images import registry


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


@pytest.mark.parametrize("text", ['{"auths": []}', '{"auths": ' * 5000 + "{}" + "}" * 5000])
def test_an_engine_auth_file_of_the_wrong_shape_is_passed_over(tmp_path, text):
    """Before: `auths` as a list was an AttributeError, a file nested 5,000 deep a RecursionError."""
    auth = tmp_path / "auth.json"
    auth.write_text(text)
    env = {"REGISTRY_AUTH_FILE": str(auth), "HOME": str(tmp_path)}
    assert registry.stored_credentials("reg.example.com", "podman", env) is None
