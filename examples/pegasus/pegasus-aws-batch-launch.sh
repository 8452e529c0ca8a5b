#!/bin/sh
# The example's stand-in for pegasus's own share/pegasus/sh/pegasus-aws-batch-launch.sh, doing what
# it does for a task: fetch TRANSFER_INPUT_FILES from PEGASUS_AWS_BATCH_BUCKET, run the task with its
# stderr kept apart, then print the TASK STDERR marker and that stderr, so pegasus-aws-batch (and
# batchdeploy) can split the task's log into <jobName>.out and <jobName>.err.
# Shipped with -f; the image's fetch-and-run entry point (batchdeploy-launch) downloads and runs it.
set -u
task="$1"
shift
work=$(mktemp -d)
cd "$work" || exit 1
python3 - <<'PY' || exit 1
import os

import botocore.session
from botocore.config import Config

bucket, _, prefix = os.environ["PEGASUS_AWS_BATCH_BUCKET"][len("s3://"):].partition("/")
endpoint = os.environ.get("AWS_ENDPOINT_URL")  # Debian's botocore ignores it unless passed
s3 = botocore.session.get_session().create_client(
    "s3", region_name=os.environ.get("AWS_REGION", "us-east-1"), endpoint_url=endpoint,
    config=Config(s3={"addressing_style": "path"}) if endpoint else None)
for name in filter(None, os.environ.get("TRANSFER_INPUT_FILES", "").split(",")):
    with open(name, "wb") as f:
        f.write(s3.get_object(Bucket=bucket, Key=prefix + name)["Body"].read())
PY
chmod +x "./$task"
"./$task" "$@" 2>"$work/.stderr"
code=$?
echo "########################[AWS BATCH] TASK STDERR ########################"
cat "$work/.stderr"
echo "PegasusAWSBatchLaunch: exitcode $code"
exit "$code"
