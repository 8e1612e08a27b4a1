#!/bin/bash
# The CRL: a CA with nothing revoked does not re-sign it on every tick (it
# used to, every 10 s); CRL distribution point and caIssuers URLs of a
# profile, followed by a relying party (openssl).
# usage: crl.sh BUILD
. "$(dirname "$0")/../server/common.sh" "$1" crl
setup_with_policy || exit 1
cd "$DIR"
server_start "$DIR" || exit 1
crl_number() { openssl crl -inform DER -in "$1" -noout -crlnumber | sed 's/crlNumber=//; s/^0x//'; }

# 1. nothing revoked: the CRL stays the same across the server's 10 s tick
curl -sf "$SERVER_URL/v1/crl" -o empty0.der || fail "GET /v1/crl"
n0=$(crl_number empty0.der)
signed0=$(grep -c '"event":"crl_signed"' server.log)
sleep 11
curl -sf "$SERVER_URL/v1/crl" -o empty1.der || fail "GET /v1/crl"
n1=$(crl_number empty1.der)
signed1=$(grep -c '"event":"crl_signed"' server.log)
[ "$n0" = "$n1" ] && cmp -s empty0.der empty1.der ||
	fail "the CRL of a CA with nothing revoked was re-signed within 11 s (number $n0 -> $n1)"
[ "$signed0" = "$signed1" ] || fail "crl_signed logged $((signed1 - signed0)) more time(s) with nothing revoked"

# 2. CRL distribution point and caIssuers URLs from the profile, pointing at
#    this server; a relying party that follows them gets the CRL and the CA
jq --arg crl "$SERVER_URL/v1/crl" --arg ca "$SERVER_URL/v1/ca.der" '
  .profiles["nrf-cloud-mqtt"].extensions = {
    crl_distribution_points: [$crl], authority_info_access: { ca_issuers: [$ca] } }' "$POLICY" >p2.json
cp p2.json "$POLICY"
kill -HUP "$SERVER_PID"
for i in $(seq 1 100); do grep -q '"event":"policy_reloaded"' server.log && break; sleep 0.05; done
grep -q '"event":"policy_reloaded"' server.log || fail "the policy with URLs was not reloaded"
jq -n --arg k "$(cat "$VEC/keygen-csr-sectag17.txt")" '{keygen: $k}' >k17.json
[ "$(req POST /v1/enroll station.token k17.json)" = 201 ] || fail "enroll: $(cat out.json)"
jf certificate >k17.pem
t=$(openssl x509 -in k17.pem -noout -text)
cdp=$(grep -A3 'X509v3 CRL Distribution Points' <<<"$t" | grep -o 'URI:.*' | sed 's/^URI://')
aia=$(grep -A2 'Authority Information Access' <<<"$t" | grep -o 'CA Issuers - URI:.*' | sed 's/^CA Issuers - URI://')
[ "$cdp" = "$SERVER_URL/v1/crl" ] || fail "CRL distribution point '$cdp', want $SERVER_URL/v1/crl"
[ "$aia" = "$SERVER_URL/v1/ca.der" ] || fail "caIssuers '$aia', want $SERVER_URL/v1/ca.der"
grep -q 'X509v3 CRL Distribution Points: critical' <<<"$t" && fail "cRLDistributionPoints is critical"
curl -s -D aiahdr.txt "$aia" -o issuer.der
grep -qi '^Content-Type: *application/pkix-cert' aiahdr.txt || fail "caIssuers content type: $(cat aiahdr.txt)"
openssl x509 -inform DER -in issuer.der -out issuer.pem 2>/dev/null || fail "caIssuers is not a DER certificate"
openssl verify -CAfile issuer.pem k17.pem >/dev/null 2>&1 || fail "the certificate does not verify with its caIssuers certificate"
curl -s "$cdp" -o dp.der
openssl crl -inform DER -in dp.der -out dp.pem 2>/dev/null || fail "the distribution point does not serve a DER CRL"
openssl verify -crl_check -CRLfile dp.pem -CAfile issuer.pem k17.pem >/dev/null 2>&1 ||
	fail "openssl verify -crl_check with the CRL from the distribution point"

server_stop
[ "$SERVER_RC" = 0 ] || fail "server exit status $SERVER_RC"
finish
