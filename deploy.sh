#!/usr/bin/env bash
# batchdeploy's front door: the triage project's deploy.sh flags, handed to the Python core.
# Parsing stays here, in one loop; everything that needs a test lives in batchdeploy/.
set -euo pipefail
[[ "${BATCHDEPLOY_DEBUG:-}" == 1 ]] && set -x

usage() {
  cat <<'EOF'
Usage: ./deploy.sh [global options] VERB [options]

VERBS:
   -h|--help                 Show this message
   -i|--info                 Show the configuration, the AWS identity and tool versions
   -b|--update-images        Build the images and push them (skips what the registry has)
   -u|--update-jobs          Register the job definitions that changed (--dry-run, --prune KEEP)
   -r|--run-experiment NAME [key=val ...] [-- extra args]
                             Submit an experiment (--wait to follow it to its end); a sweep of
                             many tasks as one array: --tasks FILE [RANGE], --grid k=v1,v2 ...,
                             --rerun-failed RUN_ID
   --sync-to-s3              Upload EXPERIMENTS_DIR to s3://S3_BUCKET/S3_PREFIX exactly
   --sync-from-s3            Download s3://S3_BUCKET/S3_PREFIX into EXPERIMENTS_DIR exactly
   --results [RUN_ID]        A run's outputs into RESULTS_DIR/RUN_ID (none: every result)
   -a|--all                  -b, then -u, then --sync-to-s3
   --status [JOB_ID|NAME|RUN_ID]
                             Recent runs (every clone's; --run --state --since --limit), one job, or a sweep's tasks
   --logs JOB_ID [--follow]  A job's log lines
   --cancel JOB_ID           Cancel or terminate a job
   --create | --delete       Create or tear down the project's Batch resources
   --submit FILE...          pegasus job submit files: every task run and followed, <jobName>.out/.err
   --pipeline run FILE | rerun RUN_ID [--wait]
                             A pipeline: every step submitted at once with dependsOn (also
                             -r NAME --pipeline FILE); --status RUN_ID draws its graph
   --doctor [JOB_ID|RUN_ID]  Why a job (or the queue) cannot run, and the one change that fixes it
   --report RUN_ID...        One self-contained HTML report of runs (tasks, metrics, plots) and a table
   --init [DIR] [--local]    Write a new project's files (names from PROJECT_NAME; --name N, --force)

   Options after the verb go to it: ./deploy.sh -r --help lists those of -r.
   --version                 Print batchdeploy's version

   Global options (before or after the verb): --env-file PATH, --region R, --profile P,
   --endpoint-url URL, --output text|json, -q|--quiet.
   Configuration: ./.aws_env (copy .aws_env.example), or --env-file PATH, or BATCHDEPLOY_ENV_FILE;
   BATCHDEPLOY_<KEY> and AWS_* variables override the file, flags override both.
   triage's -t (update the triage image) is -b here: it builds and pushes every image in IMAGES.

EXAMPLES:
   ./deploy.sh -b
   ./deploy.sh -u
   ./deploy.sh --sync-to-s3
   ./deploy.sh -r exp1 experiment_file=s3://BUCKET/experiments/a.yaml --wait
   ./deploy.sh -r sweep1 --grid learning_rate=0.1,0.01 seed=1,2,3 --wait

EXIT CODES:
   0 success, 1 an operation failed (AWS refused), 2 usage or configuration error,
   3 what was submitted failed (-r --wait: the job or a sweep's tasks; --submit: a task),
   4 a job can never run as things stand (--doctor; -r's preflight; --wait), 130 interrupted
EOF
}

die_usage() {
  printf 'deploy.sh: error: %s; see ./deploy.sh -h\n' "$1" >&2
  exit 2
}

# The Python core: BATCHDEPLOY_PYTHON, else this project's .venv, else python3 on PATH.
here=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
python=${BATCHDEPLOY_PYTHON:-}
if [[ -z "$python" ]]; then
  if [[ -x "$here/.venv/bin/python" ]]; then python="$here/.venv/bin/python"; else python=python3; fi
fi

globals=()
verb=""
while (($#)); do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --version) exec "$python" -m batchdeploy --version ;;
    --env-file | --region | --profile | --endpoint-url | --output)
      (($# >= 2)) || die_usage "$1 needs a value"
      globals+=("$1" "$2"); shift 2; continue ;;
    --env-file=* | --region=* | --profile=* | --endpoint-url=* | --output=* | -q | --quiet) globals+=("$1") ;;
    -i | --info) verb=info ;;
    -b | --update-images) verb=images ;;
    -t) printf 'deploy.sh: -t is triage'"'"'s image update: running -b (every image in IMAGES)\n' >&2; verb=images ;;
    -u | --update-jobs) verb=update-jobs ;;
    -r | --run-experiment) verb=run ;;
    --sync-to-s3 | --sync_to_s3) verb=sync-to-s3 ;;
    --sync-from-s3 | --sync_from_s3) verb=sync-from-s3 ;;
    --results) verb=results ;;
    -a | --all) verb=all ;;
    --status) verb=status ;;
    --logs) verb=logs ;;
    --cancel) verb=cancel ;;
    --create) verb=create ;;
    --delete) verb=delete ;;
    --submit) verb=submit ;;
    --pipeline) verb=pipeline ;;
    --doctor) verb=doctor ;;
    --report) verb=report ;;
    --init) verb=init ;;
    *) die_usage "unknown option: $1" ;;
  esac
  shift
  [[ -n "$verb" ]] && break
done
[[ -n "$verb" ]] || die_usage "no verb given"

export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" BATCHDEPLOY_FRONT_DOOR=deploy.sh
exec "$python" -m batchdeploy "${globals[@]}" "$verb" "$@"
