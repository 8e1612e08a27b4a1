#!/bin/bash
# nrfca as a cluster on one machine, to try: a private PostgreSQL cluster
# (initdb + pg_ctl, Unix socket only), three nrfca-server instances on it, all
# signing with one key in one SoftHSM2 token directory (it stands in for a
# network HSM), and HAProxy in front on http://127.0.0.1:${NRFCA_PORT:-8080}
# (deploy/haproxy/nrfca.cfg, health checks on /v1/ready).
#
# Runs in the foreground; Ctrl-C (or SIGTERM) stops HAProxy, the instances
# and PostgreSQL, everything it started.  All state lives in var/cluster/
# (git-ignored): the token, the database, the CA chain, the credentials
# (station.token, operator.token), logs, and nrfca.json, the configuration
# every instance runs with and an operator gives nrfca-admin:
#   build/bin/nrfca-admin --config var/cluster/nrfca.json list
# A second run reuses all of it; delete var/cluster/ to start from scratch.
# The single-process quickstart (deploy/quickstart.sh, var/) is separate.
#
# For tests: NRFCA_VAR=DIR keeps the state in DIR/cluster instead of
# var/cluster, and NRFCA_BIN=DIR uses the programs already built in DIR.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
port=${NRFCA_PORT:-8080}
case $port in
'' | *[!0-9]*) echo "cluster: NRFCA_PORT must be a port number, not '$port'" >&2; exit 2 ;;
esac
instances=3

. "$top/deploy/setup-lib.sh"
die() { echo "cluster: $*" >&2; exit 1; }

setup_programs
command -v haproxy >/dev/null || die "haproxy is not installed (Debian package haproxy: bash deploy/install-packages.sh)"
pgbin=
for d in /usr/lib/postgresql/*/bin; do
	[ -x "$d/initdb" ] && pgbin=$d   # the glob sorts: the newest version wins
done
[ -n "$pgbin" ] || die "PostgreSQL's server programs are not installed (Debian package postgresql)"
setup_module cluster

mkdir -p "${NRFCA_VAR:-$top/var}/cluster"
var=$(cd "${NRFCA_VAR:-$top/var}/cluster" && pwd)
mkdir -p "$var/run" "$var/log" "$var/haproxy"
chmod 700 "$var/run" "$var/log" "$var/haproxy"
chmod 711 "$var"   # PostgreSQL's own user passes through to var/cluster/pg
# anything a previous run left (it was stopped with kill -9?)
for f in "$var"/run/*.pid; do
	[ -f "$f" ] || continue
	if kill -0 "$(cat "$f")" 2>/dev/null; then
		die "a cluster from $var is still running (pid $(cat "$f"), $(basename "$f" .pid)); stop it first"
	fi
	rm -f "$f"
done

# ---- PostgreSQL: data and socket in var/cluster/pg, no TCP ----
# initdb refuses to run as root: then PostgreSQL runs as the system user
# postgres (or nobody) in folders that user owns.
pg_owner=
if [ "$(id -u)" = 0 ]; then
	if id postgres >/dev/null 2>&1; then pg_owner=postgres; else pg_owner=nobody; fi
fi
as_pg() { if [ -n "$pg_owner" ]; then runuser -u "$pg_owner" -- "$@"; else "$@"; fi; }
pgdata=$var/pg/data pgsock=$var/pg/sock
mkdir -p "$var/pg" "$pgsock"
[ $(( ${#pgsock} + 20 )) -le 100 ] || die "the path $pgsock is too long for a Unix socket: move the repository or set NRFCA_VAR"
if [ -n "$pg_owner" ]; then
	chown "$pg_owner" "$var/pg" "$pgsock"
	chmod 700 "$var/pg"
	as_pg test -x "$var" ||
		die "the PostgreSQL user '$pg_owner' cannot reach $var (a folder above it is closed to other users)"
fi
if [ ! -f "$pgdata/PG_VERSION" ]; then
	say "creating a private PostgreSQL cluster in $pgdata"
	rm -rf "$pgdata"
	as_pg "$pgbin/initdb" -D "$pgdata" -U nrfca -A trust -E UTF8 --no-locale >"$var/log/initdb.log" 2>&1 ||
		{ tail -5 "$var/log/initdb.log" >&2; die "initdb failed (log: $var/log/initdb.log)"; }
fi
pg_log=$var/pg/postgresql.log   # written by PostgreSQL's own user
[ -z "$pg_owner" ] || { touch "$pg_log"; chown "$pg_owner" "$pg_log"; }

children=()
stopping=
stop_all() {
	[ -z "$stopping" ] || return 0
	stopping=1
	trap '' INT TERM
	echo
	say "stopping HAProxy, the instances and PostgreSQL"
	local p i
	for p in "${children[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for i in $(seq 1 100); do
		local alive=
		for p in "${children[@]}"; do
			kill -0 "$p" 2>/dev/null && alive=1
		done
		[ -n "$alive" ] || break
		sleep 0.1
	done
	for p in "${children[@]}"; do
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if [ -f "$pgdata/postmaster.pid" ]; then
		as_pg "$pgbin/pg_ctl" -D "$pgdata" -m fast -w -t 30 stop >/dev/null 2>&1 ||
			as_pg "$pgbin/pg_ctl" -D "$pgdata" -m immediate stop >/dev/null 2>&1 || true
	fi
	rm -f "$var"/run/*.pid "$var"/run/*.port
	say "stopped; the state stays in $var"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "starting PostgreSQL (socket in $pgsock, no TCP)"
as_pg "$pgbin/pg_ctl" -D "$pgdata" -l "$pg_log" -w -t 60 \
	-o "-c listen_addresses='' -k $pgsock -c unix_socket_permissions=0700 -c max_connections=100" \
	start >/dev/null || { tail -5 "$pg_log" >&2; die "PostgreSQL did not start (log: $pg_log)"; }
if ! "$pgbin/psql" -X -q -A -t -h "$pgsock" -U nrfca -d postgres \
	-c "SELECT 1 FROM pg_database WHERE datname = 'nrfca'" | grep 1 >/dev/null; then
	"$pgbin/psql" -X -q -h "$pgsock" -U nrfca -d postgres -c "CREATE DATABASE nrfca" >/dev/null ||
		die "cannot create the database nrfca"
fi

# ---- the token: one key for every instance ----
setup_token "$var" nrfca-cluster

# One configuration for every instance (each gets its port from the kernel
# and writes it to var/cluster/run/nrfcaN.port); paths are relative to it.
cat >"$var/nrfca.json" <<CONF
{
  "listen": { "address": "127.0.0.1", "port": 0 },
  "token": {
    "uri": "pkcs11:token=nrfca-cluster;object=nrfca-ca?module-path=$module&pin-source=file:token.pin",
    "env": { "SOFTHSM2_CONF": "./softhsm/softhsm2.conf" },
    "pool_size": 4
  },
  "ca": { "chain": "ca-chain.pem" },
  "database": "host=$pgsock dbname=nrfca user=nrfca",
  "database_pool": 8,
  "policy": "$top/policies/default.json",
  "limits": { "max_connections_per_ip": 0 }
}
CONF
setup_ca "$var/nrfca.json" "CN=nrfca cluster root CA,O=nrfca" "checking token, key, chain and database"
setup_credentials "$var/nrfca.json" "$var" cluster

# ---- the instances, then HAProxy ----
say "starting $instances nrfca-server instances"
for i in $(seq 1 $instances); do
	rm -f "$var/run/nrfca$i.port"
	# NRFCA_PORT is the front's: the instances take ports from the kernel
	env -u NRFCA_PORT "$bin/nrfca-server" --config "$var/nrfca.json" --port-file "$var/run/nrfca$i.port" \
		2>>"$var/log/nrfca$i.log" &
	children+=($!)
	echo $! >"$var/run/nrfca$i.pid"
done
for i in $(seq 1 $instances); do
	for k in $(seq 1 300); do
		[ -s "$var/run/nrfca$i.port" ] && break
		kill -0 "$(cat "$var/run/nrfca$i.pid")" 2>/dev/null ||
			{ tail -5 "$var/log/nrfca$i.log" >&2; die "instance $i exited at start (log: $var/log/nrfca$i.log)"; }
		sleep 0.05
	done
	[ -s "$var/run/nrfca$i.port" ] || die "instance $i did not start (log: $var/log/nrfca$i.log)"
	export "NRFCA_INSTANCE$i=127.0.0.1:$(cat "$var/run/nrfca$i.port")"
done
say "starting HAProxy on 127.0.0.1:$port"
export NRFCA_FRONT=127.0.0.1:$port NRFCA_HAPROXY_DIR=$var/haproxy
haproxy -db -f "$top/deploy/haproxy/nrfca.cfg" >>"$var/log/haproxy.log" 2>&1 &
hap=$!
children=("$hap" "${children[@]}")
echo $hap >"$var/run/haproxy.pid"
url=http://127.0.0.1:$port
for k in $(seq 1 100); do
	kill -0 "$hap" 2>/dev/null || { tail -5 "$var/log/haproxy.log" >&2; die "HAProxy exited at start (port $port taken? set NRFCA_PORT; log: $var/log/haproxy.log)"; }
	curl -fs -o /dev/null --max-time 2 "$url/v1/ready" && break
	sleep 0.1
done

setup_sample "$var"
q() { printf '%q' "$1"; }
# the banner is printed in one write: whoever watches the output (a person,
# a test waiting for the last line) sees it whole or not at all
{
cat <<MSG

nrfca cluster is running: HAProxy on $url   (Ctrl-C stops everything)
MSG
for i in $(seq 1 $instances); do
	v=NRFCA_INSTANCE$i
	echo "  instance $i     : http://${!v}   (pid $(cat "$var/run/nrfca$i.pid"), log $var/log/nrfca$i.log)"
done
cat <<MSG
  PostgreSQL     : socket in $pgsock, database nrfca (log $pg_log)
  CA certificate : $var/ca-chain.pem   (also GET $url/v1/ca.pem)
  station token  : $var/station.token
  operator token : $var/operator.token
  configuration  : $var/nrfca.json   (every instance's, and nrfca-admin's)

In another terminal, from any directory:
  enroll a sample %KEYGEN output through the load balancer:
  \$ curl -sS --fail-with-body -H "Authorization: Bearer \$(cat $(q "$var/station.token"))" -H 'Content-Type: application/json' --data @$(q "$var/sample-enroll.json") $url/v1/enroll
  ask one instance directly whether it is ready (token, database, policy):
  \$ curl -s http://$NRFCA_INSTANCE1/v1/ready
  list what was issued, check the audit chain of the whole cluster:
  \$ $(q "$bin/nrfca-admin") --config $(q "$var/nrfca.json") list
  \$ $(q "$bin/nrfca-admin") --config $(q "$var/nrfca.json") audit verify
  stop one instance (kill -9 $(cat "$var/run/nrfca2.pid")): HAProxy takes it out within 2 s and the
  others go on; the cluster keeps one ledger, one audit chain and one CRL.

MSG
} >"$var/run/banner.txt"
cat "$var/run/banner.txt"
# until HAProxy ends or a signal arrives (the instances may come and go)
wait "$hap" || true
echo "cluster: HAProxy ended (log: $var/log/haproxy.log)" >&2
exit 1
