"""The S3 client's documented botocore hooks."""

from __future__ import annotations


def test_small_puts_do_not_wait_for_100_continue():
    import io

    from botocore.awsrequest import AWSRequest

    from batchdeploy.sync.client import EXPECT_SIZE, no_expect_for_small

    for size, kept in ((0, False), (4096, False), (EXPECT_SIZE, True)):
        req = AWSRequest("PUT", "http://x/b/k", headers={"Expect": "100-continue"}, data=io.BytesIO(b"x" * size))
        no_expect_for_small(req)
        assert ("Expect" in req.headers) is kept, size


def test_get_object_answers_skip_the_unused_last_modified():
    from botocore.awsrequest import HeadersDict

    from batchdeploy.sync.client import skip_last_modified

    response = {"headers": HeadersDict({"Last-Modified": "Sat, 21 Nov 2026 13:00:00 GMT", "ETag": '"e"'})}
    skip_last_modified(response)
    assert dict(response["headers"]) == {"ETag": '"e"'}
    skip_last_modified({"headers": HeadersDict()})  # nothing to remove
