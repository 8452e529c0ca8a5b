# Shared by the example scripts (demo.sh, triage-chapter.sh): where the clone is, the deploy.sh to run,
# the Python with the package, and the step banner. Sourced, not run.
# shellcheck shell=bash
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[1]}")")/.." && pwd -P)
# shellcheck disable=SC2034  # used by the scripts that source this file
deploy=("$root/deploy.sh")
py="$root/.venv/bin/python"
[[ -x "$py" ]] || py=python3
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" AWS_EC2_METADATA_DISABLED=true

step() { printf '\n==> %s\n' "$*" >&2; }
