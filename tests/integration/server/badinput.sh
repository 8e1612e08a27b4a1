#!/bin/bash
# Bad enrollment input: each refused with its documented status and error code
# (README.md), the server still serving (/v1/health 200) and nothing recorded.
# usage: badinput.sh BUILD
. "$(dirname "$0")/common.sh" "$1" badinput
setup_with_policy || exit 1
cd "$DIR"
server_start "$DIR" || exit 1
kg=$(cat "$VEC/keygen-csr-sectag17.txt")
# one good certificate first, so "nothing recorded" compares against a non-empty ledger
jq -n --arg k "$kg" '{keygen: $k}' >good.json
[ "$(req POST /v1/enroll station.token good.json)" = 201 ] || fail "good enrollment: $(cat out.json)"
n0=$(cert_count)
[ "$n0" = 1 ] || fail "ledger count $n0 after one enrollment"

# check NAME STATUS ERROR [RULE] -- curl arguments: the request
check() {
	local name=$1 want=$2 err=$3 rule=$4 c
	shift 4
	c=$(curl -s -o out.json -D hdr.txt -w '%{http_code}' --max-time 30 "$@")
	[ "$c" = "$want" ] || fail "$name: HTTP $c, want $want: $(head -c 300 out.json)"
	[ -z "$err" ] || [ "$(jf error)" = "$err" ] || fail "$name: error '$(jf error)', want $err"
	[ -z "$rule" ] || [ "$(jf rule)" = "$rule" ] || fail "$name: rule '$(jf rule)', want $rule"
	[ -z "$err" ] || [ -n "$(jf detail)" ] || fail "$name: no detail sentence"
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/v1/health")" = 200 ] || fail "$name: not serving afterwards"
	[ "$(cert_count)" = "$n0" ] || fail "$name: something was recorded"
}
AUTH=(-H "Authorization: Bearer $(cat station.token)")
J=(-H 'Content-Type: application/json')
E=$SERVER_URL/v1/enroll
post() { printf '%s' "$1" >body.bin; }

check "empty body" 400 empty_body "" "${AUTH[@]}" "${J[@]}" -X POST --data-binary '' "$E"
post 'this is not JSON'; check "not JSON" 400 invalid_json "" "${AUTH[@]}" "${J[@]}" --data-binary @body.bin "$E"
post '{"keygen": 5}'; check "keygen a number" 400 invalid_request "" "${AUTH[@]}" "${J[@]}" --data-binary @body.bin "$E"
post '{"csr": ["x"]}'; check "csr an array" 400 invalid_request "" "${AUTH[@]}" "${J[@]}" --data-binary @body.bin "$E"
jq -n --arg k "$kg" '{keygen: $k, profile: 7}' >body.bin
check "profile a number" 400 invalid_request "" "${AUTH[@]}" "${J[@]}" --data-binary @body.bin "$E"
post '[1, 2]'; check "top-level array" 400 invalid_request "" "${AUTH[@]}" "${J[@]}" --data-binary @body.bin "$E"
post '{}'; check "no keygen or csr" 400 invalid_request "" "${AUTH[@]}" "${J[@]}" --data-binary @body.bin "$E"
post '{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":1}}}}}}}}}}'
check "JSON too deep" 400 invalid_json "" "${AUTH[@]}" "${J[@]}" --data-binary @body.bin "$E"
{ printf '{"keygen": "'; head -c 66560 /dev/zero | tr '\0' A; printf '"}'; } >body.bin
check "65 KiB body" 413 too_large "" "${AUTH[@]}" "${J[@]}" --data-binary @body.bin "$E"
jq -n --arg k "${kg:0:100}\$%^*${kg:105}" '{keygen: $k}' >body.bin
check "invalid base64url" 400 invalid_keygen "" "${AUTH[@]}" "${J[@]}" --data-binary @body.bin "$E"
jq -n --arg k "${kg:0:$((${#kg} * 2 / 3))}" '{keygen: $k}' >body.bin
check "truncated %KEYGEN" 400 invalid_keygen "" "${AUTH[@]}" "${J[@]}" --data-binary @body.bin "$E"
# flip one base64url character near the end of part 1 (the CSR's signature)
p1=${kg%%.*}
pos=$((${#p1} - 12))
ch=${kg:$pos:1}
[ "$ch" = A ] && nch=B || nch=A
jq -n --arg k "${kg:0:$pos}$nch${kg:$((pos + 1))}" '{keygen: $k}' >body.bin
check "digest mismatch" 400 keygen_binding "" "${AUTH[@]}" "${J[@]}" --data-binary @body.bin "$E"
# plain CSRs through the host-key profile
post '{"profile": "host-key", "csr": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}'
check "malformed CSR" 400 invalid_csr "" "${AUTH[@]}" "${J[@]}" --data-binary @body.bin "$E"
new_csr ec:P-256 "$(uuid)" sig.csr
openssl req -in sig.csr -outform DER -out sig.der
sz=$(stat -c %s sig.der)
last=$(od -An -tu1 -j $((sz - 1)) -N1 sig.der | tr -d ' ')
{ head -c $((sz - 1)) sig.der; printf "\\$(printf '%03o' $((last ^ 1)))"; } >bad.der
openssl req -inform DER -in bad.der -out bad.csr 2>/dev/null || fail "cannot re-encode the altered CSR"
csr_body bad.csr body.bin
check "CSR bad signature" 400 csr_signature "" "${AUTH[@]}" "${J[@]}" --data-binary @body.bin "$E"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout sha1.key -sha1 \
	-subj "/CN=$(uuid)" -out sha1.csr 2>/dev/null || fail "openssl cannot make a SHA-1 CSR"
csr_body sha1.csr body.bin
check "CSR signed with SHA-1" 400 invalid_csr "" "${AUTH[@]}" "${J[@]}" --data-binary @body.bin "$E"
grep -q 'ecdsa-with-SHA1' out.json || fail "the SHA-1 refusal does not name the algorithm: $(cat out.json)"
new_csr rsa:2048 "$(uuid)" rsa.csr; csr_body rsa.csr body.bin
check "RSA key" 403 policy_denied key_type "${AUTH[@]}" "${J[@]}" --data-binary @body.bin "$E"
new_csr ec:P-384 "$(uuid)" p384.csr; csr_body p384.csr body.bin
check "P-384 key" 403 policy_denied key_curve "${AUTH[@]}" "${J[@]}" --data-binary @body.bin "$E"
jq -n --arg k "$(cat "$VEC/keygen-line-custom-cn.txt")" '{keygen: $k}' >body.bin
check "CN not the attested UUID" 403 policy_denied cn_uuid "${AUTH[@]}" "${J[@]}" --data-binary @body.bin "$E"
jq -n --arg k "$(cat "$VEC/keygen-line-sectag52.txt")" '{keygen: $k, profile: "no-such-profile"}' >body.bin
check "unknown profile" 403 policy_denied profile_unknown "${AUTH[@]}" "${J[@]}" --data-binary @body.bin "$E"
jq -n --arg k "$(cat "$VEC/keygen-line-sectag52.txt")" '{keygen: $k}' >body.bin
check "wrong Content-Type" 415 unsupported_media_type "" "${AUTH[@]}" -H 'Content-Type: text/plain' --data-binary @body.bin "$E"
check "unknown route" 404 "" "" "${AUTH[@]}" "$SERVER_URL/v1/nope"
check "wrong method" 405 "" "" "${AUTH[@]}" "$E"
grep -qi '^Allow: *POST' hdr.txt || fail "405 without Allow: POST: $(cat hdr.txt)"
check "wrong method on /v1/crl" 405 "" "" -X DELETE "$SERVER_URL/v1/crl"
grep -qi '^Allow: *GET' hdr.txt || fail "405 without Allow: GET: $(cat hdr.txt)"
# the valid sectag52 request is still accepted after all that
[ "$(req POST /v1/enroll station.token body.bin)" = 201 ] || fail "good request afterwards: $(cat out.json)"
server_stop
[ "$SERVER_RC" = 0 ] || fail "server exit status $SERVER_RC"
finish
