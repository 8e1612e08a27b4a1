#!/bin/bash
# nrfca-admin migrate: a SQLite ledger of 10,000 certificates (1,000 revoked,
# 2,500 superseded), credentials with groups, a binding and an expiry,
# expected devices, 3 CRL numbers - copied into a private PostgreSQL cluster:
# counts equal, the audit chain verifies there (nrfca-admin audit verify on a
# configuration naming the target), CRL number carried over, a non-empty
# target refused, a password in the URL refused.
# usage: migrate.sh BUILD
. "$(dirname "$0")/../server/common.sh" "$1" migrate
N=10000
mkdir -p "$DIR"
cd "$DIR"
src="sqlite:$DIR/src.db"
"$BUILD/bin/fill_ledger" "$src" $N >fill.txt 2>&1 || { cat fill.txt; fail "fill_ledger"; finish; }
pg_start "$DIR" || exit $?

t0=$(date +%s.%N)
"$BUILD/bin/nrfca-admin" migrate --from "$src" --to "$PG_URL" >migrate.txt 2>migrate.err ||
	fail "migrate: $(cat migrate.err migrate.txt)"
echo "migrated $N certificates in $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-5) s"
cat migrate.txt
grep -q "copied $N certificates (3500 revoked), 3 credentials, 2 group memberships, 100 expected devices" migrate.txt ||
	fail "migrate summary: $(cat migrate.txt)"
grep -q "CRL number [0-9]* carried over" migrate.txt || fail "no CRL number in: $(cat migrate.txt)"

# the same numbers, read from each database
sq() { sqlite3 "file:$DIR/src.db?mode=ro" "$1"; }
for q in "SELECT COUNT(*) FROM certificates" \
	"SELECT COUNT(*) FROM certificates WHERE status = 'revoked' AND revocation_reason = 4" \
	"SELECT COUNT(*) FROM certificates WHERE status = 'active' AND one_active = 1" \
	"SELECT COUNT(*) FROM credentials WHERE cert_subject = 'CN=station-1,O=Factory' AND expires_at = 4000000000" \
	"SELECT crl_number FROM crl_state" "SELECT revocations FROM crl_state" \
	"SELECT MAX(id) FROM audit_log WHERE event <> 'ledger.migrated'"; do
	a=$(sq "$q") b=$(pg_psql "$q")
	[ "$a" = "$b" ] || fail "'$q': SQLite $a, PostgreSQL $b"
done
[ "$(sq "SELECT COUNT(*) FROM certificates WHERE status = 'revoked' AND revocation_reason = 4")" = $((N / 4)) ] ||
	fail "the source has not $((N / 4)) superseded certificates"
[ "$(pg_psql "SELECT COUNT(*) FROM audit_log WHERE event = 'ledger.migrated'")" = 1 ] ||
	fail "the target's log does not note the migration"
[ "$(pg_psql "SELECT last_id FROM audit_head")" = $(($(sq "SELECT last_id FROM audit_head") + 1)) ] ||
	fail "the target's chain head does not follow the source's plus the migration entry"
# the hashes themselves came over unchanged
[ "$(sq "SELECT hex(hash) FROM audit_log WHERE id = 5000")" = \
	"$(pg_psql "SELECT upper(encode(hash, 'hex')) FROM audit_log WHERE id = 5000")" ] || fail "entry 5000 differs"

# nrfca-admin on the target
jq -n --arg db "$PG_URL" '{token: {uri: "pkcs11:token=unused"}, ca: {chain: "unused.pem"}, database: $db}' >pg.json
"$BUILD/bin/nrfca-admin" --config pg.json audit verify >verify.txt 2>&1 || fail "audit verify on the target: $(cat verify.txt)"
grep -q "chain of $(pg_psql "SELECT COUNT(*) FROM audit_log") entries is intact" verify.txt || fail "verify: $(cat verify.txt)"

# a non-empty target is refused, and left as it was
before=$(pg_psql "SELECT COUNT(*) FROM audit_log")
"$BUILD/bin/nrfca-admin" migrate --from "$src" --to "$PG_URL" >again.txt 2>&1 && fail "a second migrate into a full target succeeded"
grep -q "is not empty" again.txt || fail "refusal: $(cat again.txt)"
[ "$(pg_psql "SELECT COUNT(*) FROM audit_log")" = "$before" ] || fail "the refused migrate changed the target"
# a password in the connection string is refused without echoing it
"$BUILD/bin/nrfca-admin" migrate --from "$src" --to "postgresql://nrfca:hunter2@/x?host=$PG_SOCKDIR" >pw.txt 2>&1 &&
	fail "a password in the URL was accepted"
grep -q "holds a password" pw.txt || fail "password refusal: $(cat pw.txt)"
grep -q hunter2 pw.txt && fail "the password was echoed"
finish
