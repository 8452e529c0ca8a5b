# Shared set-up for the shell tests: a temp HOME and project folder whose paths contain a space
# (asdf's trick for catching quoting bugs), and the real deploy.sh.
bats_load_library bats-support
bats_load_library bats-assert

ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
DEPLOY="$ROOT/deploy.sh"

setup_project() {
  export HOME="$BATS_TEST_TMPDIR/home dir"
  PROJECT="$BATS_TEST_TMPDIR/my project"
  mkdir -p "$HOME" "$PROJECT"
  cd "$PROJECT" || return 1
  # No real AWS: nothing here may reach the network.
  unset AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
  unset BATCHDEPLOY_ENV_FILE
  export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
}
