#!/bin/bash
# Crash safety: 8 clients enroll fresh CSRs (bench_enroll --save keeps every
# 201 body), nrfca-server is killed with SIGKILL in the middle, restarted: every
# certificate a client received is in the ledger, byte for byte, and the audit
# hash chain verifies.
# usage: crash.sh BUILD
. "$(dirname "$0")/common.sh" "$1" crash
[ -x "$BUILD/bin/bench_enroll" ] || { echo "SKIP: bench_enroll not built" >&2; exit 77; }
setup_with_policy || exit 1
cd "$DIR"
server_start "$DIR" || exit 1
mkdir got
"$BUILD/bin/bench_enroll" --url "$SERVER_URL" --token station.token --clients 8 --seconds 4 \
	--pool 5000 --save got >load.txt 2>&1 &
load=$!
# kill once the load is well under way
for i in $(seq 1 300); do
	[ "$(ls got | wc -l)" -ge 300 ] && break
	sleep 0.05
done
kill -9 "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=
wait $load || fail "bench_enroll failed: $(cat load.txt)"
received=$(ls got | grep -c '^c.*\.json$')
echo "clients received $received certificates before the kill ($(cat load.txt))"
[ "$received" -ge 100 ] || fail "only $received certificates before the kill"
grep -q ' 0 curl=' got/status.log 2>/dev/null || fail "no client saw the connection fail: was the server killed mid-load?"

server_start "$DIR" || exit 1
ledger_serials >ledger.serials
saved_serials got >received.serials
[ "$(sort -u received.serials | wc -l)" = "$received" ] || fail "clients received duplicate serials"
missing=$(comm -23 received.serials ledger.serials | wc -l)
[ "$missing" = 0 ] || fail "$missing received certificates are not in the ledger: $(comm -23 received.serials ledger.serials | head -3)"
echo "ledger holds $(wc -l <ledger.serials) certificates"
# a sample byte for byte, through GET /v1/certificates/{serial}
for f in $(ls got/c*.json | shuf -n 25); do
	s=$(jq -r .serial "$f")
	c=$(req GET "/v1/certificates/$s" operator.token "" -H 'Accept: application/pem-certificate-chain')
	[ "$c" = 200 ] || { fail "GET $s: HTTP $c"; continue; }
	jq -r .certificate "$f" >want.pem
	openssl x509 -in out.json -outform DER 2>/dev/null | cmp -s - <(openssl x509 -in want.pem -outform DER) ||
		fail "the ledger's certificate $s differs from the one the client received"
done
"$BUILD/bin/nrfca-admin" audit verify >audit.txt 2>&1 || fail "audit verify after the crash: $(cat audit.txt)"
# and it issues again
new_csr ec:P-256 "$(uuid)" n.csr; csr_body n.csr n.json
[ "$(req POST /v1/enroll station.token n.json)" = 201 ] || fail "enroll after restart: $(cat out.json)"
server_stop
[ "$SERVER_RC" = 0 ] || fail "server exit status $SERVER_RC"
"$BUILD/bin/nrfca-admin" audit verify >audit.txt 2>&1 || fail "audit verify at the end: $(cat audit.txt)"
finish
