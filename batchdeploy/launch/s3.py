"""S3 from inside the container, on botocore alone.

The endpoint is passed explicitly (`AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`): Debian
bookworm's botocore 1.29 ignores those variables. The instance metadata address is never tried:
`AWS_EC2_METADATA_DISABLED=true` is set before the session exists, so credentials come from the
job's environment (or the container credentials endpoint ECS serves a job role from).
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager, suppress

from batchdeploy.launch import EXIT_S3
from batchdeploy.launch.spec import LaunchError

PART_SIZE = 64 * 1024 * 1024  # multipart above this; a single PUT takes at most 5 GiB
_NOT_FOUND = {"NoSuchKey", "NotFound", "404", "NoSuchBucket"}
_CHUNK = 1024 * 1024


def make_client(environ=None):
    environ = os.environ if environ is None else environ
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    import botocore.config
    import botocore.session

    endpoint = environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL") or None
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    config = botocore.config.Config(
        retries={"max_attempts": 5, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
        s3={"addressing_style": "path"} if endpoint else None,
    )
    return botocore.session.get_session().create_client("s3", region_name=region, endpoint_url=endpoint, config=config)


def error_code(exc) -> str:
    response = getattr(exc, "response", None)
    error = response.get("Error") if isinstance(response, dict) else None
    return str(error.get("Code", "")) if isinstance(error, dict) else ""


@contextmanager
def s3_errors(doing: str, not_found_code: int = EXIT_S3, not_found: str = "no such object"):
    """botocore's failures inside the block as one LaunchError line: a missing object gets
    `not_found_code`; everything else (denied, no credentials, unreachable) is EXIT_S3."""
    import botocore.exceptions as bex

    try:
        yield
    except bex.ClientError as exc:
        code = error_code(exc)
        if code in _NOT_FOUND:
            raise LaunchError(not_found_code, f"cannot {doing}: {not_found}") from None
        message = (exc.response.get("Error") or {}).get("Message", "") if isinstance(exc.response, dict) else ""
        raise LaunchError(EXIT_S3, f"cannot {doing}: {code or 'error'}: {message}".rstrip(": ")) from None
    except bex.NoCredentialsError:
        raise LaunchError(EXIT_S3, f"cannot {doing}: no AWS credentials in the job's environment") from None
    except bex.BotoCoreError as exc:
        raise LaunchError(EXIT_S3, f"cannot {doing}: {type(exc).__name__}: {exc}") from None


def get_bytes(client, bucket: str, key: str) -> bytes:
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        return body.read()
    finally:
        body.close()


def download(client, bucket: str, key: str, path: str) -> int:
    """Object to file (written beside it, then renamed); returns its size."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    partial = f"{path}.partial-{os.getpid()}"
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        with open(partial, "wb") as out:
            shutil.copyfileobj(body, out, _CHUNK)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise
    finally:
        body.close()
    os.replace(partial, path)
    return os.path.getsize(path)


def list_objects(client, bucket: str, prefix: str) -> list:
    """(key, size) of every object under `prefix`, in key order."""
    found, token = [], None
    while True:
        kwargs = {"Bucket": bucket, "Prefix": prefix}
        if token:
            kwargs["ContinuationToken"] = token
        page = client.list_objects_v2(**kwargs)
        found += [(o["Key"], o["Size"]) for o in page.get("Contents", [])]
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            return sorted(found)


def upload(client, path: str, bucket: str, key: str) -> int:
    size = os.path.getsize(path)
    if size <= PART_SIZE:
        with open(path, "rb") as f:
            client.put_object(Bucket=bucket, Key=key, Body=f)
        return size
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    try:
        parts = []
        with open(path, "rb") as f:
            for number in range(1, size // PART_SIZE + 2):
                chunk = f.read(PART_SIZE)
                if not chunk:
                    break
                etag = client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk)["ETag"]
                parts.append({"PartNumber": number, "ETag": etag})
        client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
    except BaseException:
        with suppress(Exception):  # the upload's own failure is the one to report
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
    return size


def put_bytes(client, bucket: str, key: str, data: bytes, content_type: str = "application/json") -> None:
    client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
