#!/usr/bin/env bash
# make cluster / make cluster-down: three plexus nodes on loopback sharing a throwaway PostgreSQL.
# State lives in tmp/cluster/ under the repository root: pg/ (database), n{0,1,2}/ (data dirs), *.log, *.pid.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="$root/tmp/cluster"
bin="$root/bin/plexus"
pgport="${PLEXUS_CLUSTER_PGPORT:-55432}"
token="${PLEXUS_ADMIN_TOKEN:-local-admin-token}"

pgbin() {
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && { echo "$d"; return; }; done
  dirname "$(command -v initdb)"
}

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

up() {
  mkdir -p "$dir"
  local pb; pb="$(pgbin)"
  if [ ! -d "$dir/pg" ]; then
    mkdir -p "$dir/pg"; [ "$(id -u)" = 0 ] && chown postgres "$dir/pg"
    as_pg "$pb/initdb" -D "$dir/pg/data" -A trust -U postgres >/dev/null
  fi
  [ "$(id -u)" = 0 ] && chown -R postgres "$dir/pg"
  as_pg "$pb/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/postgres.log" -w \
    -o "-p $pgport -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir/pg" start >/dev/null
  local store="postgres://postgres@127.0.0.1:$pgport/postgres?sslmode=disable"
  for i in 0 1 2; do
    local args=(serve --node-name "n$i" --http "127.0.0.1:$((8080 + i))" --gossip "127.0.0.1:$((7946 + i))"
      --remote "127.0.0.1:$((8090 + i))" --raft "127.0.0.1:$((8300 + i))" --data-dir "$dir/n$i"
      --store "$store" --admin-token "$token" --bootstrap-expect 3 --join "127.0.0.1:7946,127.0.0.1:7947,127.0.0.1:7948")
    nohup "$bin" "${args[@]}" >"$dir/n$i.log" 2>&1 &
    echo $! >"$dir/n$i.pid"
  done
  for i in 0 1 2; do
    for _ in $(seq 1 100); do
      curl -fs "http://127.0.0.1:$((8080 + i))/readyz" >/dev/null 2>&1 && break
      sleep 0.2
    done
  done
  echo "3 nodes: http://127.0.0.1:8080 .. 8082 (admin token: $token); logs in $dir"
}

down() {
  for i in 0 1 2; do
    if [ -f "$dir/n$i.pid" ]; then kill "$(cat "$dir/n$i.pid")" 2>/dev/null || true; rm -f "$dir/n$i.pid"; fi
  done
  sleep 1
  if [ -d "$dir/pg/data" ]; then as_pg "$(pgbin)/pg_ctl" -D "$dir/pg/data" -m fast stop >/dev/null 2>&1 || true; fi
  echo "cluster stopped"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
