#!/bin/bash
# A configuration is self-contained (issue 15, "token environment" and
# "policy" findings): from a new shell in any directory, with no
# SOFTHSM2_CONF, `nrfca-admin --config F` works when F carries token.env;
# every relative path (PIN file included) is relative to F; without
# token.env the "no token" error names SOFTHSM2_CONF and token.env; a policy
# copied anywhere finds its trust bundles in trust_dir (default: the shipped
# folder).
# usage: selfcontained.sh BUILD
set -uo pipefail
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
. "$SRC/tests/integration/lib/softhsm.sh"
DIR=$BUILD/tmp/ops-selfcontained.$$
trap 'softhsm_teardown "$DIR"' EXIT
softhsm_setup "$DIR/ca" sc-test   # the token, its softhsm2.conf and a PIN file in DIR/ca
command -v jq >/dev/null || { echo "SKIP: jq is not installed" >&2; exit 77; }
A=$BUILD/bin/nrfca-admin
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# a new shell: nothing inherited but PATH
fresh() { (cd / && env -i PATH=/usr/bin:/bin HOME=/nonexistent "$@"); }

# the policy, copied away from the shipped folder, as its description suggests
mkdir -p "$DIR/policies-elsewhere"
cp "$SRC/policies/default.json" "$DIR/policies-elsewhere/mine.json"
cfg=$DIR/ca/nrfca.json
cat >"$cfg" <<CONF
{
  "listen": { "address": "127.0.0.1", "port": 0 },
  "token": {
    "uri": "pkcs11:token=sc-test;object=ca-key?module-path=$SOFTHSM_MODULE&pin-source=file:pin",
    "env": { "SOFTHSM2_CONF": "./softhsm2.conf" }
  },
  "ca": { "chain": "ca-chain.pem" },
  "database": "sqlite:nrfca.db",
  "policy": "../policies-elsewhere/mine.json"
}
CONF

# 1. the ceremony and check from / in a new shell, relative everything
out=$(fresh "$A" --config "$cfg" init --subject "CN=Self-contained Root" 2>&1) || fail "init from a new shell: $out"
[ -f "$DIR/ca/ca-chain.pem" ] || fail "the chain is not next to the configuration"
out=$(fresh "$A" --config "$cfg" check 2>&1) || fail "check from a new shell: $out"
grep -q "^ok    the policy .*mine.json loads" <<<"$out" || fail "the copied policy does not load: $out"
grep -q "sqlite:$DIR/ca/nrfca.db" <<<"$out" || fail "the database is not next to the configuration: $out"
echo "ok: init and check from / in a new shell (token.env, pin-source=file:pin, relative paths)"

# 2. the configuration wins over an inherited SOFTHSM2_CONF that points elsewhere
out=$(fresh env SOFTHSM2_CONF=/nonexistent/softhsm2.conf "$A" --config "$cfg" check 2>&1) ||
	fail "token.env does not override an inherited SOFTHSM2_CONF: $out"

# 3. without token.env the error names the cause
jq 'del(.token.env)' "$cfg" >"$DIR/ca/noenv.json"
out=$(fresh "$A" --config "$DIR/ca/noenv.json" check 2>&1); rc=$?
[ $rc -eq 1 ] || fail "check without token.env: exit $rc"
grep -q "no token with label 'sc-test'" <<<"$out" || fail "no-token message: $out"
grep -q "SOFTHSM2_CONF is not set" <<<"$out" || fail "the message does not name SOFTHSM2_CONF: $out"
grep -q "token.env.SOFTHSM2_CONF" <<<"$out" || fail "the message does not name token.env: $out"
out=$(fresh env SOFTHSM2_CONF=/nonexistent/softhsm2.conf "$A" --config "$DIR/ca/noenv.json" check 2>&1)
grep -q "SOFTHSM2_CONF=/nonexistent/softhsm2.conf" <<<"$out" || fail "a wrong inherited SOFTHSM2_CONF is not named: $out"
echo "ok: without token.env: $(head -1 <<<"$out" | cut -c1-160)"

# 4. a relative PIN file that is missing is named with the configuration's folder
jq '.token.uri |= sub("pin-source=file:pin"; "pin-source=file:nopin")' "$cfg" >"$DIR/ca/nopin.json"
out=$(fresh "$A" --config "$DIR/ca/nopin.json" check 2>&1)
grep -q "cannot open PIN file $DIR/ca/nopin" <<<"$out" || fail "missing relative PIN file: $out"
# token.env is checked
jq '.token.env = {"BAD NAME": "x"}' "$cfg" >"$DIR/ca/badenv.json"
out=$(fresh "$A" --config "$DIR/ca/badenv.json" check 2>&1)
grep -q "token.env: 'BAD NAME' is not an environment variable name" <<<"$out" || fail "bad env name: $out"

# 5. trust_dir: relative to the policy file; a missing bundle says where it looked
mkdir -p "$DIR/policies-elsewhere/roots"
cp "$SRC/policies/trust/"*.pem "$DIR/policies-elsewhere/roots/"
jq '.trust_dir = "roots"' "$SRC/policies/default.json" >"$DIR/policies-elsewhere/own-roots.json"
out=$(fresh "$A" policy check "$DIR/policies-elsewhere/own-roots.json" 2>&1) || fail "trust_dir roots: $out"
rm "$DIR/policies-elsewhere/roots/nrfcloud-coap-ca.pem"
out=$(fresh "$A" policy check "$DIR/policies-elsewhere/own-roots.json" 2>&1)
grep -q "cannot open $DIR/policies-elsewhere/roots/nrfcloud-coap-ca.pem.*relative to trust_dir" <<<"$out" || fail "missing bundle: $out"
echo "ok: trust_dir"

# 6. the server runs from / on the same relative configuration
port_file=$DIR/port
(cd / && exec env -i PATH=/usr/bin:/bin "$BUILD/bin/nrfca-server" --config "$cfg" --port-file "$port_file" 2>"$DIR/server.log") &
pid=$!
for i in $(seq 1 200); do [ -s "$port_file" ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.05; done
if [ -s "$port_file" ]; then
	code=$(curl -s -o "$DIR/ready.json" -w '%{http_code}' "http://127.0.0.1:$(cat "$port_file")/v1/ready")
	[ "$code" = 200 ] || fail "the server is not ready: $code $(cat "$DIR/ready.json")"
else
	fail "the server did not start: $(tail -3 "$DIR/server.log")"
fi
kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null
[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "selfcontained: all checks passed"
