#!/bin/bash
# The REST API against its document: conformance.py sends a request to every
# route of docs/openapi.yaml (successes and the main errors) to a real
# nrfca-server and checks each status, content type, header and body
# against the document, and that the document covers every route.  This
# script prepares the server, credentials, policy and request bodies.
# usage: conformance.sh BUILD
. "$(dirname "$0")/../server/common.sh" "$1" conf
/usr/bin/python3 -c 'import yaml, jsonschema' 2>/dev/null ||
	{ echo "SKIP: /usr/bin/python3 needs python3-yaml and python3-jsonschema" >&2; exit 77; }
mk_policy "$POLICY" || exit 1
# "once": host-key refusing a second certificate; "limited": one certificate a minute
jq '.profiles.once = (.profiles["host-key"] + {on_existing: "reject"})
  | .profiles.limited = (.profiles["host-key"] + {rate_limit: {per_station_per_minute: 1, per_profile_per_minute: 1}})' \
	"$POLICY" >"$POLICY.new" && mv "$POLICY.new" "$POLICY"
server_setup "$DIR" "$POLICY" || exit 1
cd "$DIR"
server_start "$DIR" || exit 1
cp "$VEC/keygen-csr-sectag17.txt" k17.txt
cp "$VEC/keygen-line-custom-cn.txt" custom.txt
kg=$(cat "$VEC/keygen-line-sectag52.txt")
p1=${kg%%.*}
pos=$((${#p1} - 12))
[ "${kg:$pos:1}" = A ] && nch=B || nch=A
printf '%s\n' "${kg:0:$pos}$nch${kg:$((pos + 1))}" >tampered.txt
for n in a b dry revoked rl1 rl2; do new_csr ec:P-256 "$(uuid)" $n.csr; done
dev=$(uuid)
new_csr ec:P-256 "$dev" once1.csr
new_csr ec:P-256 "$dev" once2.csr
openssl req -in a.csr -outform DER -out sig.der
sz=$(stat -c %s sig.der)
last=$(od -An -tu1 -j $((sz - 1)) -N1 sig.der | tr -d ' ')
{ head -c $((sz - 1)) sig.der; printf "\\$(printf '%03o' $((last ^ 1)))"; } >bad.der
openssl req -inform DER -in bad.der -out badsig.csr 2>/dev/null || fail "cannot re-encode the altered CSR"
# state the cases need: a certificate to list and revoke, a revoked CSR, a
# device holding a certificate under "once", the "limited" token taken
csr_body a.csr a.json
[ "$(req POST /v1/enroll station.token a.json)" = 201 ] || fail "enroll a: $(cat out.json)"
jf serial >serial_a
csr_body revoked.csr r.json
[ "$(req POST /v1/enroll station.token r.json)" = 201 ] || fail "enroll revoked: $(cat out.json)"
printf '{"reason": "keyCompromise"}' >reason.json
[ "$(req POST "/v1/certificates/$(jf serial)/revoke" operator.token reason.json)" = 200 ] || fail "revoke: $(cat out.json)"
csr_body once1.csr o.json once
[ "$(req POST /v1/enroll station.token o.json)" = 201 ] || fail "enroll once: $(cat out.json)"
csr_body rl1.csr l.json limited
[ "$(req POST /v1/enroll station.token l.json)" = 201 ] || fail "enroll limited: $(cat out.json)"
/usr/bin/python3 "$SRC/tests/integration/api/conformance.py" "$SERVER_URL" "$DIR" "$SRC/docs/openapi.yaml" \
	"$SRC/ca-server/http.c" || fail "the server and docs/openapi.yaml disagree (above)"
# the check catches drift: a document missing an error code, requiring a
# field the server does not send, and missing a route is refused (the
# second pass also meets answers changed by the first: only these matter)
/usr/bin/python3 - "$SRC/docs/openapi.yaml" drifted.yaml <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
e = d["paths"]["/v1/enroll"]["post"]["responses"]["409"]["content"]["application/json"]["schema"]["allOf"][1]
e["properties"]["error"]["enum"].remove("certificate_revoked")
d["components"]["schemas"]["Ready"]["required"].append("expires_soon")
del d["paths"]["/v1/ca.der"]
yaml.safe_dump(d, open(sys.argv[2], "w"))
PY
/usr/bin/python3 "$SRC/tests/integration/api/conformance.py" "$SERVER_URL" "$DIR" drifted.yaml \
	"$SRC/ca-server/http.c" >drift.txt 2>&1 && fail "conformance.py accepts a drifted document"
grep -q "enroll revoked CSR.*error.*is not one of" drift.txt || fail "an undocumented error code is not caught: $(grep FAIL drift.txt | head -3)"
grep -q "'expires_soon' is a required property" drift.txt || fail "a missing field is not caught"
grep -q "route GET /v1/ca.der (ca-server/http.c) is not in the document" drift.txt || fail "an undocumented route is not caught"
server_stop
[ "$SERVER_RC" = 0 ] || fail "server exit status $SERVER_RC"
finish
