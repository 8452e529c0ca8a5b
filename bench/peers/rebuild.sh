#!/usr/bin/env bash
# Scenario 8's peer for -b: what the triage script does on every call, rebuild without cache and
# push. Usage: rebuild.sh ENGINE TAG CONTEXT IIDFILE (IIDFILE: where the new image id is appended,
# so the benchmark can remove exactly the images it made).
set -euo pipefail
[[ "${BATCHDEPLOY_DEBUG:-}" == 1 ]] && set -x
engine=$1 tag=$2 context=$3 iidfile=$4
tmp="$iidfile.one"
"$engine" build --no-cache --iidfile "$tmp" -t "$tag" "$context"
cat "$tmp" >>"$iidfile" && echo >>"$iidfile"
"$engine" push "$tag"
