#!/usr/bin/env bash
# End-to-end check of the compose cluster: start it with up.sh, write through
# the router, kill one replica of every shard and one config replica, keep
# writing, check that every acknowledged write is readable, restart the
# killed containers, and tear everything down. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

trap 'deploy/up.sh --down >/dev/null 2>&1 || true' EXIT

deploy/up.sh

api() { # action body -> prints the response body; fails on a non-2xx status
  curl -fsS --max-time 30 -H 'api-key: dev' -H 'content-type: application/json' \
    -d "$2" "http://127.0.0.1:8080/action/$1"
}
count() { api countDocuments "{\"database\":\"$1\",\"collection\":\"items\",\"filter\":{}}" | sed 's/[^0-9]//g'; }

for db in alpha beta gamma; do
  for i in $(seq 1 10); do
    api insertOne "{\"database\":\"$db\",\"collection\":\"items\",\"document\":{\"i\":$i}}" >/dev/null
  done
done

echo "==> killing config1, shard1-1, shard2-1, shard3-1"
deploy/compose.sh kill config1 shard1-1 shard2-1 shard3-1 >/dev/null 2>&1
for db in alpha beta gamma; do
  for i in $(seq 11 20); do
    api insertOne "{\"database\":\"$db\",\"collection\":\"items\",\"document\":{\"i\":$i}}" >/dev/null
  done
done
for db in alpha beta gamma; do
  n=$(count "$db")
  [[ "$n" == 20 ]] || { echo "database $db has $n documents, expected 20" >&2; exit 1; }
done

echo "==> restarting the killed containers"
deploy/compose.sh start config1 shard1-1 shard2-1 shard3-1 >/dev/null 2>&1
api insertOne '{"database":"alpha","collection":"items","document":{"i":21}}' >/dev/null
[[ "$(count alpha)" == 21 ]] || { echo "alpha lost a write after restart" >&2; exit 1; }
echo "compose smoke test passed"
