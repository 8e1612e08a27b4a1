#!/bin/bash
# The public-key path for JWT devices end to end: nrf91-sim's %KEYGEN type 1
# output, the CA's attestation and policy checks (a tampered or forged key is
# refused), the registration in the ledger (kind public_key: listed, fetched,
# replayed by key hash, revoked, never in the CRL), `nrfca provision --profile
# nrf-cloud-jwt` writing only the trust bundle, and the registration call to the
# fake nRF Cloud.  Usage: jwt.sh BUILD SRC
set -uo pipefail
BUILD=$1
src=$2
export BUILD
nrfca=$BUILD/bin/nrfca
sim=$BUILD/bin/nrf91-sim
helper=$BUILD/tests/policy_keygen_helper
for b in "$nrfca" "$sim" "$helper" "$BUILD/bin/nrfca-server" "$BUILD/bin/nrfca-admin" /usr/bin/python3; do
	[ -x "$b" ] || { echo "SKIP: $b not built or installed"; exit 77; }
done
for t in jq openssl curl sqlite3; do
	command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
dir=$BUILD/tmp/jwt.$$
srv=$dir/srv
mkdir -p "$srv"
. "$src/tests/integration/onboard/lib.sh"

# the simulated modems share one identity key, which the profile trusts
start_sim m1 --imei 352656109482011 --identity-key "$dir/identity.key" --identity-pub-out "$dir/identity.pub"
port1=$port
for i in $(seq 1 50); do [ -s "$dir/identity.pub" ] && break; sleep 0.05; done
uuid1=$(jq -r .uuid "$dir/m1.json" 2>/dev/null)

# policy: nrf-cloud-jwt enabled with the identity key; jwt-open the same without
# identity keys (for the real modem's vector, whose identity key Nordic holds)
cp -r "$src/policies/trust" "$dir/trust"
jq --arg id "$dir/identity.pub" '.profiles["nrf-cloud-jwt"].enabled = true
	| .profiles["nrf-cloud-jwt"].attestation.identity_keys = [$id]
	| .profiles["jwt-open"] = (.profiles["nrf-cloud-jwt"] | .enabled = true | del(.attestation.identity_keys))' \
	"$src/policies/default.json" >"$dir/policy.json"
"$BUILD/bin/nrfca-admin" policy check "$dir/policy.json" >/dev/null || { echo "policy refused" >&2; exit 1; }
server_setup "$srv" "$dir/policy.json" || { echo "server setup failed" >&2; exit 1; }
server_start "$srv" || exit 1
fakecloud_start "$dir/cloud" || exit 1

enroll() { # BODYFILE -> $dir/out.json, prints the HTTP status
	curl -s -o "$dir/out.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $(cat "$srv/station.token")" \
		-H 'Content-Type: application/json' --data-binary "@$1" "$SERVER_URL/v1/enroll"
}
body() { # KEYGEN PROFILE OUT
	jq -n --arg k "$1" --arg p "$2" '{keygen: $k, profile: $p}' >"$3"
}
op() { curl -s -H "Authorization: Bearer $(cat "$srv/operator.token")" "$@"; }
spki_sha() { openssl pkey -pubin -outform der 2>/dev/null | sha256sum | cut -d' ' -f1; }

# ---- 1. the simulator's %KEYGEN type 1 output: a public key under the attestation ----
kg=$("$helper" "$port1" 40 "" 1 public-key) || { fail "keygen helper"; exit 1; }
parsed=$("$nrfca" parse "$kg")
[ "$(jq -r .kind <<<"$parsed")" = public_key ] && [ "$(jq -r .payload_id <<<"$parsed")" = 8 ] &&
	[ "$(jq -r .sec_tag <<<"$parsed")" = 40 ] && [ "$(jq -r .device_uuid <<<"$parsed")" = "$uuid1" ] &&
	ok "nrf91-sim %KEYGEN=40,2,1: a public key, payload id 8, sec_tag 40, the modem's UUID" ||
	fail "sim type 1 output: $parsed"

# ---- 2. registered: 201, a registration body (no certificate), recorded as public_key ----
body "$kg" nrf-cloud-jwt "$dir/reg.json"
code=$(enroll "$dir/reg.json")
if [ "$code" = 201 ] && jq -e '.registration == true and .kind == "public_key" and (has("certificate") | not)
	and (.trust_bundle | startswith("-----BEGIN CERTIFICATE-----"))' "$dir/out.json" >/dev/null; then
	ok "registration: 201 with the key and the trust bundle, no certificate"
else
	fail "registration: HTTP $code $(head -c 300 "$dir/out.json")"
fi
serial=$(jq -r .serial "$dir/out.json")
[ "$(jq -r .device_id "$dir/out.json")" = "$uuid1" ] && ok "registration: device id is the attested UUID" ||
	fail "device id $(jq -r .device_id "$dir/out.json")"
want_key=$(jq -r '.credentials[] | select(.sec_tag == 40 and .type == 2) | .public_key_pem' "$dir/m1.json" | spki_sha)
[ "$(jq -r .public_key "$dir/out.json" | spki_sha)" = "$want_key" ] &&
	ok "registration: the key recorded is the modem's key" || fail "registered key differs from the modem's"

# ---- 3. the ledger: listed, fetched, audited; replay by key hash ----
rec=$(op "$SERVER_URL/v1/certificates?kind=public_key&device_id=$uuid1" | jq '.certificates[0]')
[ "$(jq -r .serial <<<"$rec")" = "$serial" ] && [ "$(jq -r .kind <<<"$rec")" = public_key ] &&
	[ "$(jq -r .status <<<"$rec")" = active ] && [ "$(jq -r .profile <<<"$rec")" = nrf-cloud-jwt ] &&
	ok "ledger: listed as kind public_key, active" || fail "list: $rec"
[ "$(op "$SERVER_URL/v1/certificates/$serial" | jq -r .public_key | spki_sha)" = "$want_key" ] &&
	ok "ledger: GET /v1/certificates/{serial} gives the key" || fail "GET one"
code=$(op -o /dev/null -w '%{http_code}' -H 'Accept: application/pem-certificate-chain' "$SERVER_URL/v1/certificates/$serial")
[ "$code" = 406 ] && ok "ledger: a certificate chain of a registration is refused (406)" || fail "PEM accept: $code"
sqlite3 "$srv/nrfca.db" "SELECT detail FROM audit_log WHERE event = 'issue'" | grep "\"kind\":\"public_key\".*\"serial\":\"$serial\"\|\"serial\":\"$serial\".*\"kind\":\"public_key\"" >/dev/null &&
	ok "ledger: the registration is audited (issue, kind public_key)" || fail "audit: $(sqlite3 "$srv/nrfca.db" "SELECT detail FROM audit_log WHERE event = 'issue'" | tail -1)"
code=$(enroll "$dir/reg.json")
[ "$code" = 200 ] && [ "$(jq -r .serial "$dir/out.json")" = "$serial" ] &&
	ok "replay: the same key again is 200 with the same registration" || fail "replay: $code"

# ---- 4. the checks: tampered and forged keys, wrong input, wrong profile ----
p1=${kg%%.*}
cose=${kg#*.}
mid=$(( ${#p1} / 2 ))
c=${p1:mid:1}; [ "$c" = A ] && r=B || r=A
body "${p1:0:mid}$r${p1:mid+1}.$cose" nrf-cloud-jwt "$dir/tampered.json"
code=$(enroll "$dir/tampered.json")
[ "$code" = 400 ] && [ "$(jq -r .error "$dir/out.json")" = keygen_binding ] &&
	ok "a tampered key (attestation digest no longer matches) is refused: 400 keygen_binding" ||
	fail "tampered: $code $(cat "$dir/out.json")"
# a forged key: another key with the attestation's digest made to match it; only the
# identity signature can tell
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/forged.key" 2>/dev/null
openssl pkey -in "$dir/forged.key" -pubout -outform der -out "$dir/forged.der" 2>/dev/null
forged=$(/usr/bin/python3 - "$kg" "$dir/forged.der" <<'PY'
import base64, hashlib, sys
def d(s): return base64.urlsafe_b64decode(s + '=' * (-len(s) % 4))
def e(b): return base64.urlsafe_b64encode(b).rstrip(b'=').decode()
p1, cose = sys.argv[1].split('.')
old, new = d(p1), open(sys.argv[2], 'rb').read()
c = d(cose).replace(hashlib.sha256(old).digest(), hashlib.sha256(new).digest())
print(e(new) + '.' + e(c))
PY
)
body "$forged" nrf-cloud-jwt "$dir/forged.json"
code=$(enroll "$dir/forged.json")
[ "$code" = 403 ] && [ "$(jq -r .rule "$dir/out.json")" = attestation_signature ] &&
	ok "a forged key with a matching digest is refused: 403 attestation_signature" ||
	fail "forged: $code $(cat "$dir/out.json")"
csr=$("$helper" "$port1" 41 "" 1)
body "$csr" nrf-cloud-jwt "$dir/csr.json"
code=$(enroll "$dir/csr.json")
[ "$code" = 403 ] && [ "$(jq -r .rule "$dir/out.json")" = input ] &&
	ok "a CSR to the public-key profile: 403 rule input" || fail "csr: $code $(cat "$dir/out.json")"
body "$kg" nrf-cloud-mqtt "$dir/mqtt.json"
code=$(enroll "$dir/mqtt.json")
[ "$code" = 403 ] && [ "$(jq -r .rule "$dir/out.json")" = payload_id ] &&
	ok "a public key to a certificate profile: 403 rule payload_id" || fail "mqtt: $code"

# ---- 5. the real modem's vector (its identity key is Nordic's): jwt-open registers it ----
body "$(cat "$src/tests/data/vectors/keygen-pubkey-sectag16.txt")" jwt-open "$dir/vec.json"
code=$(enroll "$dir/vec.json")
[ "$code" = 201 ] && [ "$(jq -r .device_id "$dir/out.json")" = 50363154-3931-44f0-8022-121b6401627d ] &&
	[ "$(op "$SERVER_URL/v1/certificates/$(jq -r .serial "$dir/out.json")" | jq -r .csr_sha256)" = \
	  e5a2fc2a315a09d56fb1f774eaca9cb6bffd402efdfe18217547d818232d9656 ] &&
	ok "real modem vector: registered; its replay key is the attested key digest" || fail "vector: $code $(cat "$dir/out.json")"
body "$(cat "$src/tests/data/vectors/keygen-pubkey-sectag16.txt")" nrf-cloud-jwt "$dir/vec2.json"
code=$(enroll "$dir/vec2.json")
[ "$code" = 403 ] && [ "$(jq -r .rule "$dir/out.json")" = attestation_signature ] &&
	ok "real modem vector to nrf-cloud-jwt (identity key not trusted): 403" || fail "vector 2: $code"

# ---- 6. revoked like a certificate, never in the CRL ----
crl_number() { curl -s "$SERVER_URL/v1/crl" | openssl crl -inform der -noout -crlnumber 2>/dev/null | cut -d= -f2; }
crl_before=$(crl_number)
code=$(curl -s -o "$dir/rv.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $(cat "$srv/operator.token")" \
	-H 'Content-Type: application/json' -d '{"reason":"keyCompromise"}' "$SERVER_URL/v1/certificates/$serial/revoke")
[ "$code" = 200 ] && [ "$(op "$SERVER_URL/v1/certificates/$serial" | jq -r .status)" = revoked ] &&
	ok "revoke: the registration is revoked" || fail "revoke: $code $(cat "$dir/rv.json")"
curl -s "$SERVER_URL/v1/crl" -o "$dir/crl.der"
if openssl crl -inform der -in "$dir/crl.der" -noout -text >"$dir/crl.txt" 2>/dev/null; then
	grep -qi "$(echo "$serial" | sed 's/^0*//')" "$dir/crl.txt" && fail "the revoked registration is in the CRL" ||
		ok "CRL: the revoked registration is not listed"
else
	fail "no CRL"
fi
# the revocation mark counts certificates only: the CRL in force stays
[ -n "$crl_before" ] && [ "$(crl_number)" = "$crl_before" ] &&
	ok "CRL: revoking a registration does not make the CRL stale (number $crl_before kept)" ||
	fail "CRL number moved from $crl_before to $(crl_number) after revoking a registration"
code=$(enroll "$dir/reg.json")
[ "$code" = 409 ] && [ "$(jq -r .error "$dir/out.json")" = registration_revoked ] &&
	ok "the revoked key again: 409 registration_revoked" || fail "after revoke: $code"

# ---- 7. nrfca provision --profile nrf-cloud-jwt --onboard: trust bundle only, key to nRF Cloud ----
start_sim m2 --imei 352656109482029 --identity-key "$dir/identity.key"
uuid2=$(jq -r .uuid "$dir/m2.json")
timeout 120 "$nrfca" provision --port "$port" --server "$SERVER_URL" --token-file "$srv/station.token" \
	--journal "$dir/journal" --profile nrf-cloud-jwt --csv "$dir/keys.csv" --onboard \
	--api-key-file "$dir/cloud/api.key" --cloud-endpoint "$CLOUD_URL" >"$dir/stdout" 2>"$dir/stderr"
rc=$?
if [ $rc = 0 ]; then
	types=$(jq -c '[.credentials[] | select(.sec_tag == 16842753) | .type] | sort' "$dir/m2.json")
	[ "$types" = "[0,2]" ] && ok "provision --profile nrf-cloud-jwt: the modem holds its key and the trust bundle, no certificate" ||
		fail "modem credentials: $types"
	tb=$(jq -r '.credentials[] | select(.sec_tag == 16842753 and .type == 0) | .content' "$dir/m2.json" | tr -d '\r')
	[ "$tb" = "$(cat "$src/policies/trust/aws-root-ca1.pem" "$src/policies/trust/nrfcloud-coap-ca.pem")" ] &&
		ok "the trust bundle written is the profile's (AWS, then CoAP root)" || fail "trust bundle differs"
	k2=$(jq -r '.credentials[] | select(.sec_tag == 16842753 and .type == 2) | .public_key_pem' "$dir/m2.json" | spki_sha)
	[ "$(fakecloud_state | jq -r --arg d "$uuid2" '.public_keys[$d] // empty' | spki_sha)" = "$k2" ] &&
		ok "nRF Cloud has the modem's public key (RegisterPublicKeys)" || fail "cloud key: $(fakecloud_state | jq -c .public_keys | head -c 200)"
	[ "$(fakecloud_log | jq '[.[] | select(.path == "/v1/devices/public-keys" and .status == 202)] | length')" -ge 1 ] &&
		ok "the key went to POST /v1/devices/public-keys" || fail "no RegisterPublicKeys call"
	grep -q "registered the public key of $uuid2" "$dir/stdout" && grep -q "public key registered" "$dir/stdout" &&
		ok "the summary says registered" || fail "summary: $(cat "$dir/stdout")"
	[ "$(op "$SERVER_URL/v1/certificates?kind=public_key&device_id=$uuid2" | jq '.certificates | length')" = 1 ] &&
		ok "the ledger holds the registration" || fail "ledger for $uuid2"
	grep -q "^$uuid2,\"-----BEGIN PUBLIC KEY-----" "$dir/keys.csv" && ok "--csv holds the public-key row" || fail "keys.csv"
else
	fail "provision --profile nrf-cloud-jwt: exit $rc: $(tail -3 "$dir/stderr")"
fi
# the public-key file is what nrfca onboard --public-keys takes
timeout 60 "$nrfca" onboard --csv "$dir/keys.csv" --public-keys --api-key-file "$dir/cloud/api.key" \
	--endpoint "$CLOUD_URL" --poll-interval 0.1 >"$dir/stdout" 2>"$dir/stderr" &&
	grep -q "1 OK" "$dir/stdout" && ok "nrfca onboard --public-keys takes the provisioning's file" ||
	fail "onboard --public-keys: $(cat "$dir/stderr")"

# ---- 8. a new key for the device supersedes the registration ----
timeout 120 "$nrfca" provision --port "$port" --server "$SERVER_URL" --token-file "$srv/station.token" \
	--journal "$dir/journal" --profile nrf-cloud-jwt --replace >"$dir/stdout" 2>"$dir/stderr"
recs=$(op "$SERVER_URL/v1/certificates?kind=public_key&device_id=$uuid2")
[ "$(jq '[.certificates[] | select(.status == "active")] | length' <<<"$recs")" = 1 ] &&
	[ "$(jq '[.certificates[] | select(.revocation_reason == "superseded")] | length' <<<"$recs")" = 1 ] &&
	ok "provisioned again with a new key: one active registration, the old one superseded" ||
	fail "supersede: $(jq -c '[.certificates[] | {status, revocation_reason}]' <<<"$recs")"

finish "jwt tests"
