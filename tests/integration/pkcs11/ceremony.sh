#!/bin/bash
# Key ceremony on a fresh private token, then every kind of bad token input.
set -uo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/softhsm.sh"
dir=$build/tmp/pkcs11-ceremony.$$
trap 'softhsm_teardown "$dir"' EXIT
softhsm_setup "$dir" ceremony-test
admin=$build/bin/nrfca-admin
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# config with a different token URI
cfg_with_uri() {
	local name=$1 uri=$2 extra=${3:-}
	cat >"$dir/$name.json" <<CONF
{ "token": { "uri": "$uri" $extra }, "ca": { "chain": "$dir/ca-chain.pem" } }
CONF
	echo "$dir/$name.json"
}

# expect_error NAME CONFIG PATTERN: check fails with exit 1 and one line naming the problem
expect_error() {
	local what=$1 cfg=$2 pattern=$3 out rc
	out=$("$admin" --config "$cfg" check 2>&1 >/dev/null); rc=$?
	if [ $rc -eq 0 ]; then fail "$what: check succeeded"; return; fi
	if [ "$(printf '%s\n' "$out" | wc -l)" -ne 1 ]; then fail "$what: expected one line, got: $out"; fi
	if ! printf '%s' "$out" | grep -iE "$pattern" >/dev/null; then fail "$what: '$out' does not match /$pattern/"; fi
	echo "ok: $what -> $out"
}

# 1. the ceremony
"$admin" --config "$dir/nrfca.json" init --subject "CN=Ceremony Root,O=nrfca tests" --days 3650 --pathlen 0 \
	|| fail "init failed"
openssl verify -CAfile "$dir/ca-chain.pem" "$dir/ca-chain.pem" >/dev/null || fail "openssl verify rejects the root"
text=$(openssl x509 -in "$dir/ca-chain.pem" -noout -text)
grep -A1 "Basic Constraints: critical" <<<"$text" | grep "CA:TRUE, pathlen:0" >/dev/null || fail "basicConstraints wrong"
grep -A1 "Key Usage: critical" <<<"$text" | grep "Certificate Sign, CRL Sign" >/dev/null || fail "keyUsage wrong"
grep -q "Subject Key Identifier" <<<"$text" || fail "no SKI"
grep -q "Subject: CN = Ceremony Root, O = nrfca tests" <<<"$text" || fail "subject wrong"
"$admin" --config "$dir/nrfca.json" check >/dev/null || fail "check fails after init"

# 2. an independent witness: pkcs11-tool reads the key's attributes
if command -v pkcs11-tool >/dev/null; then
	attrs=$(NRFCA_TEST_PIN=$(cat "$dir/pin") pkcs11-tool --module "$SOFTHSM_MODULE" --token-label ceremony-test --login --pin env:NRFCA_TEST_PIN \
		--list-objects --type privkey 2>/dev/null)
	grep -q "never extractable" <<<"$attrs" || fail "pkcs11-tool does not report never extractable: $attrs"
	grep -q "always sensitive" <<<"$attrs" || fail "pkcs11-tool does not report always sensitive"
	grep -q "Usage:.*sign" <<<"$attrs" || fail "key cannot sign"
	grep -qE "Usage:.*(decrypt|unwrap|derive)" <<<"$attrs" && fail "key allows decrypt/unwrap/derive: $attrs"
	echo "ok: pkcs11-tool: $(grep -E 'Access|Usage' <<<"$attrs" | tr -s ' ' | tr '\n' ';')"
else
	fail "pkcs11-tool (opensc) is not installed"
fi

# 3. a second init refuses and keeps the key and the chain
before=$(sha256sum "$dir/ca-chain.pem")
out=$("$admin" --config "$dir/nrfca.json" init 2>&1); rc=$?
[ $rc -ne 0 ] || fail "second init succeeded"
grep -q "exists already" <<<"$out" || fail "second init message: $out"
mv "$dir/ca-chain.pem" "$dir/ca-chain.keep"
out=$("$admin" --config "$dir/nrfca.json" init 2>&1); rc=$?
[ $rc -ne 0 ] || fail "init with an existing key succeeded"
grep -q "already holds an object labelled 'ca-key'" <<<"$out" || fail "existing-key message: $out"
mv "$dir/ca-chain.keep" "$dir/ca-chain.pem"
[ "$before" = "$(sha256sum "$dir/ca-chain.pem")" ] || fail "the chain changed"
echo "ok: second init refused: $out"

# 4. P-384 and an external root: CSR, signed by another CA, imported
softhsm_init_token "$dir" p384 || fail "cannot make the p384 token"
uri384="pkcs11:token=p384;object=ca-key?module-path=$SOFTHSM_MODULE&pin-source=file:$dir/pin"
cat >"$dir/p384.json" <<CONF
{ "token": { "uri": "$uri384" }, "ca": { "chain": "$dir/p384-chain.pem" } }
CONF
"$admin" --config "$dir/p384.json" init --curve P-384 --subject "CN=Issuing CA" --csr-out "$dir/p384.csr" >/dev/null \
	|| fail "init --csr-out failed"
openssl req -in "$dir/p384.csr" -verify -noout 2>/dev/null || fail "the CA CSR does not verify"
openssl req -in "$dir/p384.csr" -noout -text | grep "P-384" >/dev/null || fail "the CA CSR is not P-384"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/ext.key" -out "$dir/ext.pem" \
	-subj "/CN=External Root" -days 30 -addext "basicConstraints=critical,CA:TRUE" 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$dir/ext.cnf"
openssl x509 -req -in "$dir/p384.csr" -CA "$dir/ext.pem" -CAkey "$dir/ext.key" -days 20 -extfile "$dir/ext.cnf" \
	-out "$dir/issued.pem" 2>/dev/null
cat "$dir/issued.pem" "$dir/ext.pem" >"$dir/import.pem"
"$admin" --config "$dir/p384.json" import-chain "$dir/import.pem" >/dev/null || fail "import-chain failed"
"$admin" --config "$dir/p384.json" check >/dev/null || fail "check fails after import-chain"
# a chain for another key is refused
out=$("$admin" --config "$dir/p384.json" import-chain "$dir/ca-chain.pem" 2>&1) && fail "foreign chain imported"
grep -q "does not hold the token's key" <<<"$out" || fail "foreign chain message: $out"
echo "ok: P-384 key, external root, import-chain; foreign chain refused: $out"

# 5. bad input: each a one-line error naming the problem, non-zero exit
expect_error "malformed URI" "$(cfg_with_uri bad1 "pkcs11:token=x;bogus=1?module-path=$SOFTHSM_MODULE")" "unknown attribute 'bogus'"
expect_error "not a pkcs11 URI" "$(cfg_with_uri bad2 "http://x")" "must start with 'pkcs11:'"
expect_error "bad escape" "$(cfg_with_uri bad3 "pkcs11:token=a%zz?module-path=$SOFTHSM_MODULE")" "invalid %-escape"
expect_error "missing module" "$(cfg_with_uri bad4 "pkcs11:token=ceremony-test;object=ca-key?module-path=/nonexistent/mod.so&pin-source=file:$dir/pin")" "cannot load PKCS#11 module /nonexistent/mod.so"
expect_error "unknown token" "$(cfg_with_uri bad5 "pkcs11:token=nosuch;object=ca-key?module-path=$SOFTHSM_MODULE&pin-source=file:$dir/pin")" "no token with label 'nosuch'"
expect_error "missing key" "$(cfg_with_uri bad6 "pkcs11:token=ceremony-test;object=other-key?module-path=$SOFTHSM_MODULE&pin-source=file:$dir/pin")" "no private key labelled 'other-key'"
umask 077; printf '999999\n' >"$dir/wrongpin"; umask 022
spylog=$dir/spy.log
spy=$(ls /usr/lib/*/pkcs11/pkcs11-spy.so 2>/dev/null | head -1)
if [ -n "$spy" ]; then
	PKCS11SPY=$SOFTHSM_MODULE PKCS11SPY_OUTPUT=$spylog expect_error "wrong PIN" \
		"$(cfg_with_uri bad7 "pkcs11:token=ceremony-test;object=ca-key?module-path=$spy&pin-source=file:$dir/wrongpin")" "CKR_PIN_INCORRECT.*not retried"
	n=$(grep -c "C_Login" "$spylog" || true)
	[ "$n" = 1 ] || fail "wrong PIN: $n login attempts (expected exactly 1)"
	echo "ok: wrong PIN: exactly $n C_Login call (counted by pkcs11-spy)"
else
	expect_error "wrong PIN" "$(cfg_with_uri bad7 "pkcs11:token=ceremony-test;object=ca-key?module-path=$SOFTHSM_MODULE&pin-source=file:$dir/wrongpin")" "CKR_PIN_INCORRECT"
fi
expect_error "unreadable PIN file" "$(cfg_with_uri bad8 "pkcs11:token=ceremony-test;object=ca-key?module-path=$SOFTHSM_MODULE&pin-source=file:$dir/nopin")" "cannot open PIN file"
cp "$dir/pin" "$dir/openpin"; chmod 644 "$dir/openpin"
expect_error "PIN file readable by others" "$(cfg_with_uri bad9 "pkcs11:token=ceremony-test;object=ca-key?module-path=$SOFTHSM_MODULE&pin-source=file:$dir/openpin")" "accessible by group or others"
ok=$(cfg_with_uri ok9 "pkcs11:token=ceremony-test;object=ca-key?module-path=$SOFTHSM_MODULE&pin-source=file:$dir/openpin" ', "allow_insecure_pin_file": true')
"$admin" --config "$ok" check >/dev/null || fail "allow_insecure_pin_file does not allow the open PIN file"
expect_error "inline PIN" "$(cfg_with_uri bad10 "pkcs11:token=ceremony-test;object=ca-key?module-path=$SOFTHSM_MODULE&pin-value=123456")" "carries the PIN inline"
expect_error "no PIN source" "$(cfg_with_uri bad11 "pkcs11:token=ceremony-test;object=ca-key?module-path=$SOFTHSM_MODULE")" "no PIN source"
NRFCA_TEST_PIN=123456 "$admin" --config "$(cfg_with_uri env "pkcs11:token=ceremony-test;object=ca-key?module-path=$SOFTHSM_MODULE" ', "pin_env": "NRFCA_TEST_PIN"')" check >/dev/null \
	|| fail "PIN from the environment variable does not work"

if [ $fails -ne 0 ]; then echo "$fails failure(s)"; exit 1; fi
echo "ceremony: all checks passed"
