"""ECR requests and the login token's expiry (batchdeploy.images.ecr)."""

from __future__ import annotations

import datetime as dt

import pytest

from batchdeploy.aws.shapes import request as validate_request
from batchdeploy.images import ecr, registry

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def test_the_create_repository_request_is_valid_for_botocore():
    reg = registry.Registry.parse("123456789012.dkr.ecr.us-west-2.amazonaws.com/team")
    req = ecr.create_repository_request("team/app", reg, "dirtyduck", ecr.mutability_enum())
    assert validate_request("ecr", "CreateRepository", req) == []
    assert req["imageScanningConfiguration"] == {"scanOnPush": True}
    assert req["imageTagMutability"] == "MUTABLE_WITH_EXCLUSION"
    assert req["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "c-*"}]


def test_an_older_botocore_without_exclusions_gets_mutable_tags():
    assert ecr.mutability_settings(["MUTABLE", "IMMUTABLE"]) == {"imageTagMutability": "MUTABLE"}


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
    assert ecr.effective_expiry(expires_at, NOW) == expected
