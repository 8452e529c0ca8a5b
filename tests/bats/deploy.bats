#!/usr/bin/env bats
# deploy.sh: the front door. stdout and stderr are asserted apart (run --separate-stderr).

bats_require_minimum_version 1.5.0

setup() {
  load test_helper
  setup_project
}

@test "-h prints usage on stdout and exits 0 without any configuration" {
  run --separate-stderr "$DEPLOY" -h
  assert_success
  assert_output --partial "Usage: ./deploy.sh"
  assert_output --partial "-r|--run-experiment NAME"
  assert_output --partial "EXIT CODES"
  [ -z "$stderr" ]
}

@test "--help is the same as -h" {
  run --separate-stderr "$DEPLOY" --help
  assert_success
  assert_output --partial "Usage: ./deploy.sh"
}

@test "-h answers without python: it works with a broken interpreter" {
  BATCHDEPLOY_PYTHON=/nonexistent run --separate-stderr "$DEPLOY" -h
  assert_success
}

@test "an unknown flag is one line on stderr naming it and where the usage is, exit 2" {
  run --separate-stderr "$DEPLOY" --bogus
  assert_failure 2
  [ -z "$output" ]
  [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
  [[ "$stderr" == *"unknown option: --bogus"* ]]
  [[ "$stderr" == *"see ./deploy.sh -h"* ]]
}

@test "a verb's usage error is one line naming the flag, exit 2" {
  run --separate-stderr "$DEPLOY" -r x --timeout abc
  assert_failure 2
  [ -z "$output" ]
  [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
  [[ "$stderr" == *"argument --timeout: invalid int value: 'abc'"* ]]
  [[ "$stderr" != *"usage:"* ]]
}

@test "-r without a NAME says the NAME is missing, not that key=val is required" {
  run --separate-stderr "$DEPLOY" -r
  assert_failure 2
  [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
  [[ "$stderr" == *"the job's NAME is missing"* ]]
  [[ "$stderr" != *"key=val is"* ]]
  [[ "$stderr" != *"required: NAME, key=val"* ]]
}

@test "no verb at all is a usage error" {
  run --separate-stderr "$DEPLOY"
  assert_failure 2
  [[ "$stderr" == *"no verb given"* ]]
}

@test "--env-file without a path is a usage error" {
  run --separate-stderr "$DEPLOY" --env-file
  assert_failure 2
  [[ "$stderr" == *"--env-file needs a value"* ]]
}

@test "-i with no .aws_env and no region: one line, exit 2" {
  run --separate-stderr "$DEPLOY" -i
  assert_failure 2
  [ -z "$output" ]
  [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
  [[ "$stderr" == *"no AWS region"* ]]
  [[ "$stderr" != *"Traceback"* ]]
}

@test "--env-file naming a missing file: exit 2 naming it" {
  run --separate-stderr "$DEPLOY" --env-file "missing file.env" -i
  assert_failure 2
  [[ "$stderr" == *"missing file.env does not exist"* ]]
}

@test "a malformed .aws_env line is reported with its number" {
  printf 'PROJECT_NAME=x\nthis is wrong\n' > .aws_env
  run --separate-stderr "$DEPLOY" -i
  assert_failure 2
  [[ "$stderr" == *"line 2"* ]]
}

@test "a verb's missing and malformed keys are all reported at once, with the file" {
  printf 'PROJECT_NAME=Bad Name\n' > .aws_env
  run --separate-stderr "$DEPLOY" -b
  assert_failure 2
  [ -z "$output" ]
  [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
  [[ "$stderr" == *"AWS_REGISTRY is missing"* ]]
  [[ "$stderr" == *"PROJECT_NAME='Bad Name' is malformed"* ]]
  [[ "$stderr" == *"$PROJECT/.aws_env"* ]]
}

@test "sync without S3_BUCKET: one line naming the key and the file, exit 2" {
  printf 'PROJECT_NAME=x\n' > .aws_env
  run --separate-stderr "$DEPLOY" --sync-to-s3
  assert_failure 2
  [ -z "$output" ]
  [[ "$stderr" == *"S3_BUCKET is missing"* ]]
  [[ "$stderr" == *"$PROJECT/.aws_env"* ]]
}

@test "global options may come before the verb, as in batchdeploy itself (issue #20)" {
  printf 'AWS_REGION=us-east-1\n' > .aws_env
  run --separate-stderr "$DEPLOY" --output json --region eu-west-1 --quiet -r --help
  assert_success
  assert_output --partial "usage: batchdeploy run"
  run --separate-stderr "$DEPLOY" --region
  assert_failure 2
  [[ "$stderr" == *"--region needs a value; see ./deploy.sh -h"* ]]
}

@test "--version prints batchdeploy's version" {
  run --separate-stderr "$DEPLOY" --version
  assert_success
  [[ "$output" =~ ^batchdeploy\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "-r passes NAME, key=val words and -- args through to the python core" {
  run --separate-stderr "$DEPLOY" -r --help
  assert_success
  assert_output --partial "usage: batchdeploy run"
  assert_output --partial "key=val"
}

@test "verb options are checked by the core: a bad one exits 2" {
  run --separate-stderr "$DEPLOY" -u --no-such-option
  assert_failure 2
  [[ "$stderr" == *"unrecognized arguments: --no-such-option"* ]]
}

@test "every verb flag reaches its verb" {
  for flag in -i --info -b --update-images -u --update-jobs -r --run-experiment --sync-to-s3 --sync-from-s3 \
              --sync_to_s3 --sync_from_s3 -a --all --status --logs --cancel --create --delete --submit --pipeline \
              --doctor; do
    run --separate-stderr "$DEPLOY" "$flag" --help
    assert_success
    assert_output --partial "usage: batchdeploy"
  done
}

@test "the triage underscore spellings map to the same verbs" {
  run --separate-stderr "$DEPLOY" --sync_to_s3 --help
  assert_output --partial "usage: batchdeploy sync-to-s3"
  run --separate-stderr "$DEPLOY" --sync_from_s3 --help
  assert_output --partial "usage: batchdeploy sync-from-s3"
}

@test "deploy.sh works through a symlink and from another folder" {
  ln -s "$DEPLOY" "$PROJECT/deploy link.sh"
  run --separate-stderr "$PROJECT/deploy link.sh" -u --help
  assert_success
  assert_output --partial "usage: batchdeploy update-jobs"
}

@test "deploy.sh stays a thin front door (about 100 lines)" {
  [ "$(wc -l < "$DEPLOY")" -le 110 ]
}

@test "--pipeline hands run FILE to the pipelines' verb; a bad action is one line, exit 2" {
  run --separate-stderr "$DEPLOY" --pipeline --help
  assert_success
  assert_output --partial "usage: batchdeploy pipeline"
  run --separate-stderr "$DEPLOY" --pipeline walk x
  assert_failure 2
  [ "${#lines[@]}" -eq 0 ]
  [[ "$stderr" == *"pipeline 'walk': not an action"* ]]
}

@test "triage's help form -r --experiment_file=... says what is wrong with it and the form that works" {
  run --separate-stderr "$DEPLOY" -r --experiment_file=s3://your_project/experiments/test.yaml,project_path=s3://p/triage,replace=--replace
  assert_failure 2
  [ -z "$output" ]
  [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
  [[ "$stderr" == *"is a parameter written as a flag"* ]]
  [[ "$stderr" == *"e.g. -r exp1 experiment_file=..."* ]]
  [[ "$stderr" == *"see \`./deploy.sh -r --help\`"* ]]
}

@test "triage's -t runs -b and says so" {
  printf 'PROJECT_NAME=demo\n' > .aws_env
  run --separate-stderr "$DEPLOY" -t
  assert_failure 2
  [[ "$(printf '%s\n' "$stderr" | head -n 1)" == "deploy.sh: -t is triage's image update: running -b (every image in IMAGES)" ]]
  [[ "$stderr" == *"AWS_REGISTRY is missing"* ]]
}

@test "hints name deploy.sh through deploy.sh and batchdeploy through batchdeploy" {
  run --separate-stderr "$DEPLOY" --logs
  assert_failure 2
  [[ "$stderr" == *"see \`./deploy.sh --logs --help\`"* ]]
  run --separate-stderr env PYTHONPATH="$ROOT" "$ROOT/.venv/bin/python" -m batchdeploy logs
  assert_failure 2
  [[ "$stderr" == *"see \`batchdeploy logs --help\`"* ]]
}

@test "--doctor hands its target to the doctor; a bad one is one line, exit 2" {
  run --separate-stderr "$DEPLOY" --doctor --help
  assert_success
  assert_output --partial "usage: batchdeploy doctor"
  assert_output --partial "JOB_ID|RUN_ID"
  run --separate-stderr "$DEPLOY" --doctor a b
  assert_failure 2
  [[ "$stderr" == *"unrecognized arguments: b"* ]]
}

@test "the example scripts' untraced keeps a password out of BATCHDEPLOY_DEBUG's trace, and tracing back on" {
  printf 'CANARY-pw-5e1b\n' >"$BATS_TEST_TMPDIR/pw"
  printf 'export SECRET_PW="$(cat %q)"\n' "$BATS_TEST_TMPDIR/pw" >"$BATS_TEST_TMPDIR/env.sh"
  run --separate-stderr bash -c '
    source "$1/scripts/example-common.sh"
    set -x
    untraced source "$2"
    [[ $- == *x* ]] && echo "tracing: on"
    echo "got: ${#SECRET_PW}"' _ "$ROOT" "$BATS_TEST_TMPDIR/env.sh"
  assert_success
  assert_output --partial "tracing: on"
  assert_output --partial "got: 14"
  [[ "$stderr" == *"untraced source"* ]]  # traced: the command, not what it set
  [[ "$stderr" != *CANARY-pw-5e1b* ]]
}
