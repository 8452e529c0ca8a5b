"""The S3 clients sync uses, made through `ctx.aws` (the only maker of clients), and the transfer
manager for large files. Every botocore event hook registered here is a documented event."""

from __future__ import annotations

import platform

from batchdeploy.sync.hashcache import MULTIPART_THRESHOLD, PART_SIZE
from batchdeploy.sync.remote import lean_listing

# botocore asks for "Expect: 100-continue" on every PutObject: one more round trip (the server's
# "100 Continue") before the body is sent. It spares sending a large body that would be refused;
# below this size the round trip costs more than the body (the Go SDK, s5cmd's, draws the line at 2 MB).
EXPECT_SIZE = 2 * 1024 * 1024


def s3_client(aws, jobs: int, for_manager: bool = False):
    """The client for listing and small transfers, or (for_manager) the transfer manager's own."""
    # One connection per worker, plus the transfer manager's; a smaller pool makes urllib3
    # discard and reopen connections.
    aws.max_pool_connections = max(getattr(aws, "max_pool_connections", 10), 2 * jobs + 2)
    from botocore.config import Config as BotoConfig

    # A fixed User-Agent: botocore otherwise rebuilds its structured one (os, language, feature
    # ids) twice per request, 10% of the client's CPU per small PUT.
    extra = {"user_agent": user_agent()}
    # We hand S3 our own SHA256 on upload and check downloads ourselves: botocore's default
    # CRC32 on every request (1.36+) would hash each body a second time.
    if "request_checksum_calculation" in getattr(BotoConfig, "OPTION_DEFAULTS", {}):
        extra.update(request_checksum_calculation="when_required", response_checksum_validation="when_required")
    if for_manager:
        # The transfer manager's own client: every body it sends is a part with a signed
        # x-amz-checksum-sha256 header (S3 checks it) or CompleteMultipartUpload's part list
        # (whose outcome the ETag check verifies). Over https botocore then leaves the payload
        # unsigned by itself; over http (the local stack, MinIO) it would hash every part a
        # second time for the signature: 0.3 s of CPU per 256 MiB, 13% of an upload on moto.
        return aws.client("s3", s3={"payload_signing_enabled": False}, **extra)
    # A plain botocore client: boto3 (and the s3transfer it imports) would cost a no-change sync
    # 60-80 ms of start-up; the transfer manager is made from s3transfer itself when needed.
    client = aws.client("s3", **extra)
    # The listing's <Contents> read by ElementTree instead of botocore's parser (remote.lean_listing).
    client.meta.events.register_first("before-parse.s3.ListObjectsV2", lean_listing, unique_id="batchdeploy-lean")
    # Small PUTs without the 100-continue round trip.
    client.meta.events.register("before-sign.s3.PutObject", no_expect_for_small, unique_id="batchdeploy-expect")
    # GetObject's Last-Modified left unparsed (nothing here reads it).
    client.meta.events.register("before-parse.s3.GetObject", skip_last_modified, unique_id="batchdeploy-lastmod")
    return client


def transfer_manager(client, jobs: int):
    """s3transfer's manager with batchdeploy's multipart layout (the one hashcache computes ETags for)."""
    from s3transfer.manager import TransferConfig, TransferManager

    config = TransferConfig(
        multipart_threshold=MULTIPART_THRESHOLD,
        multipart_chunksize=PART_SIZE,
        max_request_concurrency=jobs,
        max_io_queue_size=100,  # boto3's default (s3transfer's own, 1,000, buffers up to 256 MB)
    )
    return TransferManager(client, config)


def no_expect_for_small(request, **kwargs):
    if "Expect" in request.headers:
        from botocore.utils import determine_content_length

        size = determine_content_length(request.body)
        if size is not None and size < EXPECT_SIZE:
            del request.headers["Expect"]


def skip_last_modified(response_dict, **kwargs):
    """botocore parses GetObject's Last-Modified with dateutil: 10% of the client's CPU per small
    download, for a value nothing here reads."""
    headers = response_dict.get("headers")
    if headers is not None and "last-modified" in headers:
        del headers["last-modified"]


def user_agent() -> str:
    import botocore

    from batchdeploy import __version__

    return (
        f"batchdeploy/{__version__} Botocore/{botocore.__version__} Python/{platform.python_version()} "
        f"{platform.system()}/{platform.release()}"
    )
