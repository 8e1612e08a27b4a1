#!/bin/bash
# The server on PostgreSQL loses its database under load: PostgreSQL stopped
# while 4 clients enroll gives 503 database_unavailable with Retry-After and
# /v1/ready 503; restarted, certificates again within 10 s from the same
# server process; every 201 the load received is in the ledger, the audit
# chain verifies.
# usage: pgoutage.sh BUILD
. "$(dirname "$0")/../server/common.sh" "$1" pgoutage
[ -x "$BUILD/bin/bench_enroll" ] || { echo "SKIP: bench_enroll not built" >&2; exit 77; }
NRFCA_TEST_DB=postgresql
setup_with_policy || exit $?
cd "$DIR"
server_start "$DIR" || exit 1
pid=$SERVER_PID
load_start 4 10 3000 30
load=$LOAD_PID
pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null || fail "pg_ctl stop"
enroll_until 503 10 || fail "no 503 within 10 s of the database stopping: $(cat out.json)"
[ "$(jf error)" = database_unavailable ] || fail "503 error '$(jf error)', want database_unavailable"
grep -qiE '^Retry-After: *[0-9]+' hdr.txt || fail "503 without Retry-After"
c=$(req GET /v1/ready "" "")
[ "$c" = 503 ] || fail "/v1/ready while the database is down: HTTP $c $(cat out.json)"
[ "$(jf database)" != ok ] || fail "/v1/ready does not say the database is the reason: $(cat out.json)"
sleep 1
pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA.log" -w -t 60 \
	-o "-c listen_addresses='' -k $PG_SOCKDIR -c fsync=on" start >/dev/null || fail "pg_ctl start"
t1=$(date +%s.%N)
enroll_until 201 10 || fail "no certificate within 10 s of the database's return: $(cat out.json)"
echo "recovered $(echo "$(date +%s.%N) - $t1" | bc | cut -c1-4) s after the database returned"
[ "$(req GET /v1/ready "" "")" = 200 ] || fail "/v1/ready after the return: $(cat out.json)"
wait $load || fail "bench_enroll failed: $(tail -3 load.txt)"
kill -0 "$pid" 2>/dev/null && [ "$SERVER_PID" = "$pid" ] || fail "the server process did not survive"
grep -q ' 503 .*database_unavailable' got/status.log || fail "the load saw no 503 database_unavailable"
saved_serials got >received.serials
ledger_serials >ledger.serials
[ -z "$(comm -23 received.serials ledger.serials)" ] || fail "received certificates missing from the ledger"
"$BUILD/bin/nrfca-admin" audit verify >audit.txt 2>&1 || fail "audit verify: $(cat audit.txt)"
finish
