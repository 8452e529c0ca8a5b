#!/usr/bin/env bash
# A whole AWS Batch on this machine, for `make demo` and the tests: a moto server (the AWS APIs, and
# Batch jobs run as real containers), a registry (stands in for ECR's image endpoint) and a container
# engine with a Docker-compatible API. Everything listens on 127.0.0.1 only.
set -euo pipefail
[[ "${BATCHDEPLOY_DEBUG:-}" == 1 ]] && set -x

PROG=local-stack
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
BASE_IMAGE=batchdeploy-base:bookworm
# Debian's python3-boto3/python3-yaml make the image usable offline; the tarball is the slow part
# (about 30 s), the import from it takes about 5 s.
BASE_PACKAGES=python3,python3-boto3,python3-yaml,ca-certificates
UP_TIMEOUT="${BATCHDEPLOY_UP_TIMEOUT:-60}"
# 'up' may build the base image while another 'up' waits for the lock.
LOCK_TIMEOUT="${BATCHDEPLOY_LOCK_TIMEOUT:-300}"

usage() {
  cat <<EOF
Usage: scripts/local-stack.sh COMMAND

A local AWS Batch: moto server + image registry + container engine, on 127.0.0.1.

Commands:
  up          start what is not running (idempotent) and wait until every part answers;
              also makes sure the base image $BASE_IMAGE exists
  down        stop exactly what 'up' started, and the job containers it left running
  status      say what runs; exit 0 when every part is up, 1 otherwise
  env         print 'export' lines pointing boto3, the aws CLI and deploy.sh at the stack:
                source <(scripts/local-stack.sh env)
  base-image  build (once, offline after the first time) and import $BASE_IMAGE

Environment:
  BATCHDEPLOY_LOCAL_DIR       state folder (default: <repo>/.local-stack)
  BATCHDEPLOY_BASE_TAR        cached base image tarball (default: <state>/cache/base-bookworm.tar)
  BATCHDEPLOY_SKIP_BASE_IMAGE=1  'up' leaves the base image alone
  BATCHDEPLOY_ENGINE          auto (default: a Docker engine if one answers, else podman), docker, podman
  BATCHDEPLOY_PYTHON          python with moto[server] (default: <repo>/.venv/bin/python, else python3)
  BATCHDEPLOY_UP_TIMEOUT      seconds 'up' waits for the parts to answer (default: 60)
  BATCHDEPLOY_LOCK_TIMEOUT    seconds a command waits for another one on the same state (default: 300)
  BATCHDEPLOY_DEBIAN_MIRROR   mirror for the base image (default: http://deb.debian.org/debian)
  BATCHDEPLOY_DEBUG=1         trace every command

Exit codes: 0 ok, 1 failed, 2 usage or a missing tool, 130 interrupted.
EOF
}

die() {
  local code=$1
  shift
  printf '%s: %s\n' "$PROG" "$*" >&2
  exit "$code"
}

note() { printf '%s: %s\n' "$PROG" "$*" >&2; }

# ---------------------------------------------------------------------------------------------
# State: one folder holds conf, logs, pids, ports and the registry's storage.

# Only the commands that start something create the folder; status, env and down just look.
init_state() {
  local dir="${BATCHDEPLOY_LOCAL_DIR:-$REPO_ROOT/.local-stack}"
  if [[ "$1" == create ]]; then
    mkdir -p "$dir/run" "$dir/log" "$dir/conf" "$dir/registry" "$dir/cache" 2>/dev/null ||
      die 2 "cannot create the state folder $dir"
  fi
  if [[ -d "$dir" ]]; then STATE="$(cd "$dir" && pwd -P)"; else STATE="$dir"; fi
  RUN="$STATE/run"
  LOGS="$STATE/log"
  CONF="$STATE/conf"
  SOCK="$RUN/podman.sock"
  BASE_TAR="${BATCHDEPLOY_BASE_TAR:-$STATE/cache/base-bookworm.tar}"
}

# Two 'up's at once (a test run beside a demo) must not both start a moto: one waits for the other.
lock_state() {
  exec 9>"$RUN/lock"
  flock -w "$LOCK_TIMEOUT" 9 || die 1 "another local-stack command holds $RUN/lock (waited ${LOCK_TIMEOUT}s)"
}

read_file() { if [[ -f "$1" ]]; then cat "$1"; fi; }

# A pid file holds "PID STARTTIME": the start time (in clock ticks since boot) tells our process
# apart from an unrelated one that got the same pid after ours died.
proc_starttime() {
  local stat rest
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  rest="${stat##*) }"
  local -a f
  read -ra f <<<"$rest"
  # A zombie has exited; this machine's init may never reap it, so it counts as gone.
  [[ "${f[0]}" != Z ]] || return 1
  printf '%s\n' "${f[19]}"
}

# Prints the pid of part $1 when the process recorded for it is still that same process.
live_pid() {
  local pid start now
  read -r pid start 2>/dev/null <"$RUN/$1.pid" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  now="$(proc_starttime "$pid")" || return 1
  [[ "$now" == "$start" ]] || return 1
  printf '%s\n' "$pid"
}

record_pid() {
  local start
  start="$(proc_starttime "$2")" || start=gone
  printf '%s %s\n' "$2" "$start" >"$RUN/$1.pid"
}

# ---------------------------------------------------------------------------------------------
# Tools

find_python() {
  if [[ -n "${BATCHDEPLOY_PYTHON:-}" ]]; then
    PY="$BATCHDEPLOY_PYTHON"
  elif [[ -x "$REPO_ROOT/.venv/bin/python" ]]; then
    PY="$REPO_ROOT/.venv/bin/python"
  else
    PY=python3
  fi
  "$PY" -c 'import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in ("moto", "flask", "docker")))' \
    2>/dev/null || die 2 "$PY has no moto[server]: run make setup (pip install -e '.[dev]')"
}

need_cmd() {
  command -v "$1" >/dev/null 2>&1 || die 2 "$1 not found: apt-get install $2"
}

# A free loopback port; the one recorded earlier when it is still free, so that exported
# AWS_ENDPOINT_URL/AWS_REGISTRY stay valid across down/up.
pick_port() {
  "$PY" - "$(read_file "$RUN/$1.port")" <<'EOF'
import socket, sys
def bind(port):
    with socket.socket() as s:
        # as the servers bind: a port whose old connections linger in TIME_WAIT is still free to them
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return s.getsockname()[1]
try:
    print(bind(int(sys.argv[1])))
except (ValueError, OSError):
    print(bind(0))
EOF
}

http_ok() { curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; }

# ---------------------------------------------------------------------------------------------
# Engine: a Docker engine when one answers, else a podman API service configured only through files
# in the state folder (nothing under /etc changes).
#
# podman's image storage stays its default (/var/lib/containers/storage for root), not the state
# folder: the 265 MB base image and the layers built FROM it are shared by every stack on the machine
# (a test's temporary stack costs no import, `down` and `rm -rf` of the state folder lose nothing),
# `podman images` shows what a user built, and removing a state folder never trips over an overlay
# mount. Stacks sharing that storage tell their job containers apart by MOTO_PORT.

docker_answers() {
  command -v docker >/dev/null 2>&1 || return 1
  # A DOCKER_HOST left over from an earlier `env` of ours names our own podman, not a Docker engine.
  if [[ "${DOCKER_HOST:-}" == "unix://$SOCK" ]]; then
    env -u DOCKER_HOST docker info >/dev/null 2>&1
  else
    docker info >/dev/null 2>&1
  fi
}

runc_present() { command -v runc >/dev/null 2>&1 || [[ -x /usr/sbin/runc || -x /usr/bin/runc ]]; }

choose_engine() {
  local want="${BATCHDEPLOY_ENGINE:-auto}"
  ENGINE_HOST=""
  case "$want" in
    auto | docker | podman) ;;
    *) die 2 "BATCHDEPLOY_ENGINE must be auto, docker or podman, not '$want'" ;;
  esac
  if [[ "$want" != podman ]] && docker_answers; then
    ENGINE=docker
    ENGINE_HOST="$(docker_endpoint)"
  elif [[ "$want" != docker ]] && command -v podman >/dev/null 2>&1 && runc_present; then
    ENGINE=podman
    ENGINE_HOST="unix://$SOCK"
  elif [[ "$want" == docker ]]; then
    die 2 "no Docker engine answers ('docker info' fails): start one, or use BATCHDEPLOY_ENGINE=podman"
  else
    die 2 "no container engine can run here (no Docker engine answers, no podman): apt-get install podman runc"
  fi
  printf '%s %s\n' "$ENGINE" "$ENGINE_HOST" >"$RUN/engine"
}

# moto's Docker SDK knows DOCKER_HOST but not the CLI's contexts: hand it the address the CLI uses.
docker_endpoint() {
  if [[ -n "${DOCKER_HOST:-}" && "$DOCKER_HOST" != "unix://$SOCK" ]]; then
    printf '%s\n' "$DOCKER_HOST"
  else
    local host
    host="$(env -u DOCKER_HOST docker context inspect --format '{{.Endpoints.docker.Host}}' 2>/dev/null)" || true
    printf '%s\n' "${host:-unix:///var/run/docker.sock}"
  fi
}

# The engine recorded by 'up', for the commands that must talk to the same one.
recorded_engine() {
  read -r ENGINE ENGINE_HOST 2>/dev/null <"$RUN/engine" || return 1
  [[ "$ENGINE" == docker || "$ENGINE" == podman ]]
}

# The engine's own CLI, with our conf files: `podman` reads storage directly, so it must see the
# same runtime and registry settings as the API service.
engine_cli() {
  if [[ "$ENGINE" == podman ]]; then
    CONTAINERS_CONF="$CONF/containers.conf" CONTAINERS_REGISTRIES_CONF="$CONF/registries.conf" podman "$@"
  else
    DOCKER_HOST="$ENGINE_HOST" docker "$@"
  fi
}

engine_answers() {
  if [[ "$ENGINE" == podman ]]; then
    curl -fsS -o /dev/null --max-time 2 --unix-socket "$SOCK" http://d/_ping 2>/dev/null
  else
    engine_cli info >/dev/null 2>&1
  fi
}

write_engine_conf() {
  # crun fails here ("cgroups in hybrid mode not supported") and podman's default nofile limit
  # (1048576) is refused by setrlimit inside this kind of VM; runc and lower limits both work.
  cat >"$CONF/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
EOF
}

write_registry_conf() {
  # podman refuses plain HTTP unless the registry is named insecure; a prefix without the port does
  # not match, so the file names the port and changes with it.
  local reg_conf
  reg_conf="$(printf '[[registry]]\nlocation = "127.0.0.1:%s"\ninsecure = true\n' "$REG_PORT")"
  if [[ "$(read_file "$CONF/registries.conf")" != "$reg_conf" ]]; then
    printf '%s\n' "$reg_conf" >"$CONF/registries.conf"
    REG_CONF_CHANGED=1
  fi
  # A fixed secret keeps resumable uploads valid across a registry restart.
  [[ -s "$RUN/registry.secret" ]] || od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$RUN/registry.secret"
  cat >"$CONF/registry.yml" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: "$STATE/registry"
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REG_PORT
  secret: "$(cat "$RUN/registry.secret")"
EOF
}

# ---------------------------------------------------------------------------------------------
# Parts

# Starts a part detached: its own session (a closed terminal or a Ctrl-C elsewhere must not stop it)
# and no descriptor of ours (an inherited pipe would keep a caller that captures our output waiting;
# the lock's descriptor would hold the lock for as long as the part runs). Python's close_fds does
# what bash cannot do without eval.
spawn() {
  local name=$1 pid
  shift
  pid="$("$PY" - "$LOGS/$name.log" "$STATE" "$@" <<'EOF'
import os, subprocess, sys
# BATCHDEPLOY_LOCAL_STACK names the state folder in every part's environment: `ps e` and the tests
# can tell which stack a process belongs to.
env = dict(os.environ, BATCHDEPLOY_LOCAL_STACK=sys.argv[2])
with open(sys.argv[1], "wb") as log:
    p = subprocess.Popen(sys.argv[3:], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                         close_fds=True, start_new_session=True, env=env)
print(p.pid)
EOF
)" || fail_up "cannot start $name (log: $LOGS/$name.log)"
  record_pid "$name" "$pid"
  STARTED+=("$name")
}

start_registry() {
  spawn registry docker-registry serve "$CONF/registry.yml"
}

start_podman() {
  rm -f "$SOCK"
  spawn podman env CONTAINERS_CONF="$CONF/containers.conf" CONTAINERS_REGISTRIES_CONF="$CONF/registries.conf" \
    podman system service --time=0 "unix://$SOCK"
}

start_moto() {
  # Host networking lets a job's container reach this server at 127.0.0.1; DOCKER_HOST is the
  # engine moto runs the jobs on.
  spawn moto env DOCKER_HOST="$ENGINE_HOST" MOTO_DOCKER_NETWORK_MODE=host PYTHONUNBUFFERED=1 \
    "$PY" -m moto.server -H 127.0.0.1 -p "$MOTO_PORT"
}

part_answers() {
  case "$1" in
    moto) http_ok "http://127.0.0.1:$MOTO_PORT/moto-api/" ;;
    registry) http_ok "http://127.0.0.1:$REG_PORT/v2/" ;;
    podman) engine_answers ;;
  esac
}

parts() {
  printf '%s\n' registry
  [[ "$ENGINE" == podman ]] && printf '%s\n' podman
  printf '%s\n' moto
}

# Waits until every part answers, failing fast when one has exited; one line names the part and log.
wait_ready() {
  local deadline=$((SECONDS + UP_TIMEOUT)) part
  local -a pending
  mapfile -t pending < <(parts)
  while true; do
    local -a still=()
    for part in "${pending[@]}"; do
      part_answers "$part" && continue
      if ! live_pid "$part" >/dev/null; then
        fail_up "$part exited before it answered (log: $LOGS/$part.log)"
      fi
      still+=("$part")
    done
    ((${#still[@]})) || return 0
    if ((SECONDS >= deadline)); then
      fail_up "${still[0]} did not answer within ${UP_TIMEOUT}s (log: $LOGS/${still[0]}.log)"
    fi
    pending=("${still[@]}")
    sleep 0.1
  done
}

# A failed or interrupted 'up' takes down what it started itself, so nothing half-started lingers.
fail_up() {
  stop_started
  die 1 "$1"
}

stop_started() {
  local name
  for name in "${STARTED[@]}"; do stop_part "$name"; done
  STARTED=()
}

on_signal() {
  trap - INT TERM
  stop_started
  [[ -z "$PARTIAL" ]] || rm -f "$PARTIAL"
  note "interrupted"
  exit "$1"
}

stop_part() {
  local name=$1 pid
  if pid="$(live_pid "$name")"; then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 10))
    while live_pid "$name" >/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    if live_pid "$name" >/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$RUN/$name.pid"
}

# moto runs each job as a container and removes it when the job ends; after moto stops, nobody would.
# moto gives every job container MOTO_PORT=<its own port>, which tells ours apart from other stacks'.
remove_job_containers() {
  local ids line
  ids="$(engine_cli ps -q 2>/dev/null)" || return 0
  [[ -n "$ids" ]] || return 0
  # shellcheck disable=SC2086 # one id per word
  engine_cli inspect -f '{{.Id}}{{range .Config.Env}} {{.}}{{end}}' $ids 2>/dev/null |
    while read -r line; do
      [[ " $line " == *" MOTO_PORT=$MOTO_PORT "* && "$line" == *" AWS_BATCH_JOB_ID="* ]] || continue
      # kill first: podman's rm -f would wait 10 s for a PID 1 that ignores SIGTERM (e.g. sleep)
      engine_cli kill "${line%% *}" >/dev/null 2>&1 || true
      engine_cli rm -f "${line%% *}" >/dev/null 2>&1 || true
    done
}

# ---------------------------------------------------------------------------------------------
# Base image: Debian bookworm with Python, built offline by mmdebstrap from the Debian mirror once,
# then kept as a tarball so a reset engine storage costs an import, not a debootstrap.

base_image_present() { engine_cli image inspect "$BASE_IMAGE" >/dev/null 2>&1; }

ensure_base_image() {
  if base_image_present; then
    return 0
  fi
  local log="$LOGS/base-image.log"
  if [[ ! -f "$BASE_TAR" || ! -s "$BASE_TAR" ]]; then
    need_cmd mmdebstrap mmdebstrap
    note "building $BASE_TAR with mmdebstrap (about 30 s, once)"
    mkdir -p "$(dirname "$BASE_TAR")"
    PARTIAL="$BASE_TAR.partial.$$"
    # mmdebstrap reads a sources list from stdin when it is not a terminal, hence </dev/null; it
    # guesses the format from the file name, which .partial.PID would make a directory, hence
    # --format. Docs, man pages and locales are dropped to keep the image small.
    if ! mmdebstrap --variant=apt --format=tar --include="$BASE_PACKAGES" \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
      bookworm "$PARTIAL" "${BATCHDEPLOY_DEBIAN_MIRROR:-http://deb.debian.org/debian}" \
      </dev/null >"$log" 2>&1; then
      rm -f "$PARTIAL"
      die 1 "mmdebstrap failed to build the base image (log: $log)"
    fi
    mv -f "$PARTIAL" "$BASE_TAR"
    PARTIAL=""
  fi
  note "importing $BASE_IMAGE from $BASE_TAR"
  # LANG as in the python:*-slim images the example uses on AWS.
  if ! engine_cli import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
    "$BASE_TAR" "$BASE_IMAGE" >>"$log" 2>&1; then
    die 1 "cannot import $BASE_TAR into $ENGINE (log: $log)"
  fi
}

# ---------------------------------------------------------------------------------------------
# Commands

cmd_up() {
  find_python
  need_cmd curl curl
  need_cmd docker-registry docker-registry
  lock_state

  # A running podman service stays the engine; otherwise look again (a Docker engine may have come).
  if ! { recorded_engine && [[ "$ENGINE" == podman ]] && live_pid podman >/dev/null; }; then
    choose_engine
  fi
  if [[ "$ENGINE" == podman ]] && ((${#SOCK} > 100)); then
    die 2 "state folder path too long for a unix socket ($SOCK): set BATCHDEPLOY_LOCAL_DIR to a shorter path"
  fi

  # A running part keeps its port; a stopped one gets its recorded port back when free.
  if live_pid registry >/dev/null; then REG_PORT="$(read_file "$RUN/registry.port")"; else REG_PORT="$(pick_port registry)"; fi
  if live_pid moto >/dev/null; then MOTO_PORT="$(read_file "$RUN/moto.port")"; else MOTO_PORT="$(pick_port moto)"; fi
  printf '%s\n' "$REG_PORT" >"$RUN/registry.port"
  printf '%s\n' "$MOTO_PORT" >"$RUN/moto.port"

  REG_CONF_CHANGED=0
  write_engine_conf
  write_registry_conf
  # podman reads registries.conf when it starts; a moved registry needs a fresh service.
  if ((REG_CONF_CHANGED)) && live_pid podman >/dev/null; then stop_part podman; fi

  live_pid registry >/dev/null || start_registry
  if [[ "$ENGINE" == podman ]]; then live_pid podman >/dev/null || start_podman; fi
  live_pid moto >/dev/null || start_moto
  wait_ready

  if [[ "${BATCHDEPLOY_SKIP_BASE_IMAGE:-}" != 1 ]]; then ensure_base_image; fi
  local what="already up"
  ((${#STARTED[@]} == 0)) || what="up (started: ${STARTED[*]})"
  note "$what; moto http://127.0.0.1:$MOTO_PORT, registry 127.0.0.1:$REG_PORT, engine $ENGINE"
}

cmd_down() {
  if [[ ! -d "$RUN" ]]; then
    note "down (nothing recorded in $STATE)"
    return 0
  fi
  lock_state
  MOTO_PORT="$(read_file "$RUN/moto.port")"
  # moto first, so that it starts no new job container while the running ones are removed.
  stop_part moto
  if [[ -n "$MOTO_PORT" ]] && recorded_engine && engine_reachable; then remove_job_containers; fi
  stop_part podman
  stop_part registry
  rm -f "$SOCK"
  note "down"
}

# The podman CLI reaches its storage without the service; a Docker engine has to answer.
engine_reachable() {
  if [[ "$ENGINE" == podman ]]; then command -v podman >/dev/null 2>&1; else engine_answers; fi
}

# "PART up|down PID WHERE" per part; exit 0 when every part is up.
part_lines() {
  MOTO_PORT="$(read_file "$RUN/moto.port")"
  REG_PORT="$(read_file "$RUN/registry.port")"
  recorded_engine || return 1
  local ok=0 part pid where
  for part in $(parts); do
    case "$part" in
      moto) where="http://127.0.0.1:$MOTO_PORT" ;;
      registry) where="127.0.0.1:$REG_PORT" ;;
      podman) where="unix://$SOCK" ;;
    esac
    if pid="$(live_pid "$part")" && part_answers "$part"; then
      printf '%-9s up    pid %-7s %s  log: %s\n' "$part" "$pid" "$where" "$LOGS/$part.log"
    else
      printf '%-9s down  %s\n' "$part" "$where"
      ok=1
    fi
  done
  if [[ "$ENGINE" == docker ]]; then
    if engine_answers; then
      printf '%-9s up    (not started by us) %s\n' docker "$ENGINE_HOST"
    else
      printf '%-9s down  %s\n' docker "$ENGINE_HOST"
      ok=1
    fi
  fi
  return "$ok"
}

cmd_status() {
  local ok=0
  if ! recorded_engine; then
    printf 'not up (state: %s)\n' "$STATE"
    return 1
  fi
  part_lines || ok=1
  if base_image_present; then
    printf '%-9s %s present\n' image "$BASE_IMAGE"
  else
    printf '%-9s %s missing (scripts/local-stack.sh base-image)\n' image "$BASE_IMAGE"
  fi
  return "$ok"
}

cmd_env() {
  part_lines >/dev/null || die 1 "the local stack is not up: run scripts/local-stack.sh up"
  local -a vars=(
    AWS_ENDPOINT_URL "http://127.0.0.1:$MOTO_PORT"
    AWS_ACCESS_KEY_ID testing
    AWS_SECRET_ACCESS_KEY testing
    AWS_REGION us-east-1
    AWS_DEFAULT_REGION us-east-1
    AWS_REGISTRY "127.0.0.1:$REG_PORT"
    DOCKER_HOST "$ENGINE_HOST"
    CONTAINER_CLI "$ENGINE"
    BATCHDEPLOY_BASE_IMAGE "$BASE_IMAGE"
  )
  if [[ "$ENGINE" == podman ]]; then
    vars+=(CONTAINERS_CONF "$CONF/containers.conf" CONTAINERS_REGISTRIES_CONF "$CONF/registries.conf")
  fi
  local i
  for ((i = 0; i < ${#vars[@]}; i += 2)); do
    printf 'export %s=%q\n' "${vars[i]}" "${vars[i + 1]}"
  done
}

# Works with the stack up or down: `podman import` needs only the CLI and our containers.conf.
cmd_base_image() {
  lock_state
  recorded_engine || choose_engine
  [[ "$ENGINE" != podman ]] || write_engine_conf
  ensure_base_image
  note "$BASE_IMAGE present ($ENGINE)"
}

main() {
  local cmd="${1:-}"
  case "$cmd" in
    -h | --help | help)
      usage
      return 0
      ;;
    up | down | status | env | base-image) ;;
    "")
      usage >&2
      die 2 "no command given"
      ;;
    *)
      usage >&2
      die 2 "unknown command: $cmd"
      ;;
  esac
  if (($# != 1)); then
    usage >&2
    die 2 "$cmd takes no arguments"
  fi
  case "$cmd" in
    up | base-image) init_state create ;;
    *) init_state look ;;
  esac
  STARTED=()
  PARTIAL=""
  trap 'on_signal 130' INT
  trap 'on_signal 143' TERM
  case "$cmd" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    base-image) cmd_base_image ;;
  esac
}

main "$@"
