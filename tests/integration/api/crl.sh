#!/bin/bash
# The CRL: a CA with nothing revoked does not re-sign it on every tick (it
# used to, every 10 s); CRL distribution point and caIssuers URLs of a
# profile, followed by a relying party (openssl); a revocation by another
# process is served at once; nrfca-admin crl publishes what the server serves.
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

# 3. another process revokes (nrfca-admin revoke): the very next GET /v1/crl
#    lists it, without waiting for a tick
serial=$(jf serial)
S=$(tr a-f A-F <<<"$serial" | sed 's/^0*//')
"$BUILD/bin/nrfca-admin" revoke --reason keyCompromise "$serial" >revoke.txt 2>&1 || fail "nrfca-admin revoke: $(cat revoke.txt)"
curl -s "$SERVER_URL/v1/crl" -o after-revoke.der
openssl crl -inform DER -in after-revoke.der -noout -text | grep -A4 "Serial Number: 0*$S\$" | grep -q 'Key Compromise' ||
	fail "GET /v1/crl right after nrfca-admin revoke does not list $serial"
openssl crl -inform DER -in after-revoke.der -noout -verify -CAfile issuer.pem 2>&1 | grep -q 'verify OK' ||
	fail "the CRL served after nrfca-admin revoke does not verify"

# 4. nrfca-admin crl publishes through the ledger: the server serves that very
#    CRL (same bytes), and says so; it is audited
"$BUILD/bin/nrfca-admin" crl --der --out admin.der 2>admin-crl.txt || fail "nrfca-admin crl: $(cat admin-crl.txt)"
grep -q 'published CRL number' admin-crl.txt || fail "nrfca-admin crl does not say it published: $(cat admin-crl.txt)"
curl -s "$SERVER_URL/v1/crl" -o served.der
cmp -s admin.der served.der || fail "GET /v1/crl does not serve the CRL nrfca-admin crl made ($(crl_number admin.der) vs $(crl_number served.der))"
na=$(crl_number admin.der)
[ $((16#$na)) -gt $((16#$(crl_number after-revoke.der))) ] || fail "nrfca-admin crl did not make a newer CRL"
"$BUILD/bin/nrfca-admin" audit list --event crl_publish --json | jq -c .detail >crl-audit.txt
[ "$(jq -r .sha256 crl-audit.txt)" = "$(sha256sum admin.der | cut -d' ' -f1)" ] || fail "crl_publish audit entry: $(cat crl-audit.txt)"
# and the server did not sign one of its own meanwhile
n_signed=$(grep -c '"event":"crl_signed"' server.log)
curl -s "$SERVER_URL/v1/crl" -o served2.der
cmp -s admin.der served2.der && [ "$(grep -c '"event":"crl_signed"' server.log)" = "$n_signed" ] ||
	fail "the server re-signed instead of serving the published CRL"

# 5. a restart signs a fresh CRL: a higher number than any served before (a
#    ledger restored from a backup holds an older published CRL), the same
#    revocations, and it is the CRL published for every process
server_stop
server_start "$DIR" || exit 1
curl -s "$SERVER_URL/v1/crl" -o restarted.der
nr=$(crl_number restarted.der)
[ -n "$nr" ] && [ $((16#$nr)) -gt $((16#$na)) ] || fail "after a restart the CRL number did not grow: $na -> $nr"
revoked() { openssl crl -inform DER -in "$1" -noout -text | grep 'Serial Number:' | sort; }
[ "$(revoked restarted.der)" = "$(revoked admin.der)" ] || fail "after a restart the CRL lists other certificates"
"$BUILD/bin/nrfca-admin" crl --der --out again.der 2>/dev/null
[ $((16#$(crl_number again.der))) -gt $((16#$nr)) ] || fail "nrfca-admin crl after the restart did not go past the server's CRL"
server_stop
[ "$SERVER_RC" = 0 ] || fail "server exit status $SERVER_RC"
finish
