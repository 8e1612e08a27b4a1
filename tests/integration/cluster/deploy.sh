#!/bin/bash
# deploy/cluster.sh as a person uses it: started in the foreground (its own
# process group, SIGINT as a terminal's Ctrl-C sends it), it prints the
# front and the three instances; an enrollment through the front gets a
# certificate, every instance is ready, nrfca-admin with
# var/cluster/nrfca.json lists it and verifies the audit chain, and Ctrl-C
# leaves nothing running (HAProxy, instances, PostgreSQL) and the front port
# closed.  State in a private folder (NRFCA_VAR), programs from the build.
# usage: deploy.sh BUILD
set -uo pipefail
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
command -v haproxy >/dev/null || { echo "SKIP: haproxy is not installed" >&2; exit 77; }
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "SKIP: PostgreSQL is not installed" >&2; exit 77; }
DIR=$BUILD/tmp/cl-deploy.$$
mkdir -p "$DIR"
VAR=$DIR
# as root PostgreSQL runs as its own user, which must reach the data folder
if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$DIR"; then
	VAR=$(mktemp -d /tmp/nrfca-cl-deploy.XXXXXX)
	chmod 711 "$VAR"
fi
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
PID=
cleanup() {
	[ -z "$PID" ] || { kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }
	rm -rf "$DIR"
	[ "$VAR" = "$DIR" ] || rm -rf "$VAR"
}
trap cleanup EXIT
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# a foreground job of its own: a new session, SIGINT not ignored
NRFCA_VAR=$VAR NRFCA_BIN=$BUILD/bin NRFCA_PORT=$port "$PY" -c '
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.setsid()
os.execvp("bash", ["bash", sys.argv[1]])' "$SRC/deploy/cluster.sh" >"$DIR/out.txt" 2>&1 &
PID=$!
for i in $(seq 1 600); do
	# the banner's last line: the instances are named above it
	grep -q 'one audit chain and one CRL' "$DIR/out.txt" && break
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.1
done
grep -q "nrfca cluster is running: HAProxy on http://127.0.0.1:$port" "$DIR/out.txt" ||
	{ cat "$DIR/out.txt" >&2; fail "cluster.sh did not start"; exit 1; }
V=$VAR/cluster
for f in nrfca.json station.token operator.token ca-chain.pem; do
	[ -s "$V/$f" ] || fail "var/cluster/$f is missing"
done
[ "$(stat -c %a "$V/station.token")" = 600 ] || fail "station.token is mode $(stat -c %a "$V/station.token")"

# the three instances it names are ready
grep -oE 'instance [0-9] +: http://127.0.0.1:[0-9]+' "$DIR/out.txt" | awk '{ print $4 }' >"$DIR/instances"
[ "$(wc -l <"$DIR/instances")" = 3 ] || fail "cluster.sh names $(wc -l <"$DIR/instances") instances, want 3"
while read -r u; do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$u/v1/ready")" = 200 ] || fail "$u/v1/ready is not 200"
done <"$DIR/instances"

# the enrollment command it prints, as printed
cmd=$(grep -A1 'enroll a sample' "$DIR/out.txt" | tail -1 | sed 's/^ *\$ //')
out=$(bash -c "$cmd") || fail "the printed enrollment command failed: $out"
serial=$(jq -r .serial <<<"$out" 2>/dev/null)
[ -n "$serial" ] && [ "$serial" != null ] || fail "no certificate through the front: $out"
# and again: the same %KEYGEN output is a replay, whichever instance answers
[ "$(bash -c "$cmd" | jq -r .serial)" = "$serial" ] || fail "the replay through the front changed the serial"

admin() { "$BUILD/bin/nrfca-admin" --config "$V/nrfca.json" "$@"; }
admin list >"$DIR/list.txt" 2>&1 || fail "nrfca-admin list: $(cat "$DIR/list.txt")"
grep -q "$serial" "$DIR/list.txt" || fail "nrfca-admin list does not show $serial"
admin check >"$DIR/check.txt" 2>&1 || fail "nrfca-admin check: $(cat "$DIR/check.txt")"
grep -q 'the ledger: postgresql' "$DIR/check.txt" || fail "check does not name the PostgreSQL ledger: $(cat "$DIR/check.txt")"
admin audit verify >/dev/null 2>&1 || fail "audit verify"

# Ctrl-C: everything it started stops
pids="$(cat "$V"/run/*.pid | tr '\n' ' ') $(head -1 "$V/pg/data/postmaster.pid")"
kill -INT -- "-$PID"
for i in $(seq 1 300); do
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$PID" 2>/dev/null && fail "cluster.sh still runs 30 s after Ctrl-C"
wait "$PID" 2>/dev/null
PID=
running() { # PID: alive and not a zombie waiting to be reaped
	[ -r "/proc/$1/stat" ] && [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]
}
for p in $pids; do
	for i in $(seq 1 50); do
		running "$p" || break
		sleep 0.1
	done
	running "$p" && fail "process $p ($(tr '\0' ' ' <"/proc/$p/cmdline")) still runs after Ctrl-C"
done
[ ! -f "$V/pg/data/postmaster.pid" ] || fail "PostgreSQL was not stopped"
curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/v1/health" && fail "the front still answers after Ctrl-C"
[ $fails -eq 0 ] || { echo "$fails failure(s)"; tail -20 "$DIR/out.txt"; exit 1; }
echo "deploy: all checks passed"
