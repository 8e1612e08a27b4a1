#!/bin/bash
# Many connections: with limits.max_connections at 1,300, 1,100 clients
# connected at once are all served, although the server was started with a
# soft limit of 1,024 open files (as a service manager often starts it; the
# server raises it to what max_connections needs) and its sockets are
# numbered past 1,024 (which select() cannot watch).
# usage: manyconns.sh BUILD
. "$(dirname "$0")/common.sh" "$1" manyconns
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge 2048 ] ||
	{ echo "SKIP: the hard limit of open files is $hard (2,048 needed)" >&2; exit 77; }
setup_with_policy || exit 1
cd "$DIR"
jq '.limits.max_connections = 1300 | .limits.max_connections_per_ip = 0' nrfca.json >c.json && mv c.json nrfca.json
ulimit -Sn 1024
server_start "$DIR" || exit 1
lim=$(awk '/^Max open files/ { print $4 }' "/proc/$SERVER_PID/limits")
[ "$lim" -ge 1428 ] || fail "the server's soft limit of open files is $lim, want at least 1,428 (max_connections + 128)"
# the clients need their own room: a child may raise its soft limit to the hard one
out=$(bash -c "ulimit -Sn 2048; exec $PY $(printf %q "$SRC/tests/integration/server/rawclient.py") many $(cat port) 1100 /v1/health")
served=$(sed -n 1p <<<"$out")
[ "$served" = 1100 ] || fail "$served of 1100 connections were served; first problem: $(sed -n 2p <<<"$out")"
echo "1100 connections at once: $served served (server's open-files limit $lim)"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/v1/health")" = 200 ] || fail "not serving afterwards"
server_stop
[ "$SERVER_RC" = 0 ] || fail "server exit status $SERVER_RC"
finish
