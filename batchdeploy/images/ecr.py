"""-b's ECR calls: the one look-up (DescribeImages), a missing repository made (CreateRepository), and
the engine's login password (GetAuthorizationToken) with when it stops working.

ECR's facts (the host grammar, the tags that never move, the token's lifetime) are batchdeploy.aws.ecr's;
the tag that marks what batchdeploy made is batchdeploy.aws.tags'. botocore is imported when a call is made.
"""

from __future__ import annotations

import base64
import datetime as dt

from batchdeploy.aws import error_code, translate
from batchdeploy.aws.ecr import CONTENT_TAG_FILTER, TOKEN_LIFETIME_SECONDS
from batchdeploy.aws.shapes import input_shape
from batchdeploy.aws.shapes import request as validate_request
from batchdeploy.aws.tags import TAG_PROJECT
from batchdeploy.errors import OperationError
from batchdeploy.images.registry import Registry
from batchdeploy.secrets import register_secret

TOKEN_LIFETIME = dt.timedelta(seconds=TOKEN_LIFETIME_SECONDS)


class RepositoryMissing(Exception):
    pass


def image_digest(ecr, registry: Registry, repository: str, tag: str) -> str | None:
    """DescribeImages for one tag: its digest, None when absent; RepositoryMissing when the
    repository does not exist yet."""
    import botocore.exceptions

    with translate(f"look up {registry.host}/{repository}:{tag} (ecr:DescribeImages)"):
        try:
            resp = ecr.describe_images(
                registryId=registry.account, repositoryName=repository, imageIds=[{"imageTag": tag}]
            )
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code == "ImageNotFoundException":
                return None
            if code == "RepositoryNotFoundException":
                raise RepositoryMissing(repository) from None
            raise
    details = resp.get("imageDetails") or []
    return details[0].get("imageDigest") if details else None


def mutability_settings(enum: list[str]) -> dict:
    """Content tags immutable, VERSION and latest movable: MUTABLE_WITH_EXCLUSION with `c-*`
    excluded (those tags are then immutable) where the API has it; else MUTABLE, and then nothing
    but batchdeploy's own rule (a content tag is never pushed twice) keeps content tags fixed.
    Plain IMMUTABLE would refuse the second push of `latest`."""
    if "MUTABLE_WITH_EXCLUSION" in enum:
        return {
            "imageTagMutability": "MUTABLE_WITH_EXCLUSION",
            "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": CONTENT_TAG_FILTER}],
        }
    return {"imageTagMutability": "MUTABLE"}


def create_repository_request(repository: str, registry: Registry, project: str | None, enum: list[str]) -> dict:
    request = {
        "registryId": registry.account,
        "repositoryName": repository,
        "imageScanningConfiguration": {"scanOnPush": True},
        **mutability_settings(enum),
    }
    if project:
        request["tags"] = [{"Key": TAG_PROJECT, "Value": project}]
    return request


def mutability_enum() -> list[str]:
    return list(input_shape("ecr", "CreateRepository").members["imageTagMutability"].enum)


def create_repository(ecr, registry: Registry, repository: str, project: str | None) -> dict:
    request = create_repository_request(repository, registry, project, mutability_enum())
    problems = validate_request("ecr", "CreateRepository", request)
    if problems:  # pragma: no cover - a bug of ours, not the user's
        raise OperationError("CreateRepository request is invalid: " + "; ".join(problems))
    import botocore.exceptions

    with translate(f"create the ECR repository {repository} (ecr:CreateRepository)"):
        try:
            return ecr.create_repository(**request)["repository"]
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "RepositoryAlreadyExistsException":  # made meanwhile by another run
                return {"repositoryName": repository}
            raise


def authorization(ecr, now: dt.datetime) -> tuple[str, str, dt.datetime]:
    """GetAuthorizationToken: (user, password, effective expiry). The password is registered as a
    secret before anything else can print it."""
    with translate("get an ECR login token (ecr:GetAuthorizationToken)"):
        data = ecr.get_authorization_token()["authorizationData"][0]
    token = data["authorizationToken"]
    register_secret(token)
    user, _, password = base64.b64decode(token).decode().partition(":")
    register_secret(password)
    return user, password, effective_expiry(data.get("expiresAt"), now)


def effective_expiry(expires_at, now: dt.datetime) -> dt.datetime:
    """When a fresh token stops working. A token is valid for 12 hours; an `expiresAt` already in
    the past when the token was just issued is not believable (moto's is fixed in 2015), so it
    counts as issued now, valid 12 hours. A later one is capped at 12 hours too."""
    if isinstance(expires_at, str):
        try:
            expires_at = dt.datetime.fromisoformat(expires_at)
        except ValueError:
            expires_at = None
    if isinstance(expires_at, (int, float)):
        expires_at = dt.datetime.fromtimestamp(expires_at, dt.timezone.utc)
    if isinstance(expires_at, dt.datetime) and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=dt.timezone.utc)
    if not isinstance(expires_at, dt.datetime) or expires_at <= now:
        return now + TOKEN_LIFETIME
    return min(expires_at, now + TOKEN_LIFETIME)
