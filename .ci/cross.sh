#!/usr/bin/env bash
# Cross-compiles Runnel's static binaries for the edge (linux/amd64,
# linux/arm64, linux/arm with GOARM=7) and runs the arm64 one under
# qemu-user through the seed-flow smoke test: `runnel run` with the example
# flow on a free loopback port, four readings published with mosquitto_pub,
# the exact three alerts checked with mosquitto_sub, then SIGTERM and a clean
# exit. Fails on any difference; every wait is bounded.
#
#   .ci/cross.sh            # binaries in a temporary directory
#   OUT=dist .ci/cross.sh   # binaries kept in dist/
#
# Needs: go, mosquitto-clients, qemu-user-static (.ci/run installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

out=${OUT:-}
if [ -z "$out" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"

build() { # name goarch [goarm]
  local name=$1 arch=$2 arm=${3:-}
  CGO_ENABLED=0 GOOS=linux GOARCH="$arch" GOARM="$arm" \
    go build -trimpath -ldflags='-s -w' -o "$out/runnel-linux-$name" .
  printf '%-8s %9d bytes  %5.1f MiB\n' "$name" "$(stat -c %s "$out/runnel-linux-$name")" \
    "$(awk -v b="$(stat -c %s "$out/runnel-linux-$name")" 'BEGIN{print b/1048576}')"
}
echo "== cross-compiled binaries (CGO_ENABLED=0, -trimpath -ldflags='-s -w')"
build amd64 amd64
build arm64 arm64
build armv7 arm 7

qemu=$(command -v qemu-aarch64-static || true)
if [ -z "$qemu" ]; then
  echo "qemu-aarch64-static not found (apt-get install qemu-user-static)" >&2
  exit 1
fi

echo "== seed-flow smoke test of the arm64 binary under $qemu"
work=$(mktemp -d)
runnel_pid="" sub_pid=""
cleanup() {
  for p in $sub_pid $runnel_pid; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
  if [ -z "${OUT:-}" ]; then rm -rf "$out"; fi
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  echo "--- runnel log:" >&2; cat "$work/runnel.log" >&2 || true
  echo "--- mosquitto_sub output:" >&2; cat "$work/sub.out" >&2 || true
  exit 1
}
# wait_for FILE PATTERN SECONDS: until a line of FILE matches PATTERN.
wait_for() {
  local deadline=$((SECONDS + $3))
  until grep -q -- "$2" "$1" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.05
  done
}

start=$(date +%s.%N)
# Port 0: the broker takes a free loopback port and logs it.
timeout 120 "$qemu" "$out/runnel-linux-arm64" run --watch 0 --mqtt 127.0.0.1:0 flows/example.json \
  >"$work/runnel.log" 2>&1 &
runnel_pid=$!
wait_for "$work/runnel.log" 'msg="runnel running"' 60 || fail "runnel run did not start within 60 s"
port=$(sed -n 's/.*msg="runnel running" mqtt=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/runnel.log" | head -1)
[ -n "$port" ] || fail "no MQTT port in the log"
started=$(date +%s.%N)

# -d prints the SUBACK (stdbuf: line by line), so that publishing starts only once the
# subscription is in place; -C 3 exits after three alerts, -W bounds it.
timeout 60 stdbuf -oL mosquitto_sub -d -h 127.0.0.1 -p "$port" -t 'alerts/#' -v -C 3 -W 50 >"$work/sub.out" 2>&1 &
sub_pid=$!
wait_for "$work/sub.out" 'received SUBACK' 30 || fail "mosquitto_sub did not subscribe"

pub() { timeout 30 mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t "$1" -m "$2" || fail "mosquitto_pub $1"; }
pub sensors/dev1/data '{"temperature":21.5,"humidity":40}' # one alert
pub sensors/dev1/data '{"temperature":21.5,"humidity":41}' # none: temperature unchanged
pub sensors/dev2/data '{"temperature":21.5,"humidity":41}' # one alert: another topic
pub sensors/dev1/data '{"temperature":22.0,"humidity":41}' # one alert
wait "$sub_pid" || fail "mosquitto_sub did not get three alerts (exit $?)"
sub_pid=""

got=$(grep '^alerts/' "$work/sub.out")
want='alerts/temperature sensors/dev1/data: temperature changed to 21.5 °C
alerts/temperature sensors/dev2/data: temperature changed to 21.5 °C
alerts/temperature sensors/dev1/data: temperature changed to 22 °C'
if [ "$got" != "$want" ]; then
  fail "alerts differ:
got:
$got
want:
$want"
fi

# Graceful shutdown: SIGTERM, exit status 0.
kill -TERM "$runnel_pid"
status=0
wait "$runnel_pid" || status=$?
runnel_pid=""
[ "$status" -eq 0 ] || fail "runnel run exited with $status after SIGTERM"
grep -q 'msg=stopped' "$work/runnel.log" || fail "no clean stop in the log"
end=$(date +%s.%N)
awk -v a="$start" -v b="$started" -v c="$end" \
  'BEGIN{printf "ok: arm64 under qemu: start to port open %.2f s, whole smoke test %.2f s\n", b-a, c-a}'
