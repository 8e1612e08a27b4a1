#!/bin/bash
# One server per SQLite ledger, and backup / restore while it serves (issue 15
# item 3, issue 9 item 5): a second nrfca-server on the same ledger refuses
# to start and says why; nrfca-admin migrate refuses a ledger a server holds;
# the ledger's files are 0600; nrfca-admin check names engine and schema;
# nrfca-admin backup while 4 clients enroll; the restore procedure of the
# README (stop, move the ledger aside, copy the backup, start): audit verify
# passes, every certificate received before the backup is there, and the CRL
# number served after the restore is above every one served before.
# usage: backup.sh BUILD
. "$(dirname "$0")/../server/common.sh" "$1" backup
[ -x "$BUILD/bin/bench_enroll" ] || { echo "SKIP: bench_enroll not built" >&2; exit 77; }
NRFCA_TEST_DB=sqlite
setup_with_policy || exit 1
cd "$DIR"
server_start "$DIR" || exit 1
A="$BUILD/bin/nrfca-admin"
crl_number() { curl -s "$SERVER_URL/v1/crl" -o crl.der && openssl crl -inform DER -in crl.der -noout -crlnumber | sed 's/crlNumber=0x//'; }

# one writer
"$BUILD/bin/nrfca-server" --config nrfca.json --port-file port2 >second.out 2>&1 &
second=$!
for i in $(seq 1 100); do kill -0 $second 2>/dev/null || break; sleep 0.1; done
if kill -0 $second 2>/dev/null; then
	kill $second; fail "a second nrfca-server on the same ledger kept running"
else
	wait $second && fail "a second nrfca-server on the same ledger exited 0"
	grep -q "ledger $DIR/nrfca.db is already in use by nrfca-server (pid $SERVER_PID); one server per SQLite ledger, use PostgreSQL for several instances" second.out ||
		fail "second server's message: $(cat second.out)"
fi
"$A" migrate --from "sqlite:$DIR/nrfca.db" --to "sqlite:$DIR/copy.db" >m.txt 2>&1 && fail "migrate read a ledger the server holds"
grep -q "already in use by nrfca-server" m.txt || fail "migrate refusal: $(cat m.txt)"
"$A" check >check.txt 2>&1
grep -q "the ledger: sqlite, schema version [0-9]*, sqlite:$DIR/nrfca.db" check.txt || fail "check does not describe the ledger: $(cat check.txt)"
for f in nrfca.db nrfca.db-wal nrfca.db-shm nrfca.db.lock; do
	[ "$(stat -c %a "$f")" = 600 ] || fail "$f has mode $(stat -c %a "$f"), want 600"
done

# backup under load
load_start 4 6 3000 30
load=$LOAD_PID
first=$(saved_serials got | head -1)
echo '{"reason": "keyCompromise"}' >reason.json
[ "$(req POST "/v1/certificates/$first/revoke" operator.token reason.json)" = 200 ] || fail "revoke: $(cat out.json)"
n_before=$(crl_number)
saved_serials got >before_backup.serials
"$A" backup "$DIR/backup.db" >backup.txt 2>&1 || fail "backup: $(cat backup.txt)"
grep -q "^ok .*backup.db: the ledger, verified (integrity, schema [0-9]*, audit chain of [0-9]* entries)" backup.txt ||
	fail "backup output: $(cat backup.txt)"
[ "$(stat -c %a backup.db)" = 600 ] || fail "backup.db has mode $(stat -c %a backup.db)"
"$A" backup "$DIR/backup.db" >again.txt 2>&1 && fail "backup overwrote an existing file"
wait $load || fail "bench_enroll failed: $(tail -3 load.txt)"
# a revocation after the backup: the live CRL number moves past the backup's
second_serial=$(saved_serials got | tail -1)
[ "$(req POST "/v1/certificates/$second_serial/revoke" operator.token reason.json)" = 200 ] || fail "revoke 2: $(cat out.json)"
n_last=$(crl_number)
[ $((16#$n_last)) -gt $((16#$n_before)) ] || fail "CRL number did not grow before the restore"

# the documented restore
server_stop
mkdir aside
mv nrfca.db nrfca.db-wal nrfca.db-shm aside/ 2>/dev/null
cp backup.db nrfca.db && chmod 600 nrfca.db
server_start "$DIR" || { fail "server does not start on the restored ledger"; finish; }
n_after=$(crl_number)
[ $((16#$n_after)) -gt $((16#$n_last)) ] || fail "CRL number went backwards after the restore: $n_last -> $n_after"
"$A" audit verify >verify.txt 2>&1 || fail "audit verify after the restore: $(cat verify.txt)"
ledger_serials >restored.serials
[ -z "$(comm -23 before_backup.serials restored.serials)" ] || fail "certificates received before the backup are missing"
c=$(req GET "/v1/certificates/$first" operator.token)
[ "$c" = 200 ] && [ "$(jf status)" = revoked ] || fail "the revocation before the backup was lost: $c $(cat out.json)"
finish
