#!/usr/bin/env bash
# Runs Docker Compose (v2 `docker compose`, or v1 `docker-compose`) on
# deploy/docker-compose.yml with the given arguments, e.g.
#   deploy/compose.sh ps
#   deploy/compose.sh kill shard1-1
set -euo pipefail
cd "$(dirname "$0")/.."
if docker compose version >/dev/null 2>&1; then
  exec docker compose -f deploy/docker-compose.yml "$@"
else
  exec docker-compose -f deploy/docker-compose.yml "$@"
fi
