#!/bin/bash
# kill -9 of one instance while 8 clients enroll through HAProxy (clients
# retry a request that got no answer, 502/503/504, with the same CSR): every
# CSR sent gets its certificate (none left unfinished), every 201 and every
# 200 replay a client received is in the ledger, no device got two
# certificates, the audit chain verifies.  The killed instance, started again
# on a new port and given to HAProxy through its admin socket, serves again.
# usage: kill.sh BUILD
. "$(dirname "$0")/common.sh" "$1" cl-kill
[ -x "$BUILD/bin/bench_enroll" ] || { echo "SKIP: bench_enroll not built" >&2; exit 77; }
setup_cluster supersede || exit $?
cd "$DIR"
cluster_start "$DIR" || exit 1
load_start 8 12 2500 40
load=$LOAD_PID
sleep 2
before=$(curl -s "${INST_URL[2]}/metrics" | awk '/^nrfca_certificates_issued_total/ { s += $2 } END { print s + 0 }')
[ "$before" -gt 0 ] || fail "instance 2 had issued nothing before the kill"
instance_stop 2 KILL
echo "killed instance 2 after it issued $before"
for i in $(seq 1 50); do
	[ "$(haproxy_up "$DIR")" = 2 ] && break
	sleep 0.1
done
[ "$(haproxy_up "$DIR")" = 2 ] || fail "HAProxy still sees $(haproxy_up "$DIR") instances up 5 s after the kill"
sleep 3
instance_start "$DIR" 2 || fail "instance 2 does not start again"
haproxy_cmd "$DIR" "set server nrfca_instances/nrfca2 addr 127.0.0.1 port ${INST_URL[2]##*:}" >/dev/null
for i in $(seq 1 100); do
	[ "$(haproxy_up "$DIR")" = 3 ] && break
	sleep 0.1
done
[ "$(haproxy_up "$DIR")" = 3 ] || fail "HAProxy does not take the restarted instance back"
wait $load || fail "bench_enroll failed: $(tail -3 load.txt)"
cat load.txt
grep -q ' 0 unfinished' load.txt || fail "CSRs left without a certificate: $(tail -1 load.txt)"
# the restarted instance gets its share of new enrollments through the front
for i in 1 2 3 4 5 6; do
	[ "$(enroll_one)" = 201 ] || fail "enrollment through the front after the restart: $(cat out.json)"
done
after=$(curl -s "${INST_URL[2]}/metrics" | awk '/^nrfca_certificates_issued_total/ { s += $2 } END { print s + 0 }')
[ "$after" -gt 0 ] || fail "the restarted instance 2 issued nothing"
# what the clients hold: 201 bodies and 200 replays
{ saved_serials got; grep -o '^c[0-9-]* 200 .*' got/status.log 2>/dev/null | grep -o '"serial":"[0-9a-f]*"' | cut -d'"' -f4; } |
	sort -u >received.serials
ledger_serials >ledger.serials
[ -s received.serials ] || fail "the load received no certificate"
[ -z "$(comm -23 received.serials ledger.serials)" ] ||
	fail "certificates a client received are missing from the ledger: $(comm -23 received.serials ledger.serials | head -3)"
devices_of | sort | uniq -d >dup.devices
[ ! -s dup.devices ] || fail "devices with two certificates: $(head -3 dup.devices)"
echo "received $(wc -l <received.serials), ledger $(wc -l <ledger.serials)"
admin audit verify >audit.txt 2>&1 || fail "audit verify: $(cat audit.txt)"
cat audit.txt
finish
