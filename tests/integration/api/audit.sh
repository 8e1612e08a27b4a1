#!/bin/bash
# Everything that changes trust is in the audit log, and the log can be read
# and archived: the key ceremony with an external root (init --csr-out,
# import-chain), import-chain refusing to replace an installed chain without
# --force (it silently replaced a two-certificate chain with one), revocations,
# audit list with its filters and --json, audit export as archives that verify
# on their own (nrfca-admin and the Python program of docs/AUDIT.md), and
# tampering or truncation caught.
# usage: audit.sh BUILD
. "$(dirname "$0")/../server/common.sh" "$1" audit
admin() { "$BUILD/bin/nrfca-admin" "$@"; }
mk_policy "$POLICY" || exit 1
softhsm_setup "$DIR" "aud-$$"
cd "$DIR"
jq --arg p "$POLICY" '. + {policy: $p}' nrfca.json >c.json && mv c.json nrfca.json
export NRFCA_CONFIG=$DIR/nrfca.json
export USER=alice SUDO_USER=

# ---- the ceremony with an external root
admin init --subject "CN=Issuing CA,O=nrfca tests" --csr-out ca.csr >init.txt 2>&1 || fail "init --csr-out: $(cat init.txt)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key -out root.pem \
	-subj "/CN=Offline Root" -days 30 -addext "basicConstraints=critical,CA:TRUE" 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >ext.cnf
openssl x509 -req -in ca.csr -CA root.pem -CAkey root.key -days 20 -extfile ext.cnf -out ca.pem 2>/dev/null
cat ca.pem root.pem >chain2.pem
admin import-chain chain2.pem >imp.txt 2>&1 || fail "import-chain: $(cat imp.txt)"
cp ca-chain.pem installed2.pem
# one certificate where two are installed: refused, nothing changed
admin import-chain ca.pem >imp1.txt 2>&1; rc=$?
[ $rc = 1 ] && grep -q "refusing to replace it without --force" imp1.txt || fail "import-chain over an installed chain: exit $rc $(cat imp1.txt)"
cmp -s ca-chain.pem installed2.pem || fail "a refused import-chain changed the installed chain"
# the same chain again: nothing to do
admin import-chain chain2.pem >same.txt 2>&1 && grep -q "installed already" same.txt || fail "importing the installed chain: $(cat same.txt)"
# --force replaces, and says so
admin import-chain --force ca.pem >force.txt 2>&1 || fail "import-chain --force: $(cat force.txt)"
[ "$(grep -c 'BEGIN CERTIFICATE' ca-chain.pem)" = 1 ] || fail "--force did not install the one-certificate chain"
admin import-chain --force chain2.pem >/dev/null 2>&1 || fail "import-chain --force back to two"
for role in station operator; do
	admin token add --name "test-$role" --role $role --quiet >"$role.token" || fail "token add $role"
done
admin audit list --json >ceremony.json || fail "audit list --json"
ev() { jq -r "select(.event == \"$1\") | $2" ceremony.json; }
spki=$(openssl req -in ca.csr -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)
[ "$(ev ceremony_key .detail.key.spki_sha256)" = "$spki" ] && [ "$(ev ceremony_key .actor)" = alice ] ||
	fail "ceremony_key entry: $(ev ceremony_key .)"
[ "$(ev ceremony_csr .detail.csr_sha256)" = "$(openssl req -in ca.csr -outform DER | sha256sum | cut -d' ' -f1)" ] ||
	fail "ceremony_csr entry: $(ev ceremony_csr .)"
[ "$(jq -s '[.[] | select(.event == "chain_import")] | length' ceremony.json)" = 3 ] || fail "want 3 chain_import entries (the refused and the no-op ones are not changes)"
first=$(jq -s '[.[] | select(.event == "chain_import")][0].detail' ceremony.json)
forced=$(jq -s '[.[] | select(.event == "chain_import")][1].detail' ceremony.json)
[ "$(jq '.installed | length' <<<"$first")" = 2 ] && [ "$(jq '.replaced | length' <<<"$first")" = 0 ] &&
	[ "$(jq -r '.installed[1].subject' <<<"$first")" = "CN=Offline Root" ] || fail "first chain_import: $first"
[ "$(jq -r .forced <<<"$forced")" = true ] && [ "$(jq '.replaced | length' <<<"$forced")" = 2 ] &&
	[ "$(jq -r '.replaced[0].sha256' <<<"$forced")" = "$(openssl x509 -in ca.pem -outform DER | sha256sum | cut -d' ' -f1)" ] ||
	fail "forced chain_import: $forced"

# ---- revocations by the API and by nrfca-admin, then list with filters
server_start "$DIR" || exit 1
for i in 1 2 3; do
	new_csr ec:P-256 "$(uuid)" "c$i.csr"; csr_body "c$i.csr" "c$i.json"
	[ "$(req POST /v1/enroll station.token "c$i.json")" = 201 ] || fail "enroll $i: $(cat out.json)"
	jf serial >"s$i"
done
printf '{"reason": "keyCompromise"}' >reason.json
[ "$(req POST "/v1/certificates/$(cat s1)/revoke" operator.token reason.json)" = 200 ] || fail "API revoke: $(cat out.json)"
admin revoke --reason cessationOfOperation "$(cat s2)" >/dev/null 2>&1 || fail "nrfca-admin revoke"
server_stop
admin audit list --event revoke --json >rev.json || fail "audit list --event revoke"
[ "$(jq -s length rev.json)" = 2 ] || fail "want 2 revoke entries: $(cat rev.json)"
[ "$(jq -r 'select(.detail.serial == "'"$(cat s1)"'") | .actor + " " + .detail.reason_name' rev.json)" = "test-operator keyCompromise" ] ||
	fail "API revocation entry: $(cat rev.json)"
[ "$(jq -r 'select(.detail.serial == "'"$(cat s2)"'") | .actor' rev.json)" = alice ] || fail "admin revocation entry: $(cat rev.json)"
[ "$(admin audit list --actor test-station --event issue --json | jq -s length)" = 3 ] || fail "audit list --actor --event"
admin audit list --event revoke >rev.txt || fail "audit list (table)"
head -1 rev.txt | grep -q "^ID .*EVENT" && [ "$(grep -c ' revoke ' rev.txt)" = 2 ] || fail "audit list table: $(cat rev.txt)"
today=$(date -u +%Y-%m-%d)
[ "$(admin audit list --since 2000-01-01 --until 2000-01-02 --json | wc -l)" = 0 ] || fail "--until in 2000 lists entries"
n_all=$(admin audit list --json | wc -l)
[ "$(admin audit list --since "$today" --json | wc -l)" = "$n_all" ] || fail "--since today does not list all of today's entries"
admin audit list --limit 2 --json >two.json 2>more.txt
[ "$(wc -l <two.json)" = 2 ] && grep -q -- "--after-id $(jq -s -r '.[1].id' two.json)" more.txt || fail "--limit 2: $(cat more.txt)"
[ "$(admin audit list --after-id "$(jq -s -r '.[1].id' two.json)" --json | head -1 | jq .id)" = 3 ] || fail "--after-id paging"
admin audit list --since yesterday >out.txt 2>&1; [ $? = 2 ] && grep -q "'yesterday' is not an RFC 3339" out.txt || fail "--since yesterday: $(cat out.txt)"
admin audit list --since 2026-03-02 --until 2026-03-01 >out.txt 2>&1; [ $? = 2 ] || fail "--until before --since accepted"

# ---- export, verify on its own, continue, catch tampering
admin audit export --out a1.jsonl 2>exp1.txt || fail "audit export: $(cat exp1.txt)"
[ "$(stat -c %a a1.jsonl)" = 600 ] || fail "the archive is mode $(stat -c %a a1.jsonl), want 600"
last1=$(tail -1 a1.jsonl | jq -r .last_id)
[ "$last1" = "$n_all" ] || fail "the export holds $last1 entries, the log $n_all"
grep -q -- "--after-id $last1" exp1.txt || fail "export does not say how to continue: $(cat exp1.txt)"
admin audit export --out a1.jsonl >/dev/null 2>&1 && fail "audit export replaced an existing file"
admin token add --name later --role auditor --quiet >/dev/null || fail "token add later"
admin audit export --after-id "$last1" --out a2.jsonl 2>/dev/null || fail "audit export --after-id"
[ "$(sed -n 2p a2.jsonl | jq -r .event)" = cred_add ] || fail "the second archive does not start with the new entry"
(cd / && unset NRFCA_CONFIG && "$BUILD/bin/nrfca-admin" audit verify --archive "$DIR/a1.jsonl" --archive "$DIR/a2.jsonl") >ver.txt 2>&1 ||
	fail "audit verify --archive a1 --archive a2 (no configuration): $(cat ver.txt)"
admin audit verify --archive a2.jsonl --archive a1.jsonl >ver.txt 2>&1 && fail "a2 then a1 accepted as a series"
grep -q "does not continue" ver.txt || fail "series out of order: $(cat ver.txt)"
# the program in docs/AUDIT.md verifies the same archives
sed -n '/<!-- verify-archive.py -->/,/^```$/p' "$SRC/docs/AUDIT.md" | sed '1,2d;$d' >verify.py
[ -s verify.py ] || fail "no verifier program in docs/AUDIT.md"
/usr/bin/python3 verify.py a1.jsonl a2.jsonl >py.txt 2>&1 || fail "docs/AUDIT.md's verifier rejects good archives: $(cat py.txt)"
# tampering: one character of one detail; an entry removed; the tail cut
sed '3s/"detail":"{/"detail":"{ /' a1.jsonl >t1.jsonl
admin audit verify --archive t1.jsonl >ver.txt 2>&1 && fail "a changed detail verifies"
grep -q "BROKEN .*line 3: entry 2: hash does not match" ver.txt || fail "changed detail: $(cat ver.txt)"
/usr/bin/python3 verify.py t1.jsonl >/dev/null 2>&1 && fail "docs/AUDIT.md's verifier accepts a changed detail"
sed '4d' a1.jsonl >t2.jsonl
admin audit verify --archive t2.jsonl >ver.txt 2>&1 && fail "an archive with an entry removed verifies"
grep -q "where entry 3 was expected" ver.txt || fail "entry removed: $(cat ver.txt)"
head -n -1 a1.jsonl >t3.jsonl
admin audit verify --archive t3.jsonl >ver.txt 2>&1 && fail "an archive without its trailer verifies"
grep -q "without its trailer" ver.txt || fail "truncated: $(cat ver.txt)"
admin audit verify >/dev/null || fail "audit verify of the ledger"
finish
