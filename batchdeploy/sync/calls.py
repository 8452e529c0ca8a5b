"""The error edge of every S3 call sync makes."""

from __future__ import annotations

from batchdeploy.aws import convert, error_code
from batchdeploy.errors import ConfigError

# Codes after which no other transfer can succeed: the run stops instead of failing file by file.
FATAL_CODES = {"AccessDenied", "NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"}


class aws_call:
    """Like aws.translate, but a missing bucket is the user's configuration (exit 2)."""

    def __init__(self, doing: str, bucket: str):
        self.doing = doing
        self.bucket = bucket

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None:
            return False
        if error_code(exc) == "NoSuchBucket":
            raise ConfigError(
                f"bucket {self.bucket!r} does not exist",
                hint="check S3_BUCKET or --remote (the bucket can be made with `batchdeploy create`)",
            ) from None
        converted = convert(exc, self.doing)
        if converted is None:
            return False
        converted.code = error_code(exc)
        raise converted from None
