#!/usr/bin/env bash
# LauraDB and etcd 3.4 side by side, on this machine, over loopback.
#
#   deploy/bench/compare-etcd.sh                 # ~10 minutes after the build
#   SECONDS_PER_RUN=5 deploy/bench/compare-etcd.sh
#
# What it does:
#   1. installs etcd 3.4 from Debian if `etcd` is missing;
#   2. builds `lauradb` (release) unless LAURADB_BIN names a binary;
#   3. starts 3 etcd members on loopback (default fsync behaviour: the WAL is
#      fsynced before a write is acknowledged) and measures `put` and `read`
#      (linearizable range) against the leader's client URL; stops them;
#   4. starts `lauradb dev --shards 1 --replicas 3 --data-dir <tmp>` (on disk:
#      a write is acknowledged once a majority has fsynced its Raft log
#      entry) and measures the same through the router; stops it;
#      steps 3 and 4 alternate ROUNDS times (fresh data each round);
#   5. starts `lauradb dev --shards 3 --replicas 3` and measures `put` at 64
#      clients, once into one database (one shard does the work) and once
#      spread over three databases (every shard busy);
#   6. prints one side-by-side table, writes an SVG bar chart and the raw
#      JSON to OUT_DIR (default docs/bench), and ends with the line
#      `put_c64_ratio=<LauraDB ops/s / etcd ops/s>`.
#
# Only one system runs at a time; the load generator (`lauradb bench`, the
# same closed-loop client for both) shares the machine with it. Keys are 8
# bytes, values 256 bytes. Settings: SECONDS_PER_RUN (10), WARMUP (2),
# CLIENTS (1,16,64), KEYS (10000), ROUNDS (3), OUT_DIR, LAURADB_BIN, KEEP_WORK=1 (keep
# data directories and logs).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/deploy/bench"
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
WARMUP=${WARMUP:-2}
CLIENTS=${CLIENTS:-1,16,64}
KEYS=${KEYS:-10000}
ROUNDS=${ROUNDS:-3}
VALUE_SIZE=256
OUT_DIR=${OUT_DIR:-$ROOT/docs/bench}

log() { echo "== $*" >&2; }

# --- 1. etcd -----------------------------------------------------------------
if ! command -v etcd >/dev/null 2>&1 || ! command -v etcdctl >/dev/null 2>&1; then
    log "installing etcd 3.4 from Debian"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq etcd-server etcd-client >/dev/null
fi
ETCD_VERSION=$(etcd --version | awk '/etcd Version/ {print $3}')
case "$ETCD_VERSION" in
    3.4.*) ;;
    *) log "warning: etcd $ETCD_VERSION found, this comparison is written for 3.4" ;;
esac

# --- 2. lauradb --------------------------------------------------------------
if [ -z "${LAURADB_BIN:-}" ]; then
    log "building lauradb (release)"
    (cd "$ROOT" && cargo build --release --bin lauradb)
    LAURADB_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/lauradb"
fi
[ -x "$LAURADB_BIN" ] || { log "no lauradb binary at $LAURADB_BIN"; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/compare-etcd.XXXXXX")
PIDS=()
stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}
cleanup() {
    stop_all
    if [ "${KEEP_WORK:-0}" = 1 ]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# N distinct free loopback ports (all bound at once, so none repeats).
free_ports() {
    python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# Waits until FILE contains TEXT (the process PID must stay alive).
wait_for_line() {
    local file=$1 text=$2 pid=$3 deadline=$((SECONDS + 120))
    until grep -q "$text" "$file" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || { log "process died; its log:"; tail -20 "$file" >&2; exit 1; }
        [ "$SECONDS" -lt "$deadline" ] || { log "timed out waiting for '$text' in $file"; exit 1; }
        sleep 0.2
    done
}

bench() {
    "$LAURADB_BIN" bench --seconds "$SECONDS_PER_RUN" --warmup "$WARMUP" \
        --keys "$KEYS" --value-size "$VALUE_SIZE" "$@"
}

# --- 3. etcd: 3 members -------------------------------------------------------
run_etcd() { # round
    local i client peer deadline
    read -r -a P <<<"$(free_ports 6)"
    CLUSTER="e1=http://127.0.0.1:${P[3]},e2=http://127.0.0.1:${P[4]},e3=http://127.0.0.1:${P[5]}"
    ENDPOINTS="127.0.0.1:${P[0]},127.0.0.1:${P[1]},127.0.0.1:${P[2]}"
    log "round $1: starting etcd $ETCD_VERSION: 3 members, clients on $ENDPOINTS"
    for i in 0 1 2; do
        client=${P[$i]} peer=${P[$((i + 3))]}
        etcd --name "e$((i + 1))" --data-dir "$WORK/r$1-etcd$((i + 1))" \
            --listen-client-urls "http://127.0.0.1:$client" \
            --advertise-client-urls "http://127.0.0.1:$client" \
            --listen-peer-urls "http://127.0.0.1:$peer" \
            --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
            --initial-cluster "$CLUSTER" --initial-cluster-state new \
            --initial-cluster-token compare-etcd \
            --logger zap --log-level warn >"$WORK/r$1-etcd$((i + 1)).log" 2>&1 &
        PIDS+=($!)
    done
    # The leader's client URL: writes sent to a follower would take one more hop.
    deadline=$((SECONDS + 60))
    ETCD_LEADER=""
    until [ -n "$ETCD_LEADER" ]; do
        [ "$SECONDS" -lt "$deadline" ] || { log "etcd elected no leader in 60 s"; exit 1; }
        sleep 0.2
        ETCD_LEADER=$(ETCDCTL_API=3 etcdctl --endpoints="$ENDPOINTS" --command-timeout=2s \
            endpoint status -w json 2>/dev/null | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    st = s["Status"]
    if st["leader"] and st["leader"] == st["header"]["member_id"]:
        print(s["Endpoint"])
' || true)
    done
    log "etcd leader serves $ETCD_LEADER"
    for workload in put read; do
        bench --target etcd --url "http://$ETCD_LEADER" --label etcd --workload "$workload" \
            --clients "$CLIENTS" --json "$WORK/etcd-$workload.r$1.json"
    done
    stop_all
}

# --- 4. LauraDB: 1 shard x 3 replicas ----------------------------------------
start_lauradb() { # shards name
    local port
    port=$(free_ports 1)
    "$LAURADB_BIN" dev --shards "$1" --replicas 3 --data-dir "$WORK/$2" \
        --http-addr "127.0.0.1:$port" >"$WORK/$2.log" 2>&1 &
    PIDS+=($!)
    wait_for_line "$WORK/$2.log" "is ready on" "$!"
    LAURA_URL="http://127.0.0.1:$port"
    log "lauradb dev --shards $1 --replicas 3 ready on $LAURA_URL (data in $WORK/$2)"
}
run_lauradb() { # round
    log "round $1: LauraDB 1 shard x 3 replicas"
    start_lauradb 1 "r$1-lauradb-1x3"
    for workload in put read; do
        bench --target lauradb --url "$LAURA_URL" --label lauradb --workload "$workload" \
            --clients "$CLIENTS" --json "$WORK/lauradb-$workload.r$1.json"
    done
    stop_all
}

# The two systems take turns, ROUNDS times: this VM's speed drifts by tens of
# percent within minutes, and alternating keeps a slow stretch from landing
# on one system only. The report takes the median of the rounds.
for round in $(seq 1 "$ROUNDS"); do
    run_etcd "$round"
    run_lauradb "$round"
done

# --- 5. LauraDB: 3 shards x 3 replicas ---------------------------------------
start_lauradb 3 lauradb-3x3
bench --target lauradb --url "$LAURA_URL" --label lauradb-3x3-1db --workload put \
    --clients 64 --json "$WORK/lauradb3x3-put-1db.json"
bench --target lauradb --url "$LAURA_URL" --label lauradb-3x3-3db --workload put \
    --clients 64 --databases 3 --json "$WORK/lauradb3x3-put-3db.json"
stop_all

# --- 6. the table, the chart and the ratio -----------------------------------
mkdir -p "$OUT_DIR"
python3 "$HERE/compare_report.py" \
    --etcd-version "$ETCD_VERSION" \
    --lauradb-version "${LAURADB_VERSION:-$(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo unknown)}" \
    --svg "$OUT_DIR/compare-etcd.svg" --json-out "$OUT_DIR/compare-etcd.json" \
    "$WORK"/etcd-*.r*.json "$WORK"/lauradb-*.r*.json "$WORK"/lauradb3x3-*.json
