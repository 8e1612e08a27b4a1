#!/bin/bash
# Signals: SIGHUP with a broken policy keeps the old policy (policy_reload_failed
# logged), with a good one applies it; SIGTERM under load exits 0 after the
# requests in flight, each answer that arrived is complete and recorded.
# usage: signals.sh BUILD
. "$(dirname "$0")/common.sh" "$1" signals
[ -x "$BUILD/bin/bench_enroll" ] || { echo "SKIP: bench_enroll not built" >&2; exit 77; }
setup_with_policy || exit 1
cd "$DIR"
server_start "$DIR" || exit 1
hostkey() { new_csr ec:P-256 "$(uuid)" h.csr; csr_body h.csr h.json; req POST /v1/enroll station.token h.json; }
wait_log() { # EVENT COUNT
	local i
	for i in $(seq 1 50); do
		[ "$(grep -c "\"event\":\"$1\"" server.log)" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
[ "$(hostkey)" = 201 ] || fail "host-key before reload: $(cat out.json)"
cp "$POLICY" policy.good
printf '{"version": 1, "profiles": { broken' >"$POLICY"
kill -HUP "$SERVER_PID"
wait_log policy_reload_failed 1 || fail "no policy_reload_failed log line: $(tail -3 server.log)"
kill -0 "$SERVER_PID" || fail "the server died on SIGHUP with a broken policy"
[ "$(hostkey)" = 201 ] || fail "the old policy is not in force after a failed reload: $(cat out.json)"
[ "$(req GET /v1/ready "" "")" = 200 ] || fail "/v1/ready after a failed reload: $(cat out.json)"
jq '.profiles["host-key"].enabled = false' policy.good >"$POLICY"
kill -HUP "$SERVER_PID"
wait_log policy_reloaded 1 || fail "no policy_reloaded log line: $(tail -3 server.log)"
c=$(hostkey)
[ "$c" = 403 ] && [ "$(jf rule)" = profile_disabled ] || fail "reloaded policy not applied: HTTP $c $(cat out.json)"
cp policy.good "$POLICY"
kill -HUP "$SERVER_PID"
wait_log policy_reloaded 2 || fail "second reload not logged"
[ "$(hostkey)" = 201 ] || fail "host-key after the good reload: $(cat out.json)"

# SIGTERM with 8 clients in flight
mkdir got
"$BUILD/bin/bench_enroll" --url "$SERVER_URL" --token station.token --clients 8 --seconds 4 \
	--pool 6000 --save got >load.txt 2>&1 &
load=$!
for i in $(seq 1 300); do
	[ "$(ls got | wc -l)" -ge 300 ] && break
	sleep 0.05
done
pid=$SERVER_PID
kill -TERM "$pid"
# the clients keep sending on their keep-alive connections: the server must
# close them after the answer in flight, not serve them until the grace ends
for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
[ "$i" -le 30 ] || fail "the server took $((i / 10)) s to exit after SIGTERM under keep-alive load"
kill -0 "$pid" 2>/dev/null && fail "the server did not exit within 10 s of SIGTERM"
server_stop
[ "$SERVER_RC" = 0 ] || fail "exit status $SERVER_RC after SIGTERM under load"
wait $load || fail "bench_enroll failed"
cat load.txt | tail -1
# an answer that began and did not complete (http != 0) is a broken answer
grep -E ' 0 curl=[0-9]+ http=[1-9]' got/status.log && fail "answers cut short by SIGTERM"
grep -E '^c[0-9]+-[0-9]+ [0-9]+ ' got/status.log | grep -vE ' 0 curl=' | grep -v ' 201 ' | head -3 |
	grep . && fail "error answers during shutdown"
n201=$(find got -name 'c*.json' | wc -l)
good=$(find got -name 'c*.json' -print0 | xargs -0 -r -n 500 jq -r 'select(.certificate | startswith("-----BEGIN CERTIFICATE-----")) | .serial' 2>/dev/null | wc -l)
[ "$good" = "$n201" ] || fail "$((n201 - good)) of $n201 201 bodies are incomplete"
grep -q '"event":"stopping"' server.log && grep -q '"event":"stopped"' server.log || fail "no stopping/stopped log lines"
server_start "$DIR" || exit 1
saved_serials got >received.serials
ledger_serials >ledger.serials
[ -s received.serials ] || fail "no certificates received"
[ -z "$(comm -23 received.serials ledger.serials)" ] || fail "answered certificates missing from the ledger after SIGTERM"
"$BUILD/bin/nrfca-admin" audit verify >audit.txt 2>&1 || fail "audit verify: $(cat audit.txt)"
server_stop
[ "$SERVER_RC" = 0 ] || fail "server exit status $SERVER_RC"
finish
