#!/usr/bin/env bash
# Scenario 7's shell peers: one poll of the jobs in IDS_FILE (one id a line) with `aws batch
# describe-jobs`, PER_CALL ids per call (1: a loop over the jobs; 100: DescribeJobs' maximum).
# Usage: describe_loop.sh AWS ENDPOINT IDS_FILE PER_CALL
set -euo pipefail
[[ "${BATCHDEPLOY_DEBUG:-}" == 1 ]] && set -x
aws=$1 endpoint=$2 ids_file=$3 per_call=$4
mapfile -t ids <"$ids_file"
for ((i = 0; i < ${#ids[@]}; i += per_call)); do
  "$aws" --endpoint-url "$endpoint" batch describe-jobs --jobs "${ids[@]:i:per_call}" \
    --query 'jobs[].status' --output text >/dev/null
done
