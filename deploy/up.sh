#!/usr/bin/env bash
# Builds the static lauradb binary and the FROM-scratch image, then starts
# the 3 config + 3x3 shard + router cluster detached, and waits until the
# router answers on http://127.0.0.1:8080 (api-key `dev`).
#
#   deploy/up.sh            build + start
#   deploy/up.sh --down     stop and remove containers and volumes
set -euo pipefail
cd "$(dirname "$0")/.."

compose=(deploy/compose.sh)

if [[ "${1:-}" == "--down" ]]; then
  "${compose[@]}" down -v
  exit 0
fi

target=x86_64-unknown-linux-gnu
echo "==> building a static lauradb (release)"
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --bin lauradb --target "$target"
# The image needs no debug info: strip it (87 MB -> ~20 MB).
strip -o deploy/image/lauradb "${CARGO_TARGET_DIR:-target}/$target/release/lauradb"

echo "==> building image lauradb:dev (FROM scratch)"
docker build -q -t lauradb:dev deploy/image >/dev/null

echo "==> starting the cluster"
"${compose[@]}" up -d

echo "==> waiting for the router (up to 90 s)"
start=$(date +%s)
body='{"database":"health","collection":"probe","filter":{}}'
until curl -fsS -H 'api-key: dev' -H 'content-type: application/json' \
      -d "$body" http://127.0.0.1:8080/action/countDocuments >/dev/null 2>&1; do
  if (( $(date +%s) - start > 90 )); then
    echo "the cluster did not become ready within 90 s; see: ${compose[*]} logs" >&2
    exit 1
  fi
  sleep 1
done
# Every node is healthy once each of its groups has a leader.
until [[ -z "$("${compose[@]}" ps -q | xargs docker inspect -f '{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' \
              | grep -v -e ' healthy$' -e ' $' || true)" ]]; do
  if (( $(date +%s) - start > 90 )); then
    echo "some nodes are not healthy after 90 s:" >&2
    "${compose[@]}" ps >&2
    exit 1
  fi
  sleep 1
done
echo "LauraDB is up after $(( $(date +%s) - start )) s: http://127.0.0.1:8080 (api-key: dev)"
