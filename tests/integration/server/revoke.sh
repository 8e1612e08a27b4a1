#!/bin/bash
# Revocation through the API and nrfca-admin: the CRL (DER, v2, signed in the
# token) verifies with openssl, lists the serial with its reason, and
# `openssl verify -crl_check` rejects the revoked certificate and accepts the other.
# usage: revoke.sh BUILD
. "$(dirname "$0")/common.sh" "$1" revoke
setup_with_policy || exit 1
cd "$DIR"
server_start "$DIR" || exit 1
curl -sf "$SERVER_URL/v1/ca.pem" -o ca.pem || fail "GET /v1/ca.pem"
for v in keygen-csr-sectag17 keygen-line-sectag52; do
	jq -n --arg k "$(cat "$VEC/$v.txt")" '{keygen: $k}' >"$v.json"
	[ "$(req POST /v1/enroll station.token "$v.json")" = 201 ] || fail "$v: $(cat out.json)"
	jf certificate >"$v.pem"
	jf serial >"$v.serial"
done
a=$(cat keygen-csr-sectag17.serial) b=$(cat keygen-line-sectag52.serial)

crl_number() { openssl crl -inform DER -in "$1" -noout -crlnumber | sed 's/crlNumber=//; s/^0x//'; }
curl -s -D crlhdr.txt "$SERVER_URL/v1/crl" -o crl0.der
grep -qi '^Content-Type: *application/pkix-crl' crlhdr.txt || fail "CRL content type: $(cat crlhdr.txt)"
n0=$(crl_number crl0.der)
printf '{"reason": "keyCompromise"}' >reason.json
c=$(req POST "/v1/certificates/$a/revoke" operator.token reason.json)
[ "$c" = 200 ] || fail "revoke $a: HTTP $c $(cat out.json)"
req GET "/v1/certificates/$a" operator.token "" >/dev/null
[ "$(jf status)" = revoked ] || fail "status after revoke: $(cat out.json)"
curl -s "$SERVER_URL/v1/crl" -o crl.der
openssl crl -inform DER -in crl.der -noout -verify -CAfile ca.pem 2>&1 | grep '^verify OK' >/dev/null ||
	fail "openssl crl -verify does not accept the CRL"
openssl crl -inform DER -in crl.der -noout -text >crl.txt
grep -q 'Version 2' crl.txt || fail "CRL is not v2"
grep -q 'X509v3 Authority Key Identifier' crl.txt || fail "CRL without AKI"
n1=$(crl_number crl.der)
[ $((16#$n1)) -gt $((16#$n0)) ] || fail "CRL number did not grow ($n0 -> $n1)"
A=$(tr a-f A-F <<<"$a" | sed 's/^0*//')
grep -A4 "Serial Number: 0*$A\$" crl.txt | grep 'Key Compromise' >/dev/null || fail "CRL does not list $a with keyCompromise"
grep -qi "Serial Number: 0*$(tr a-f A-F <<<"$b" | sed 's/^0*//')\$" crl.txt && fail "CRL lists the unrevoked $b"
openssl crl -inform DER -in crl.der -out crl.pem
out=$(openssl verify -crl_check -CRLfile crl.pem -CAfile ca.pem keygen-csr-sectag17.pem 2>&1) &&
	fail "openssl verify -crl_check accepts the revoked certificate"
grep -q 'certificate revoked' <<<"$out" || fail "revoked certificate rejected for another reason: $out"
openssl verify -crl_check -CRLfile crl.pem -CAfile ca.pem keygen-line-sectag52.pem >/dev/null 2>&1 ||
	fail "openssl verify -crl_check rejects the unrevoked certificate"

# errors: unknown serial, bad reason, revoking twice
c=$(req POST /v1/certificates/0123456789abcdef0123456789abcdef/revoke operator.token reason.json)
[ "$c" = 404 ] || fail "revoke unknown serial: HTTP $c"
printf '{"reason": "becauseISaySo"}' >bad.json
c=$(req POST "/v1/certificates/$b/revoke" operator.token bad.json)
[ "$c" = 400 ] || fail "unknown reason: HTTP $c $(cat out.json)"
c=$(req POST "/v1/certificates/$a/revoke" operator.token reason.json)
[ "$c" = 409 ] || [ "$c" = 200 ] || fail "revoke twice: HTTP $c $(cat out.json)"
req GET "/v1/certificates/$b" operator.token "" >/dev/null
[ "$(jf status)" = active ] || fail "a refused revocation changed $b: $(cat out.json)"

# nrfca-admin revoke (another process): the server's CRL follows within 10 s.
# The serial as an operator copies it from `openssl x509 -text`: upper case, colons
bc=$(tr a-f A-F <<<"$b" | sed 's/../&:/g; s/:$//')
"$BUILD/bin/nrfca-admin" revoke "$bc" --reason cessationOfOperation >admin.out 2>admin.log ||
	fail "nrfca-admin revoke $bc: $(cat admin.log)"
grep -q "^revoked $b " admin.out || fail "nrfca-admin revoke does not name the serial in the ledger's form: $(cat admin.out)"
B=$(tr a-f A-F <<<"$b" | sed 's/^0*//')
ok=0
for i in $(seq 1 60); do
	curl -s "$SERVER_URL/v1/crl" -o crl2.der
	openssl crl -inform DER -in crl2.der -noout -text | grep -A4 "Serial Number: 0*$B\$" | grep 'Cessation Of Operation' >/dev/null && { ok=1; break; }
	sleep 0.25
done
[ $ok = 1 ] || fail "the CRL does not list $b 15 s after nrfca-admin revoke"
"$BUILD/bin/nrfca-admin" audit verify >/dev/null || fail "audit verify"
server_stop
[ "$SERVER_RC" = 0 ] || fail "server exit status $SERVER_RC"
finish
