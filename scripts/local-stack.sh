#!/usr/bin/env bash
# The local AWS Batch (moto server + registry + container engine on 127.0.0.1) lives in
# batchdeploy/local/; this name stays for demo.sh, the tests and habit. Usage: scripts/local-stack.sh -h
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
python="$root/.venv/bin/python"
[[ -x "$python" ]] || python=python3
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" exec "$python" -m batchdeploy.local "$@"
