#!/usr/bin/env bash
# make cluster: three gateway instances on localhost sharing one Redis and one
# set of demo emulators, to try what several instances do (a comment posted on
# one reaches subscribers on all; /readyz; draining). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

REDIS_PORT=${REDIS_PORT:-6390}
PORTS=${PORTS:-"8081 8082 8083"}
dir=$(mktemp -d)
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# wait_for TRIES CMD...: run CMD every 0.1 s until it succeeds, at most TRIES times.
wait_for() {
  local tries=$1; shift
  for _ in $(seq "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "cluster: timed out waiting for: $*" >&2
  return 1
}

command -v redis-server >/dev/null || { echo "cluster: redis-server is not on PATH (apt-get install redis-server)" >&2; exit 1; }
go build -o "$dir/commentgraph" . && go build -o "$dir/upstreams" ./demo/upstreams

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$dir/redis.log" 2>&1 &
pids+=($!)
wait_for 50 redis-cli -p "$REDIS_PORT" ping

first=${PORTS%% *}
"$dir/upstreams" -out "$dir/cluster.yaml" -redis "redis://127.0.0.1:$REDIS_PORT/0" -webhooks "127.0.0.1:$first" 2>"$dir/upstreams.log" &
pids+=($!)
wait_for 100 test -s "$dir/cluster.yaml"

for port in $PORTS; do
  "$dir/commentgraph" -config "$dir/cluster.yaml" -listen "127.0.0.1:$port" -drain-delay 2s 2>"$dir/gateway-$port.log" &
  pids+=($!)
done
for port in $PORTS; do
  wait_for 100 curl -fsS "http://127.0.0.1:$port/readyz"
done

cat <<MSG
commentgraph cluster: $(echo $PORTS | wc -w) instances sharing Redis on :$REDIS_PORT and one set of emulators.
$(for port in $PORTS; do echo "  http://127.0.0.1:$port/   (GraphiQL; /readyz, /metrics)"; done)
Subscribe on one instance, post on another: the comment arrives everywhere.
Logs: $dir (removed on exit). Ctrl-C stops everything.
MSG
wait
