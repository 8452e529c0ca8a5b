# Shared by the example scripts (demo.sh, triage-chapter.sh, triage-package.sh): where the clone is, the deploy.sh to run,
# the Python with the package, and the step banner. Sourced, not run.
# shellcheck shell=bash
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[1]}")")/.." && pwd -P)
# shellcheck disable=SC2034  # used by the scripts that source this file
deploy=("$root/deploy.sh")
py="$root/.venv/bin/python"
[[ -x "$py" ]] || py=python3
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" AWS_EC2_METADATA_DISABLED=true

step() { printf '\n==> %s\n' "$*" >&2; }

# Runs CMD with BATCHDEPLOY_DEBUG's tracing (set -x) off, and back on after: what CMD puts in the
# environment holds a password, which a trace line would print.
untraced() {
  local traced=0
  [[ $- == *x* ]] && traced=1
  { set +x; } 2>/dev/null
  "$@"
  local status=$?
  ((traced)) && set -x
  return "$status"
}

# The example NAME (examples/NAME, or BATCHDEPLOY_EXAMPLE) as `example`, and the local stack started in
# its folder (its .aws_env may ask for PostgreSQL with LOCAL_POSTGRES=yes), with its export lines: the
# endpoint, dummy credentials, registry, engine and, with PostgreSQL, its keys (the password read from
# the stack's 0600 file as they are sourced, never printed). TITLE is the step's banner.
example_up() {
  example=${BATCHDEPLOY_EXAMPLE:-$root/examples/$1}
  cd "$example" || return
  step "$2"
  "$py" -m batchdeploy.local up
  # shellcheck source=/dev/null
  untraced source <("$py" -m batchdeploy.local env)
}
