#!/usr/bin/env bash
# Scenario 6's shell peer: one `aws batch submit-job` per parameter set, as the triage script's users
# would write it. Usage: submit_loop.sh AWS ENDPOINT QUEUE JOB_DEFINITION N
set -euo pipefail
[[ "${BATCHDEPLOY_DEBUG:-}" == 1 ]] && set -x
aws=$1 endpoint=$2 queue=$3 jobdef=$4 n=$5
for ((i = 0; i < n; i++)); do
  "$aws" --endpoint-url "$endpoint" batch submit-job --job-name "loop-$i" --job-queue "$queue" \
    --job-definition "$jobdef" --parameters "set=$i" >/dev/null
done
