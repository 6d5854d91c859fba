# shellcheck shell=bash
# scripts/lib/tools.sh - helpers for local test scripts (source it, don't run it).
#
#   source "$(dirname "$0")/lib/tools.sh"
#   ensure_python_tools          # .venv/ with requirements.txt (shared per machine), put on PATH
#   start_moto MOTO_URL          # moto_server in the background; MOTO_URL=http://127.0.0.1:PORT
#   port="$(free_port)"          # a free TCP port on 127.0.0.1
#   npm_ci_locked DIR            # DIR/node_modules as DIR/package-lock.json pins it (npm ci once)
#   tools_start NAME CMD...      # CMD in the background, its output kept for...
#   tools_await NAME             # ...waiting for it: prints that output, fails if CMD failed
#
# Background processes started here are killed by a single EXIT trap; an EXIT
# trap the caller had set before is kept and run after them. Add your own pids
# to that list with `tools_kill_on_exit PID`. Safe under `set -euo pipefail`.
# shellcheck disable=SC2119

TOOLS_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
_TOOLS_PIDS=()
_TOOLS_GROUPS=()
_TOOLS_TMPFILES=()
declare -A _TOOLS_JOB_PID=() _TOOLS_JOB_LOG=()
_TOOLS_TRAP_SET=""
_TOOLS_PREV_EXIT_TRAP=""

# The one EXIT handler: kill every registered pid and the process group of every job
# (tools_start), remove temp files, then run whatever EXIT trap was there before ours.
# Never fails (the script's exit status is kept).
_tools_on_exit() {
  local pid f
  for pid in "${_TOOLS_PIDS[@]+"${_TOOLS_PIDS[@]}"}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${_TOOLS_GROUPS[@]+"${_TOOLS_GROUPS[@]}"}"; do
    kill -- "-$pid" 2>/dev/null || true
  done
  for pid in "${_TOOLS_PIDS[@]+"${_TOOLS_PIDS[@]}"}" "${_TOOLS_GROUPS[@]+"${_TOOLS_GROUPS[@]}"}"; do
    wait "$pid" 2>/dev/null || true
  done
  for f in "${_TOOLS_TMPFILES[@]+"${_TOOLS_TMPFILES[@]}"}"; do
    rm -f -- "$f" || true
  done
  if [[ -n $_TOOLS_PREV_EXIT_TRAP ]]; then
    eval "$_TOOLS_PREV_EXIT_TRAP" || true
  fi
}

# shellcheck disable=SC2120  # "set --" below re-parses the old trap, not our args
_tools_install_trap() {
  [[ -n $_TOOLS_TRAP_SET ]] && return 0
  local prev
  prev="$(trap -p EXIT)"
  if [[ -n $prev ]]; then
    # prev looks like: trap -- 'command' EXIT
    eval "set -- $prev"
    _TOOLS_PREV_EXIT_TRAP="$3"
  fi
  trap _tools_on_exit EXIT
  # Make Ctrl-C / kill go through the EXIT trap too, unless the caller chose otherwise.
  [[ -n "$(trap -p INT)" ]] || trap 'exit 130' INT
  [[ -n "$(trap -p TERM)" ]] || trap 'exit 143' TERM
  _TOOLS_TRAP_SET=1
}

# tools_kill_on_exit PID...: kill these processes when the script exits.
tools_kill_on_exit() {
  _tools_install_trap
  _TOOLS_PIDS+=("$@")
}

# tools_start NAME CMD...: run CMD (a command or a function) in the background, in a
# process group of its own so that the EXIT trap stops it with everything it started
# (npm, node, pip), with stdin from /dev/null and its output into a temp file. For work
# that waits on the network or the disk while the caller compiles. Must be called
# directly, not inside $(...).
tools_start() {
  local name="${1:?usage: tools_start NAME CMD...}" log pid monitor=""
  shift
  _tools_install_trap
  log="$(mktemp "${TMPDIR:-/tmp}/tools-$name.XXXXXX")"
  _TOOLS_TMPFILES+=("$log")
  # Job control gives the job its own process group; only for this one fork.
  [[ $- == *m* ]] && monitor=1
  set -m
  ("$@") </dev/null >"$log" 2>&1 &
  pid=$!
  [[ -n $monitor ]] || set +m
  _TOOLS_GROUPS+=("$pid")
  _TOOLS_JOB_PID[$name]="$pid"
  _TOOLS_JOB_LOG[$name]="$log"
}

# tools_await NAME: wait for the job NAME (tools_start), print its output, and return
# its exit status (non-zero with a line naming it when it failed).
tools_await() {
  local name="${1:?usage: tools_await NAME}" status=0
  if [[ -z ${_TOOLS_JOB_PID[$name]:-} ]]; then
    echo "tools: no job named $name" >&2
    return 1
  fi
  wait "${_TOOLS_JOB_PID[$name]}" || status=$?
  cat "${_TOOLS_JOB_LOG[$name]}"
  if ((status != 0)); then
    echo "tools: $name failed (exit $status); its output is above" >&2
  fi
  return "$status"
}

# npm_ci_locked DIR: DIR/node_modules holds what DIR/package-lock.json pins: `npm ci`
# when node_modules/.lock-sha256 is not the lock's hash (a fresh clone, a changed
# lock), else nothing. Under a lock on the lock file, so two scripts installing the same
# DIR at once install it once.
npm_ci_locked() {
  local dir="${1:?usage: npm_ci_locked DIR}" want fd
  command -v npm >/dev/null || { echo "tools: npm is required (node >= 20 with npm)" >&2; return 1; }
  want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)" || return 1
  exec {fd}<"$dir/package-lock.json" || return 1
  if command -v flock >/dev/null; then flock "$fd"; fi
  if [[ ! -f $dir/node_modules/.lock-sha256 || $(<"$dir/node_modules/.lock-sha256") != "$want" ]]; then
    if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error); then
      exec {fd}<&-
      echo "tools: npm ci in $dir failed" >&2
      return 1
    fi
    printf '%s\n' "$want" >"$dir/node_modules/.lock-sha256"
  fi
  exec {fd}<&-
}

# free_port: print a TCP port on 127.0.0.1 that is free right now.
free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# ensure_python_tools: make sure .venv/ holds requirements.txt's pinned tools and put
# .venv/bin first on PATH. The tools are installed once per machine, per version of
# requirements.txt: into ${XDG_CACHE_HOME:-~/.cache}/jwt-authorizer/venv-HASH (HASH of
# requirements.txt), which .venv links to, so every clone of the repository shares them
# (a fresh clone does not wait minutes for pip). A .venv that is a directory of its own
# (an older checkout) is kept and updated in place as before.
ensure_python_tools() {
  local venv="$TOOLS_REPO_ROOT/.venv"
  local req="$TOOLS_REPO_ROOT/requirements.txt"
  local want target

  want="$(python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$req")" || {
    echo "tools: cannot read $req" >&2
    return 1
  }
  if [[ -d $venv && ! -L $venv ]]; then
    target="$venv"
  else
    local cache="${XDG_CACHE_HOME:-$HOME/.cache}/jwt-authorizer"
    target="$cache/venv-${want:0:16}"
    mkdir -p "$cache" || return 1
  fi
  _tools_venv "$target" "$req" "$want" || return 1
  if [[ $target != "$venv" ]]; then
    ln -sfn "$target" "$venv"
  fi

  case ":$PATH:" in
    *":$venv/bin:"*) ;;
    *) export PATH="$venv/bin:$PATH" ;;
  esac
}

# _tools_venv DIR REQ HASH: DIR is a venv with REQ installed (its stamp says HASH), made
# or updated under a lock, so two checkouts starting at once install once.
_tools_venv() {
  local dir="$1" req="$2" want="$3" stamp="$1/.requirements.sha256" log
  [[ -x $dir/bin/python && -f $stamp && "$(<"$stamp")" == "$want" ]] && return 0
  exec {_tools_lock}>"$dir.lock" || return 1
  if command -v flock >/dev/null; then flock "$_tools_lock"; fi
  if [[ -x $dir/bin/python && -f $stamp && "$(<"$stamp")" == "$want" ]]; then
    exec {_tools_lock}>&-
    return 0
  fi
  if [[ ! -x $dir/bin/python ]] && ! python3 -m venv "$dir" >/dev/null 2>&1; then
    rm -rf -- "$dir"
    exec {_tools_lock}>&-
    echo "tools: 'python3 -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
    return 1
  fi
  echo "tools: installing requirements.txt into $dir (once per machine; a minute or a few)..." >&2
  log="$(mktemp)"
  if ! "$dir/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$req" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f -- "$log"
    exec {_tools_lock}>&-
    echo "tools: pip install -r requirements.txt failed" >&2
    return 1
  fi
  rm -f -- "$log"
  printf '%s\n' "$want" >"$stamp"
  exec {_tools_lock}>&-
}

# start_moto VAR: start moto_server on 127.0.0.1 on a port the kernel picks (-p 0;
# picking a free port first and passing it on races with anything else starting up),
# read the port from its "Running on" line, wait until it answers HTTP (up to 20 s),
# and set VAR to its URL. Its pid goes in MOTO_PID; it is killed on EXIT. Must be
# called directly, not inside $(...).
start_moto() {
  local var="${1:?usage: start_moto VAR}"
  local port="" url="(port not reported yet)" log pid i
  log="$(mktemp "${TMPDIR:-/tmp}/moto.XXXXXX")"
  _tools_install_trap
  _TOOLS_TMPFILES+=("$log")

  moto_server -H 127.0.0.1 -p 0 >"$log" 2>&1 &
  pid=$!
  tools_kill_on_exit "$pid"

  for ((i = 0; i < 100; i++)); do   # 100 x 0.2 s = 20 s
    if ! kill -0 "$pid" 2>/dev/null; then
      break
    fi
    if [[ -z $port ]]; then
      port="$(sed -n 's|.*Running on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$log" | head -n 1)"
      [[ -n $port ]] && url="http://127.0.0.1:$port"
    fi
    # Any HTTP response (even an error status) means the server is up.
    if [[ -n $port ]] && python3 - "$url" <<'PY' 2>/dev/null; then
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1] + "/moto-api/data.json", timeout=1)
except urllib.error.HTTPError:
    pass
PY
      # shellcheck disable=SC2034  # MOTO_PID is for the caller
      MOTO_PID="$pid"
      printf -v "$var" '%s' "$url"
      return 0
    fi
    sleep 0.2
  done

  echo "tools: moto_server did not come up on $url; its output:" >&2
  sed 's/^/  moto| /' "$log" >&2
  kill "$pid" 2>/dev/null || true
  return 1
}
