#!/usr/bin/env bats
# ./deploy.sh -u: the checks that happen before any AWS call. No network: AWS is unset by setup_project.

bats_require_minimum_version 1.5.0

setup() {
  load test_helper
  setup_project
  printf 'PROJECT_NAME=demo\nAWS_REGION=us-east-1\nAWS_REGISTRY=registry.example.com\nJOB_ROLE_ARN=arn:aws:iam::123456789012:role/r\nS3_BUCKET=demo-bucket\n' > .aws_env
  cp "$ROOT/job-definition.json.example" .
}

@test "-u --help lists --dry-run and --prune" {
  run --separate-stderr "$DEPLOY" -u --help
  assert_success
  assert_output --partial "--dry-run"
  assert_output --partial "--prune KEEP"
}

@test "-u without job-definition.json points at the example, exit 2, one line" {
  run --separate-stderr "$DEPLOY" -u
  assert_failure 2
  [ -z "$output" ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [[ "$stderr" == *"job-definition.json: no such file (copy job-definition.json.example to job-definition.json and adapt it)"* ]]
  [ ! -e .batchdeploy ]
}

@test "-u with malformed JSON names the line and column" {
  printf '{\n  "jobDefinitionName": "x"\n  "type": "container"\n}\n' > job-definition.json
  run --separate-stderr "$DEPLOY" -u
  assert_failure 2
  [[ "$stderr" == *"job-definition.json: invalid JSON at line 3 column 3"* ]]
}

@test "-u with an unknown placeholder names the file and the placeholder" {
  sed 's/"${ENV}"}/"${NOT_SET}"}/' job-definition.json.example > job-definition.json
  run --separate-stderr "$DEPLOY" -u
  assert_failure 2
  [[ "$stderr" == *'job-definition.json: unknown placeholder ${NOT_SET} at containerProperties.environment[1].value'* ]]
}

@test "-u --prune 0 is a usage error" {
  cp job-definition.json.example job-definition.json
  run --separate-stderr "$DEPLOY" -u --prune 0
  assert_failure 2
  [ "$stderr" = "batchdeploy: error: --prune KEEP must be at least 1 (got 0); the newest revision is always kept" ]
}

@test "-u --prune without a number is an argparse usage error" {
  run --separate-stderr "$DEPLOY" -u --prune many
  assert_failure 2
  [[ "$stderr" == *"--prune: invalid int value"* ]]
}
