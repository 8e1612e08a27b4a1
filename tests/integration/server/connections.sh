#!/bin/bash
# Connections: slow clients cannot lock others out (per-address connection
# limit, a receive deadline that does not restart on each byte), a declared
# Content-Length over the limit is answered 413 at once (before the body and
# before authentication) and the connection closed, and routing is on the raw
# path (an encoded slash is refused, not decoded into another route).
# usage: connections.sh BUILD
. "$(dirname "$0")/common.sh" "$1" conn
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
RAW="$PY $SRC/tests/integration/server/rawclient.py"
setup_with_policy || exit 1
cd "$DIR"
# receive deadline 4 s (default 10) so the test is short; the per-address
# limit keeps its default
jq '.limits.receive_timeout = 4' nrfca.json >c.json && mv c.json nrfca.json
server_start "$DIR" || exit 1
port=$(cat port)
$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.2", 0))' 2>/dev/null ||
	{ echo "SKIP: cannot bind 127.0.0.2 (loopback addresses other than 127.0.0.1)" >&2; exit 77; }

# 1. slowloris from 127.0.0.1: 256 connections, each sending one header line
#    every 2 s; clients from 127.0.0.2 are still served (generous 5 s bound)
$RAW slowloris "$port" 127.0.0.1 256 2 9 >attack.txt 2>&1 &
attack=$!
sleep 1.5
kill -0 $attack 2>/dev/null || fail "the slow client stopped early: $(cat attack.txt)"
jq -n --arg k "$(cat "$VEC/keygen-csr-sectag17.txt")" '{keygen: $k}' >good.json
served=0 worst=0
for i in 1 2 3 4 5 6; do
	t=$(curl -s -o /dev/null --interface 127.0.0.2 --max-time 5 -w '%{http_code} %{time_total}' "$SERVER_URL/v1/health")
	[ "${t%% *}" = 200 ] && served=$((served + 1))
	worst=$(echo "${t#* } $worst" | awk '{print ($1 > $2) ? $1 : $2}')
	sleep 0.7
done
[ $served = 6 ] || fail "during the slow-client attack only $served of 6 other clients were served"
c=$(curl -s -o out.json --interface 127.0.0.2 --max-time 5 -w '%{http_code}' \
	-H "Authorization: Bearer $(cat station.token)" -H 'Content-Type: application/json' \
	--data-binary @good.json "$SERVER_URL/v1/enroll")
[ "$c" = 201 ] || fail "enrollment during the slow-client attack: HTTP $c $(head -c 200 out.json)"
wait $attack
echo "slowloris: $(cat attack.txt); others served $served/6, slowest ${worst}s"
read -r _ opened _ _ _ closed <<<"$(cat attack.txt)"
[ "${opened:-0}" = 256 ] && [ "${closed:-0}" = 256 ] ||
	fail "the server did not close every slow connection (refused over the per-address limit or cut at the deadline): $(cat attack.txt)"

# 2. the deadline does not restart on each byte: 8 connections sending a header
#    line every second, 4 announcing a body that trickles one byte a second;
#    each is closed by the server within 4 s + a generous 5 s
$RAW deadline "$port" 127.0.0.3 8 1 12 >hdr-cut.txt
$RAW deadline "$port" 127.0.0.3 4 1 12 body >body-cut.txt
echo "headers cut after: $(tr '\n' ' ' <hdr-cut.txt); bodies cut after: $(tr '\n' ' ' <body-cut.txt)"
grep -q open hdr-cut.txt && fail "slow headers: connections still open after 12 s: $(tr '\n' ' ' <hdr-cut.txt)"
grep -q open body-cut.txt && fail "slow body: connections still open after 12 s: $(tr '\n' ' ' <body-cut.txt)"
awk '$1 < 3.5 { exit 1 }' hdr-cut.txt body-cut.txt || fail "connections cut before the 4 s deadline"
# (the watchdog counts after it has shut the sockets: give it a moment)
for i in $(seq 1 50); do
	curl -s "$SERVER_URL/metrics" >metrics.txt
	grep -qE '^nrfca_http_connections_closed_total\{reason="receive_deadline"\} [1-9]' metrics.txt && break
	sleep 0.1
done
grep -qE '^nrfca_http_connections_closed_total\{reason="receive_deadline"\} [1-9]' metrics.txt ||
	fail "no nrfca_http_connections_closed_total{reason=\"receive_deadline\"} in /metrics: $(grep connections_closed metrics.txt | tr '\n' ' ')"
grep -q '"receive_deadline"' server.log || fail "no receive_deadline line in the log"

# 3. a declared body over limits.max_body: 413 at once, without Authorization,
#    without sending the body; the connection is closed
printf 'POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5242880\r\n\r\n' >big.req
$RAW request "$port" big.req 6 >big.out
[[ $(sed -n 1p big.out) == "HTTP/1.1 413"* ]] || fail "5 MiB declared: $(sed -n 1p big.out) after $(sed -n 3p big.out) s, want 413 at once"
[ "$(sed -n 2p big.out)" = closed ] || fail "5 MiB declared: the connection stays open after the 413"
sed -n '4,$p' big.out | grep '"error":"too_large"' >/dev/null || fail "5 MiB declared: body $(sed -n '4,$p' big.out)"
printf 'POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 70000\r\n\r\n' >big.req
$RAW request "$port" big.req 6 >big.out
[[ $(sed -n 1p big.out) == "HTTP/1.1 413"* ]] || fail "Expect: 100-continue over the limit: $(sed -n 1p big.out), want 413 (no 100)"

# 4. the raw path is routed: %2f does not reach the revoke route
new_csr ec:P-256 "$(uuid)" one.csr; csr_body one.csr one.json
[ "$(req POST /v1/enroll station.token one.json)" = 201 ] || fail "enroll: $(cat out.json)"
serial=$(jf serial)
printf '{"reason": "keyCompromise"}' >reason.json
for enc in %2f %2F; do
	c=$(req POST "/v1/certificates/$serial${enc}revoke" operator.token reason.json --path-as-is)
	[ "$c" = 400 ] && [ "$(jf error)" = invalid_request ] || fail "POST .../$serial${enc}revoke: HTTP $c $(cat out.json), want 400"
done
[ "$(req GET "/v1/certificates/$serial" operator.token "")" = 200 ] && [ "$(jf status)" = active ] ||
	fail "the certificate was revoked through an encoded slash: $(cat out.json)"
c=$(req GET "/v1/%63rl" "" "" --path-as-is)
[ "$c" = 404 ] || fail "GET /v1/%63rl: HTTP $c (routing must not decode the path)"
[ "$(req POST "/v1/certificates/$serial/revoke" operator.token reason.json)" = 200 ] || fail "the real revoke route: $(cat out.json)"

[ "$(curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/v1/health")" = 200 ] || fail "not serving at the end"
server_stop
[ "$SERVER_RC" = 0 ] || fail "server exit status $SERVER_RC"
finish
