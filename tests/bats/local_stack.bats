#!/usr/bin/env bats
# scripts/local-stack.sh: idempotent up, down by recorded pid, status and env, and every error line.
# The real moto server, registry and container engine; the base image is left out (the pytest
# integration tests cover it), so these stay quick.

bats_require_minimum_version 1.5.0

setup() {
  load test_helper
  STACK="$ROOT/scripts/local-stack.sh"
  WORK="$BATS_TEST_TMPDIR/work dir"
  mkdir -p "$WORK"
  cd "$WORK" || return 1
  export BATCHDEPLOY_LOCAL_DIR="$WORK/state dir"
  export BATCHDEPLOY_SKIP_BASE_IMAGE=1
  STATE="$BATCHDEPLOY_LOCAL_DIR"
  unset DOCKER_HOST BATCHDEPLOY_ENGINE BATCHDEPLOY_UP_TIMEOUT BATCHDEPLOY_LOCK_TIMEOUT BATCHDEPLOY_DEBUG
}

teardown() {
  "$STACK" down >/dev/null 2>&1 || true
}

pid_of() { cut -d' ' -f1 "$STATE/run/$1.pid"; }

# gone, or a zombie: this machine's init does not always reap what it inherits
gone() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0
  [[ "${stat##*) }" == Z* ]]
}

# pids of live processes of this test's stack: local-stack.sh marks each part's environment
processes_of_state() {
  local f pid
  for f in /proc/[0-9]*/environ; do
    pid="${f#/proc/}"
    pid="${pid%%/*}"
    if tr '\0' '\n' 2>/dev/null <"$f" | grep -qxF "BATCHDEPLOY_LOCAL_STACK=$STATE"; then
      gone "$pid" || printf '%s\n' "$pid"
    fi
  done
}

# a PATH with every command of the current one except those named, to try a machine without them
path_without() {
  local bin="$BATS_TEST_TMPDIR/bin" d name
  mkdir -p "$bin"
  local IFS=:
  for d in $PATH; do
    [[ -d "$d" ]] && ln -s "$d"/* "$bin"/ 2>/dev/null
  done
  for name in "$@"; do rm -f "$bin/$name"; done
  printf '%s\n' "$bin"
}

engine() { cut -d' ' -f1 "$STATE/run/engine"; }

# kill PART's PID with SIGNAL, wait until it is gone, and see status say the part is down (exit 1)
killed_and_shown_down() {
  kill -s "$3" "$2"
  local deadline=$((SECONDS + 10))
  until gone "$2" || ((SECONDS > deadline)); do sleep 0.1; done
  run "$STACK" status
  assert_failure 1
  assert_line --regexp "^$1 +down "
}

@test "up starts moto, the registry and the engine, and a second up starts nothing new" {
  run --separate-stderr "$STACK" up
  assert_success
  [[ "$stderr" == *"up (started: registry"* ]]
  local parts=(registry moto)
  [[ "$(engine)" == podman ]] && parts+=(podman)
  declare -A first
  local p
  for p in "${parts[@]}"; do first[$p]="$(pid_of "$p")"; done
  grep -q docker-registry "/proc/${first[registry]}/cmdline"
  grep -q moto.server "/proc/${first[moto]}/cmdline"
  [[ "$(engine)" != podman ]] || grep -q 'system' "/proc/${first[podman]}/cmdline"
  ports="$(cat "$STATE/run/moto.port" "$STATE/run/registry.port")"

  run --separate-stderr "$STACK" up
  assert_success
  [[ "$stderr" == *"already up"* ]]
  for p in "${parts[@]}"; do [ "$(pid_of "$p")" = "${first[$p]}" ]; done
  [ "$(cat "$STATE/run/moto.port" "$STATE/run/registry.port")" = "$ports" ]
}

@test "down stops exactly what up started and leaves no process of its own" {
  "$STACK" up
  local pids
  pids="$(cat "$STATE"/run/*.pid | cut -d' ' -f1)"
  [ -n "$(processes_of_state)" ]

  run --separate-stderr "$STACK" down
  assert_success
  local pid
  for pid in $pids; do gone "$pid"; done
  [ -z "$(processes_of_state)" ]
  [ -z "$(ls "$STATE"/run/*.pid 2>/dev/null)" ]
  [ ! -e "$STATE/run/podman.sock" ]

  run "$STACK" down
  assert_success
}

@test "a stopped stack comes back on the ports it had" {
  "$STACK" up
  ports="$(cat "$STATE/run/moto.port" "$STATE/run/registry.port")"
  "$STACK" down
  "$STACK" up
  [ "$(cat "$STATE/run/moto.port" "$STATE/run/registry.port")" = "$ports" ]
}

@test "status: exit 1 before up, 0 when all up, 1 with a part down; up restarts only that part" {
  run "$STACK" status
  assert_failure 1
  assert_output --partial "not up"

  "$STACK" up
  run "$STACK" status
  assert_success
  assert_line --regexp '^moto +up +pid [0-9]+ +http://127\.0\.0\.1:[0-9]+'
  assert_line --regexp '^registry +up '

  local moto registry
  moto="$(pid_of moto)"
  registry="$(pid_of registry)"
  killed_and_shown_down registry "$registry" TERM

  run --separate-stderr "$STACK" up
  assert_success
  [[ "$stderr" == *"(started: registry);"* ]]
  [ "$(pid_of moto)" = "$moto" ]
  [ "$(pid_of registry)" != "$registry" ]
}

@test "a pid recorded for a process that is not ours any more is neither reused nor killed" {
  "$STACK" up
  "$STACK" down
  # this shell's pid, with a start time that is not its own: a stranger that got the pid
  printf '%s 1\n' "$$" >"$STATE/run/moto.pid"
  run "$STACK" status
  assert_failure 1
  run "$STACK" down
  assert_success
  kill -0 "$$"
}

@test "env: export lines that a shell can source, quoted for the space in the path" {
  "$STACK" up
  run --separate-stderr "$STACK" env
  assert_success
  [ -z "$stderr" ]
  [ "$(grep -cv '^export [A-Z0-9_]*=' <<<"$output")" -eq 0 ]
  for name in AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_DEFAULT_REGION \
    AWS_EC2_METADATA_DISABLED DOCKER_HOST CONTAINER_CLI AWS_REGISTRY; do
    assert_line --regexp "^export $name="
  done
  # shellcheck disable=SC1090
  source <("$STACK" env)
  [ "$AWS_ENDPOINT_URL" = "http://127.0.0.1:$(cat "$STATE/run/moto.port")" ]
  [ "$AWS_REGISTRY" = "127.0.0.1:$(cat "$STATE/run/registry.port")" ]
  [ "$AWS_ACCESS_KEY_ID" = testing ] && [ "$AWS_REGION" = us-east-1 ] && [ "$AWS_DEFAULT_REGION" = us-east-1 ]
  curl -fsS -o /dev/null "$AWS_ENDPOINT_URL/moto-api/"
  curl -fsS -o /dev/null "http://$AWS_REGISTRY/v2/"
  if [ "$CONTAINER_CLI" = podman ]; then
    [ "$DOCKER_HOST" = "unix://$STATE/run/podman.sock" ]
    [ -f "$CONTAINERS_CONF" ] && grep -q 'runtime = "runc"' "$CONTAINERS_CONF"
    grep -q "127.0.0.1:$(cat "$STATE/run/registry.port")" "$CONTAINERS_REGISTRIES_CONF"
    curl -fsS --unix-socket "${DOCKER_HOST#unix://}" http://d/_ping
  fi
}

@test "env when the stack is not up: one line, exit 1" {
  run --separate-stderr "$STACK" env
  assert_failure 1
  [ -z "$output" ]
  [ "$stderr" = "local-stack: the local stack is not up: run scripts/local-stack.sh up" ]
}

@test "status, env and down on a stack never started look and create nothing" {
  run "$STACK" status
  assert_failure 1
  run "$STACK" env
  assert_failure 1
  run --separate-stderr "$STACK" down
  assert_success
  [[ "$stderr" == *"nothing recorded"* ]]
  [ ! -e "$STATE" ]
}

@test "an unknown command prints usage to stderr and exits 2" {
  run --separate-stderr "$STACK" start
  assert_failure 2
  [ -z "$output" ]
  [[ "$stderr" == *"Usage: scripts/local-stack.sh COMMAND"* ]]
  [[ "$stderr" == *"unknown command: start"* ]]
}

@test "no command, or an extra argument, is a usage error" {
  run --separate-stderr "$STACK"
  assert_failure 2
  [[ "$stderr" == *"no command given"* ]]
  run --separate-stderr "$STACK" up now
  assert_failure 2
  [[ "$stderr" == *"up takes only --postgres (got: now)"* ]]
  run --separate-stderr "$STACK" status --postgres
  assert_failure 2
  [[ "$stderr" == *"status takes no arguments (got: --postgres)"* ]]
  [ ! -e "$STATE" ]
}

@test "-h prints usage on stdout and exits 0" {
  run --separate-stderr "$STACK" -h
  assert_success
  assert_output --partial "Usage: scripts/local-stack.sh COMMAND"
  [ -z "$stderr" ]
}

@test "no container engine: one line naming what to install, exit 2, nothing started" {
  PATH="$(path_without podman docker)" run --separate-stderr "$STACK" up
  assert_failure 2
  [ "$stderr" = "local-stack: no container engine can run here (no Docker engine answers, no podman): apt-get install podman runc" ]
  [ -z "$(ls "$STATE"/run/*.pid 2>/dev/null)" ]
}

@test "make demo's script without a container engine: says what to install, exit 2, fakes no job" {
  PATH="$(path_without podman docker)" run --separate-stderr "$ROOT/scripts/demo.sh"
  assert_failure 2
  [ "$(printf '%s\n' "$stderr" | tail -n 1)" = "local-stack: no container engine can run here (no Docker engine answers, no podman): apt-get install podman runc" ]
  [[ "$stderr" != *"-b: build"* ]]
  [[ "$output" != *"demo: job"* ]]
}

@test "BATCHDEPLOY_ENGINE=docker without a Docker engine, or an unknown engine: exit 2" {
  PATH="$(path_without docker)" BATCHDEPLOY_ENGINE=docker run --separate-stderr "$STACK" up
  assert_failure 2
  [[ "$stderr" == "local-stack: no Docker engine answers"* ]]
  BATCHDEPLOY_ENGINE=lxc run --separate-stderr "$STACK" up
  assert_failure 2
  [[ "$stderr" == *"BATCHDEPLOY_ENGINE must be auto, docker or podman, not 'lxc'"* ]]
}

@test "a missing registry: one line naming the Debian package, exit 2" {
  local tool
  # (curl is no longer needed: the stack asks its parts whether they answer from Python)
  for tool in docker-registry; do
    PATH="$(path_without "$tool")" run --separate-stderr "$STACK" up
    assert_failure 2
    [ "$stderr" = "local-stack: $tool not found: apt-get install $tool" ]
  done
}

@test "a python without moto: one line saying how to get it, exit 2" {
  python3 -m venv --without-pip "$BATS_TEST_TMPDIR/bare venv"
  BATCHDEPLOY_PYTHON="$BATS_TEST_TMPDIR/bare venv/bin/python" run --separate-stderr "$STACK" up
  assert_failure 2
  [[ "$stderr" == *"has no moto[server]: run make setup"* ]]
}

@test "a part that does not answer in time: one line naming it and its log, exit 1, nothing left running" {
  BATCHDEPLOY_UP_TIMEOUT=0 run --separate-stderr "$STACK" up
  assert_failure 1
  [[ "$stderr" =~ ^local-stack:\ (registry|podman|moto)\ (did\ not\ answer\ within\ 0s|exited\ before\ it\ answered)\ \(log:\ $STATE/log/[a-z]+\.log\)$ ]]
  [ -z "$(processes_of_state)" ]
  [ -z "$(ls "$STATE"/run/*.pid 2>/dev/null)" ]
}

@test "another command holding the state's lock: one line, exit 1" {
  mkdir -p "$STATE/run"
  exec 8>"$STATE/run/lock"
  flock 8
  BATCHDEPLOY_LOCK_TIMEOUT=0 run --separate-stderr "$STACK" up
  exec 8>&-
  assert_failure 1
  [[ "$stderr" == "local-stack: another local-stack command holds $STATE/run/lock"* ]]
}

@test "a state folder too deep for a unix socket: one line, exit 2" {
  [[ "$(PATH="$(path_without docker)" command -v podman)" ]] || skip "podman is not installed"
  BATCHDEPLOY_LOCAL_DIR="$WORK/$(printf 'd%.0s' {1..100})"
  export BATCHDEPLOY_LOCAL_DIR
  PATH="$(path_without docker)" run --separate-stderr "$STACK" up
  assert_failure 2
  [[ "$stderr" == *"state folder path too long for a unix socket"* ]]
}

@test "BATCHDEPLOY_DEBUG=1 traces the commands" {
  BATCHDEPLOY_DEBUG=1 run --separate-stderr "$STACK" status
  [[ "$stderr" == *"+ init_state"* ]]
}

# -- PostgreSQL beside the stack (issue #25) ------------------------------------------------------

# PID is this state's one PostgreSQL, and the one its pid file records
only_postgres_is() { [ "$(pid_of postgres)" = "$1" ] && [ "$(postmasters)" = "$1" ]; }

postmasters() { pgrep -f -- "postgres -D $STATE/postgres/data" | while read -r pid; do gone "$pid" || echo "$pid"; done; }

@test "up --postgres starts one PostgreSQL; up again starts no second; down stops it; a plain up after down has none" {
  touch "$BATS_TEST_TMPDIR/before"
  run --separate-stderr "$STACK" up --postgres
  assert_success
  # nothing under /etc changed (no cluster registered with Debian's tools, no config written there)
  [ -z "$(find /etc -newer "$BATS_TEST_TMPDIR/before" -print -quit 2>/dev/null)" ]
  [[ "$stderr" == *"started: registry"*"postgres"* ]]
  [[ "$stderr" == *", postgres 127.0.0.1:"* ]]
  local pg
  pg="$(pid_of postgres)"
  [ "$(postmasters)" = "$pg" ]
  # on 127.0.0.1 at the recorded port, no unix socket, its data in the state folder
  grep -qa "listen_addresses=127.0.0.1" "/proc/$pg/cmdline"
  [ -f "$STATE/postgres/data/PG_VERSION" ]
  run "$STACK" status
  assert_success
  assert_line --regexp "^postgres +up +pid $pg +127\.0\.0\.1:$(cat "$STATE/run/postgres.port") "

  run --separate-stderr "$STACK" up --postgres
  assert_success
  [[ "$stderr" == *"already up"* ]]
  run --separate-stderr "$STACK" up
  assert_success
  only_postgres_is "$pg"

  "$STACK" down
  gone "$pg"
  [ -z "$(postmasters)" ]
  [ -z "$(processes_of_state)" ]
  "$STACK" up
  run "$STACK" status
  assert_success
  refute_line --partial "postgres"
  [ -z "$(postmasters)" ]
}

@test "env gives psql and the project the connection, reads the password from its 0600 file, never prints it" {
  "$STACK" up --postgres
  local password
  password="$(cat "$STATE/conf/postgres.password")"
  [ "${#password}" -ge 24 ]
  [ "$(stat -c %a "$STATE/conf/postgres.password")" = 600 ]
  [ "$(stat -c %a "$STATE/conf/pgpass")" = 600 ]
  run --separate-stderr "$STACK" env
  assert_success
  assert_line "export BATCHDEPLOY_POSTGRES_HOST=127.0.0.1"
  assert_line "export PGPASSFILE='$STATE/conf/pgpass'"
  [[ "$output" != *"$password"* ]]
  # shellcheck source=/dev/null
  source <("$STACK" env)
  [ "$BATCHDEPLOY_POSTGRES_PASSWORD" = "$password" ]
  run psql -X -q -At -c "CREATE TABLE kept (n int); INSERT INTO kept VALUES (42); SELECT current_user, current_database()"
  assert_success
  assert_output "batchdeploy|batchdeploy"
  # a wrong password is refused by the server, in its own words
  PGPASSFILE=/dev/null PGPASSWORD=wrong run psql -X -At -c "SELECT 1"
  assert_failure
  assert_output --partial 'password authentication failed for user "batchdeploy"'
  # the cluster and its password outlive down/up: the table is still there
  "$STACK" down
  "$STACK" up --postgres
  [ "$(cat "$STATE/conf/postgres.password")" = "$password" ]
  run psql -X -At -c "SELECT n FROM kept"
  assert_output "42"
  run grep -rlF -- "$password" "$STATE/log" "$STATE/run"
  assert_failure
}

@test "LOCAL_POSTGRES=yes in the folder's .aws_env asks for PostgreSQL; a bad value is one line, exit 2" {
  printf 'PROJECT_NAME=p\nLOCAL_POSTGRES=yes\n' >.aws_env
  run --separate-stderr "$STACK" up
  assert_success
  [[ "$stderr" == *"postgres 127.0.0.1:"* ]]
  "$STACK" down
  printf 'LOCAL_POSTGRES=maybe\n' >.aws_env
  run --separate-stderr "$STACK" up
  assert_failure 2
  [ "$stderr" = "local-stack: LOCAL_POSTGRES=maybe: say yes or no" ]
}

@test "a PostgreSQL whose pid file a killed up never wrote is adopted, not started twice" {
  BATCHDEPLOY_LOCAL_POSTGRES=yes "$STACK" up
  local pg
  pg="$(pid_of postgres)"
  rm "$STATE/run/postgres.pid"
  run --separate-stderr "$STACK" up
  assert_success
  only_postgres_is "$pg"
  "$STACK" down
  gone "$pg"
}

@test "a killed PostgreSQL is started again by up, on its port, with its data" {
  "$STACK" up --postgres
  local pg port
  pg="$(pid_of postgres)"
  port="$(cat "$STATE/run/postgres.port")"
  killed_and_shown_down postgres "$pg" KILL
  run --separate-stderr "$STACK" up
  assert_success
  [[ "$stderr" == *"(started: postgres);"* ]]
  [ "$(cat "$STATE/run/postgres.port")" = "$port" ]
  [ "$(postmasters)" = "$(pid_of postgres)" ]
}

@test "no PostgreSQL server: one line naming the package, exit 2, nothing started" {
  BATCHDEPLOY_POSTGRES_BIN="$WORK/nothing" run --separate-stderr "$STACK" up --postgres
  assert_failure 2
  [[ "$stderr" == "local-stack: BATCHDEPLOY_POSTGRES_BIN=$WORK/nothing has no postgres"*"apt-get install postgresql" ]]
  [ -z "$(processes_of_state)" ]
  [ ! -e "$STATE/run/postgres.wanted" ]
}
