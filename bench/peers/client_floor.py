"""A reference for scenario 9: what any boto3-based command pays before its first request (the Python
interpreter, boto3 and botocore imported, one S3 client made: botocore loads and parses its JSON
service model). Makes no request. The client comes from batchdeploy.aws, as batchdeploy's own does.

Usage: python bench/peers/client_floor.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from batchdeploy.aws import Aws, AwsSettings  # noqa: E402

if __name__ == "__main__":
    Aws(AwsSettings(region=os.environ.get("AWS_REGION"), endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))).client("s3")
    sys.exit(0)
