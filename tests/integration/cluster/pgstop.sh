#!/bin/bash
# PostgreSQL stopped while clients enroll through HAProxy: every instance
# answers 503 database_unavailable with Retry-After and /v1/ready 503 naming
# the database; HAProxy, seeing no instance ready, answers 503 with
# Retry-After too.  PostgreSQL started again: every instance issues again
# within 10 s, without restarting nrfca; every certificate a client received
# is in the ledger and the audit chain verifies.
# usage: pgstop.sh BUILD
. "$(dirname "$0")/common.sh" "$1" cl-pgstop
[ -x "$BUILD/bin/bench_enroll" ] || { echo "SKIP: bench_enroll not built" >&2; exit 77; }
setup_cluster supersede || exit $?
cd "$DIR"
cluster_start "$DIR" || exit 1
pids="${INST_PID[*]}"
load_start 4 14 1500 20
load=$LOAD_PID
pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null || fail "pg_ctl stop"
for i in 1 2 3; do
	SERVER_URL=${INST_URL[$i]} enroll_until 503 10 ||
		{ fail "instance $i: no 503 within 10 s of the database stopping: $(cat out.json)"; continue; }
	[ "$(jf error)" = database_unavailable ] || fail "instance $i: 503 error '$(jf error)', want database_unavailable"
	grep -qiE '^Retry-After: *[0-9]+' hdr.txt || fail "instance $i: 503 without Retry-After"
	c=$(on $i GET /v1/ready "" "")
	[ "$c" = 503 ] || fail "instance $i: /v1/ready while the database is down: HTTP $c $(cat out.json)"
	[ "$(jf database)" != ok ] || fail "instance $i: /v1/ready does not name the database: $(cat out.json)"
	echo "instance $i: /v1/ready says $(jq -c . out.json)"
done
# the front: HAProxy takes the instances out, then answers for them
for k in $(seq 1 50); do
	[ "$(haproxy_up "$DIR")" = 0 ] && break
	sleep 0.2
done
[ "$(haproxy_up "$DIR")" = 0 ] || fail "HAProxy still sees $(haproxy_up "$DIR") instances up with the database down"
c=$(enroll_one)
[ "$c" = 503 ] || fail "the front with the database down: HTTP $c $(cat out.json)"
grep -qiE '^Retry-After: *[0-9]+' hdr.txt || fail "the front's 503 has no Retry-After"
[ "$(jf error)" = not_ready ] || fail "the front's 503 says '$(cat out.json)'"
sleep 1
pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA.log" -w -t 60 \
	-o "-c listen_addresses='' -k $PG_SOCKDIR -c fsync=on" start >/dev/null || fail "pg_ctl start"
t1=$(date +%s.%N)
for i in 1 2 3; do
	SERVER_URL=${INST_URL[$i]} enroll_until 201 10 ||
		fail "instance $i: no certificate within 10 s of the database's return: $(cat out.json)"
	s=$(echo "$(date +%s.%N) - $t1" | bc)
	[ "$(echo "$s <= 10" | bc)" = 1 ] || fail "instance $i issued again only $s s after the database's return"
	echo "instance $i issues again $(printf %.1f "$s") s after the database returned"
done
enroll_until 201 10 || fail "the front: no certificate within 10 s after the instances recovered: $(cat out.json)"
wait $load || fail "bench_enroll failed: $(tail -3 load.txt)"
cat load.txt
[ "${INST_PID[*]}" = "$pids" ] && for p in $pids; do kill -0 "$p" || fail "instance pid $p did not survive"; done
grep -q ' 503 ' got/status.log || fail "the load saw no 503"
grep -q ' 0 unfinished' load.txt || fail "CSRs left without a certificate: $(tail -1 load.txt)"
saved_serials got >received.serials
ledger_serials >ledger.serials
[ -z "$(comm -23 received.serials ledger.serials)" ] || fail "received certificates missing from the ledger"
admin audit verify >audit.txt 2>&1 || fail "audit verify: $(cat audit.txt)"
finish
