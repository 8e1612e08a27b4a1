#!/bin/bash
# The tools an HSM operator already has (issue 15 item 11): README.md's
# offline-signing block, run as written against a test token, signs an
# intermediate CA and an emergency CRL with `openssl` through libp11's
# engine; the results are checked with nrfca's chain (openssl verify, crl
# -verify, nrfca-admin import-chain and check on the intermediate's token).
# usage: engine.sh BUILD
set -uo pipefail
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
. "$SRC/tests/integration/lib/softhsm.sh"
engine=$(find /usr/lib -path '*engines-3/pkcs11.so' 2>/dev/null | head -1)
[ -n "$engine" ] || { echo "SKIP: libp11's engine is not installed (apt-get install libengine-pkcs11-openssl)" >&2; exit 77; }
DIR=$BUILD/tmp/ops-engine.$$
trap 'softhsm_teardown "$DIR"' EXIT
softhsm_setup "$DIR" root-token
softhsm_init_token "$DIR" sub-token || exit 1
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
export PATH=$BUILD/bin:$PATH
unset SOFTHSM2_CONF   # the configurations carry it (token.env)

mkcfg() { # NAME TOKEN: a configuration in DIR
	cat >"$DIR/$1.json" <<CONF
{ "token": { "uri": "pkcs11:token=$2;object=ca-key?module-path=$SOFTHSM_MODULE&pin-source=file:pin",
             "env": { "SOFTHSM2_CONF": "./softhsm2.conf" } },
  "ca": { "chain": "$1-chain.pem" }, "database": "sqlite:$1.db" }
CONF
}
mkcfg root root-token
mkcfg sub sub-token
nrfca-admin --config "$DIR/root.json" init --subject "CN=Engine Test Root,O=nrfca tests" >/dev/null || fail "root init"
nrfca-admin --config "$DIR/sub.json" init --subject "CN=Engine Test Issuing CA" --csr-out "$DIR/intermediate.csr" >/dev/null ||
	fail "intermediate init --csr-out"

# the PIN file ends with a line break: openssl-env says so, the operator removes it
err=$(nrfca-admin --config "$DIR/root.json" openssl-env 2>&1 >/dev/null)
grep -q "PIN file ends with a line break" <<<"$err" || fail "openssl-env does not warn about the line break: $err"
truncate -s -1 "$DIR/pin"
err=$(nrfca-admin --config "$DIR/root.json" openssl-env 2>&1 >/dev/null)
[ -z "$err" ] || fail "openssl-env still warns: $err"
nrfca-admin --config "$DIR/root.json" check >/dev/null || fail "nrfca no longer reads the PIN file without a line break"

# README's block, with the test's configuration in place of /etc/nrfca/nrfca.json
awk '/<!-- test: openssl-engine -->/ { f = 1; next } f && /^```sh/ { b = 1; next } b && /^```/ { exit } b' \
	"$SRC/README.md" | sed "s|/etc/nrfca/nrfca.json|$DIR/root.json|g" >"$DIR/block.sh"
[ "$(wc -l <"$DIR/block.sh")" -gt 10 ] || fail "README's openssl-engine block was not found"
(cd "$DIR" && bash -euo pipefail block.sh) >"$DIR/block.log" 2>&1 || fail "README's block fails: $(tail -5 "$DIR/block.log")"

# the intermediate: verifies with the root, carries the profile of a CA, installs in nrfca
openssl verify -CAfile "$DIR/root-chain.pem" "$DIR/intermediate.pem" >/dev/null 2>&1 || fail "the intermediate does not verify"
text=$(openssl x509 -in "$DIR/intermediate.pem" -noout -text 2>/dev/null)
grep -A1 "Basic Constraints: critical" <<<"$text" | grep "CA:TRUE, pathlen:0" >/dev/null || fail "intermediate basicConstraints"
grep -A1 "Key Usage: critical" <<<"$text" | grep "Certificate Sign, CRL Sign" >/dev/null || fail "intermediate keyUsage"
out=$(nrfca-admin --config "$DIR/sub.json" import-chain "$DIR/intermediate-chain.pem" 2>&1) || fail "import-chain: $out"
out=$(nrfca-admin --config "$DIR/sub.json" check 2>&1) || fail "check of the intermediate's CA: $out"
grep -q "(2 certificate(s), /CN=Engine Test Issuing CA)" <<<"$out" || fail "check does not see the 2-certificate chain: $out"
echo "ok: intermediate signed with openssl + the token, installed in nrfca"

# the emergency CRL: signed by the root key, lists the intermediate, revokes it in a chain check
crl=$DIR/emergency.crl.pem
openssl crl -in "$crl" -noout -verify -CAfile "$DIR/root-chain.pem" 2>&1 | grep "verify OK" >/dev/null || fail "the CRL does not verify"
serial=$(openssl x509 -in "$DIR/intermediate.pem" -noout -serial | cut -d= -f2)
openssl crl -in "$crl" -noout -text | grep -A4 "Serial Number: $serial" | grep "CA Compromise" >/dev/null ||
	fail "the CRL does not list $serial with cACompromise"
out=$(openssl verify -crl_check -CRLfile "$crl" -CAfile "$DIR/root-chain.pem" "$DIR/intermediate.pem" 2>&1) &&
	fail "the revoked intermediate still verifies with the CRL"
grep -q "certificate revoked" <<<"$out" || fail "verify -crl_check: $out"
# nrfca's next CRL has a higher number
num() { openssl crl -in "$1" -noout -crlnumber | sed 's/crlNumber=0x//'; }
nrfca-admin --config "$DIR/root.json" crl --out "$DIR/next.crl.pem" >/dev/null || fail "nrfca-admin crl"
e=$(num "$crl") n=$(num "$DIR/next.crl.pem")
[ "$(printf '%s\n%s\n' "$(printf '%040s' "$e" | tr ' ' 0)" "$(printf '%040s' "$n" | tr ' ' 0)" | sort | tail -1)" = \
  "$(printf '%040s' "$n" | tr ' ' 0)" ] && [ "$e" != "$n" ] || fail "nrfca's next CRL number $n is not above the emergency $e"
echo "ok: emergency CRL signed with openssl + the token; nrfca's next CRL number $n > $e"
[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "engine: all checks passed"
