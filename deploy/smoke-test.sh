#!/usr/bin/env bash
# End-to-end check of the compose cluster: start it with up.sh, check with
# `lauradb ctl status` that every group has a leader, write through the
# router, kill the leader of shard 1, one replica of each other shard and one
# config replica, keep writing, check that every acknowledged write is
# readable, restart the killed containers, and tear everything down
# (`down -v`). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

trap 'deploy/up.sh --down >/dev/null 2>&1 || true' EXIT

deploy/up.sh

api() { # action body -> prints the response body; fails on a non-2xx status
  curl -fsS --max-time 30 -H 'api-key: dev' -H 'content-type: application/json' \
    -d "$2" "http://127.0.0.1:8080/action/$1"
}
count() { api countDocuments "{\"database\":\"$1\",\"collection\":\"items\",\"filter\":{}}" | sed 's/[^0-9]//g'; }

# The host reaches the containers' fixed addresses on the compose bridge.
config_servers="1=172.28.0.11:7000,2=172.28.0.12:7000,3=172.28.0.13:7000"
status_json() { deploy/image/lauradb ctl --config-servers "$config_servers" status --json 2>/dev/null; }
# leader_node GROUP -> the node id of the group's leader (empty if none)
leader_node() {
  status_json | python3 -c '
import json, sys
rows = json.load(sys.stdin)
print(next((r["node"] for r in rows if r["group"] == int(sys.argv[1]) and r.get("state") == "Leader"), ""))' "$1"
}
echo "==> ctl status: every group has a leader"
for group in 0 1 2 3; do
  for _ in $(seq 1 60); do
    [[ -n "$(leader_node "$group" || true)" ]] && break
    sleep 1
  done
  [[ -n "$(leader_node "$group")" ]] || { echo "group $group has no leader" >&2; status_json >&2 || true; exit 1; }
done

for db in alpha beta gamma; do
  for i in $(seq 1 10); do
    api insertOne "{\"database\":\"$db\",\"collection\":\"items\",\"document\":{\"i\":$i}}" >/dev/null
  done
done

# The container of shard 1's leader: the compose service started with its id.
leader_id=$(leader_node 1)
leader=$(python3 - "$leader_id" <<'PY'
import re, sys
service = None
for line in open("deploy/docker-compose.yml"):
    m = re.match(r"^  ([a-z0-9-]+):\s*$", line)
    if m:
        service = m.group(1)
    if '"--id", "%s"' % sys.argv[1] in line:
        print(service)
        break
PY
)
[[ "$leader" == shard1-* ]] || { echo "cannot find the container of shard 1's leader (node $leader_id)" >&2; exit 1; }
killed="config1 $leader shard2-1 shard3-1"
echo "==> killing $killed (the leader of shard 1 is $leader)"
# shellcheck disable=SC2086
deploy/compose.sh kill $killed >/dev/null 2>&1
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
# shellcheck disable=SC2086
deploy/compose.sh start $killed >/dev/null 2>&1
api insertOne '{"database":"alpha","collection":"items","document":{"i":21}}' >/dev/null
[[ "$(count alpha)" == 21 ]] || { echo "alpha lost a write after restart" >&2; exit 1; }
echo "compose smoke test passed"
