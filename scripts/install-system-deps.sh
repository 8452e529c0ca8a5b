#!/usr/bin/env bash
# Install the system tools the tests and the local stack need, where this machine allows it.
# Idempotent and quick when everything is there: apt-get runs only for what is missing.
set -euo pipefail
[[ "${BATCHDEPLOY_DEBUG:-}" == 1 ]] && set -x

# command -> Debian package
declare -A wanted=(
  [jq]=jq
  [bats]=bats
  [shellcheck]=shellcheck
  [podman]=podman
  [runc]=runc
  [docker-registry]=docker-registry
  [mmdebstrap]=mmdebstrap
  [curl]=curl
  [flock]=util-linux
  [chromium]=chromium  # the report test opens a report in a headless browser
  [psql]=postgresql-client  # the triage chapter's example reads its results back with SQL
  [setpriv]=util-linux  # the local PostgreSQL runs as the postgres user when we are root
)
# libraries with no command of their own: a file each ships
declare -A files=(
  [/usr/lib/bats/bats-assert/load.bash]=bats-assert
  [/usr/lib/bats/bats-support/load.bash]=bats-support
)

missing=()
for cmd in "${!wanted[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${wanted[$cmd]}")
done
for f in "${!files[@]}"; do
  [[ -e "$f" ]] || missing+=("${files[$f]}")
done
# the local stack's PostgreSQL (issue #25): Debian's server binaries, any version
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
((${#missing[@]})) || exit 0

if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" uidmap slirp4netns fuse-overlayfs >/dev/null
else
  echo "missing system tools; install them with: sudo apt-get install ${missing[*]}" >&2
  exit 2
fi
