"""ECR: the registry host grammar and repository naming, written once."""

from __future__ import annotations

import re

# ACCOUNT.dkr.ecr[-fips].REGION.amazonaws.com[.cn]
ECR_HOST = re.compile(
    r"(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d{1,2})\.amazonaws\.com(?:\.cn)?"
)
REPOSITORY_NAME = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
CONTENT_TAG_FILTER = "c-*"  # tags that never move (IMMUTABLE_WITH_EXCLUSION / MUTABLE_WITH_EXCLUSION)


def is_ecr_host(host: str) -> bool:
    return ECR_HOST.fullmatch(host) is not None


# How long a GetAuthorizationToken password lets an engine log in: 12 hours, as ECR documents.
TOKEN_LIFETIME_SECONDS = 12 * 60 * 60
