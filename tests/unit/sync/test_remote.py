"""The lean listing parser."""

from __future__ import annotations

from batchdeploy.sync.remote import lean_listing


def test_lean_listing_reads_contents_and_leaves_the_rest_to_botocore():
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<Name>b</Name><IsTruncated>true</IsTruncated>"
        b"<Contents><Key>p/a%20b</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
        b"<ETag>&quot;abc&quot;</ETag><Size>12</Size><StorageClass>STANDARD</StorageClass></Contents>"
        b"<NextContinuationToken>tok</NextContinuationToken></ListBucketResult>"
    )
    response = {"status_code": 200, "body": body}
    custom = {}
    lean_listing(response_dict=response, customized_response_dict=custom)
    assert custom["Contents"] == [
        {"Key": "p/a%20b", "Size": 12, "ETag": '"abc"', "LastModified": "2026-01-01T00:00:00.000Z",
         "StorageClass": "STANDARD"}
    ]
    assert b"<Contents>" not in response["body"] and b"<NextContinuationToken>tok" in response["body"]
    error = {"status_code": 403, "body": b"<Error><Code>AccessDenied</Code></Error>"}
    lean_listing(response_dict=error, customized_response_dict=(c := {}))
    assert c == {} and error["body"].startswith(b"<Error>")
