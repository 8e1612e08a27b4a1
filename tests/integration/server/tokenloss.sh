#!/bin/bash
# Token loss during load: the SoftHSM2 token directory is moved away while 4
# clients enroll: 503 token_unavailable with Retry-After and /v1/ready 503 while
# it is gone; moved back: certificates again within 10 s, same server process.
# usage: tokenloss.sh BUILD
. "$(dirname "$0")/common.sh" "$1" tokenloss
[ -x "$BUILD/bin/bench_enroll" ] || { echo "SKIP: bench_enroll not built" >&2; exit 77; }
setup_with_policy || exit 1
cd "$DIR"
server_start "$DIR" || exit 1
pid=$SERVER_PID
# the server signs with a copy of the key made in the token (token.session_copy)
curl -s "$SERVER_URL/metrics" | grep '^nrfca_token_session_copy 1$' >/dev/null || fail "not signing with the session copy: $(curl -s "$SERVER_URL/metrics" | grep session_copy)"
grep -q '"key_copy":"session object"' server.log || fail "the start-up line does not say key_copy: $(grep listening server.log)"
load_start 4 8 3000 50
load=$LOAD_PID
mv tokens tokens.away
t0=$(date +%s.%N)
enroll_until 503 10 || fail "no 503 within 10 s of the token leaving: $(cat out.json)"
[ "$(jf error)" = token_unavailable ] || fail "503 error '$(jf error)', want token_unavailable"
grep -qiE '^Retry-After: *[0-9]+' hdr.txt || fail "503 without Retry-After"
c=$(req GET /v1/ready "" "")
[ "$c" = 503 ] || fail "/v1/ready while the token is gone: HTTP $c $(cat out.json)"
[ "$(jf token)" != ok ] || fail "/v1/ready does not say the token is the reason: $(cat out.json)"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/v1/health")" = 200 ] || fail "/v1/health while the token is gone"
curl -s "$SERVER_URL/metrics" | grep '^nrfca_token_ready 0$' >/dev/null || fail "nrfca_token_ready is not 0"
n_gone=$(cert_count)
sleep 2
mv tokens.away tokens
t1=$(date +%s.%N)
enroll_until 201 10 || fail "no certificate within 10 s of the token's return: $(cat out.json)"
t2=$(date +%s.%N)
echo "token away for $(echo "$t1 - $t0" | bc | cut -c1-4) s; recovered $(echo "$t2 - $t1" | bc | cut -c1-4) s after the return"
[ "$(req GET /v1/ready "" "")" = 200 ] || fail "/v1/ready after the return: $(cat out.json)"
# the first copy after the return may fail (the files just back): the monitor
# tries again on its next probes, once a second
copied=0
for _ in $(seq 1 60); do
	curl -s "$SERVER_URL/metrics" | grep '^nrfca_token_session_copy 1$' >/dev/null && { copied=1; break; }
	sleep 0.1
done
[ $copied = 1 ] || fail "no session copy within 6 s of the return: $(grep '"token_ready"' server.log)"
grep '"token_ready".*key_copy: session object' server.log >/dev/null || fail "the log does not say the session copy was made again: $(grep '"token_ready"' server.log)"
wait $load || fail "bench_enroll failed"
cat load.txt | tail -1
kill -0 "$pid" 2>/dev/null && [ "$SERVER_PID" = "$pid" ] || fail "the server process did not survive"
grep -q ' 503 .*token_unavailable' got/status.log || fail "the load saw no 503 token_unavailable"
[ "$(cert_count)" -gt "$n_gone" ] || fail "no certificates after the return"
# nothing half-written: every 201 the load received is in the ledger
saved_serials got >received.serials
ledger_serials >ledger.serials
[ -z "$(comm -23 received.serials ledger.serials)" ] || fail "received certificates missing from the ledger"
"$BUILD/bin/nrfca-admin" audit verify >audit.txt 2>&1 || fail "audit verify: $(cat audit.txt)"
server_stop
[ "$SERVER_RC" = 0 ] || fail "server exit status $SERVER_RC"
finish
