"""The error edge of every S3 call sync makes."""

from __future__ import annotations

from batchdeploy.aws import error_code, translate
from batchdeploy.errors import BatchdeployError, ConfigError

# Codes after which no other transfer can succeed: the run stops instead of failing file by file.
FATAL_CODES = {"AccessDenied", "NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"}


class aws_call(translate):
    """aws.translate, but a missing bucket is the user's configuration (exit 2), and the error keeps
    botocore's code (`.code`) so a transfer can tell a fatal refusal from a per-file one."""

    def __init__(self, doing: str, bucket: str):
        super().__init__(doing)
        self.bucket = bucket

    def __exit__(self, exc_type, exc, tb):
        if exc is None:
            return False
        if error_code(exc) == "NoSuchBucket":
            raise ConfigError(
                f"bucket {self.bucket!r} does not exist",
                hint="check S3_BUCKET or --remote (the bucket can be made with `batchdeploy create`)",
            ) from None
        try:
            return super().__exit__(exc_type, exc, tb)
        except BatchdeployError as converted:
            converted.code = error_code(exc)
            raise
