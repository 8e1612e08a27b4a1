#!/bin/bash
# HTTPS and mutual TLS.  The server verifies client certificates itself
# against the stations' CA and its CRL; a certificate identifies the API
# credential it is bound to (nrfca-admin token bind), with that
# credential's role, state and expiry, and nothing when bound to none:
# bearer and certificate identities share the credentials' one namespace.
# Also: the stations' CRL is re-read on SIGHUP, tls.require_client_cert,
# HTTPS on the admin listener, plain HTTP refused on a non-loopback address.
set -uo pipefail
BUILD=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/softhsm.sh"
. "$here/../lib/server.sh"
dir=$BUILD/tmp/tls.$$
trap 'server_stop; softhsm_teardown "$dir"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
server_setup "$dir" || exit 1
cd "$dir"
admin() { "$BUILD/bin/nrfca-admin" --config "$dir/nrfca.json" "$@"; }

# a TLS server certificate, the stations' CA with its stations, a rogue CA
mk_ca() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.pem" \
	-subj "$2" -days 2 -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null; }
mk_leaf() { # name subject ca ext
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
	printf '%s\n' "$4" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -days 2 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
}
client=extendedKeyUsage=clientAuth
mk_ca tlsca "/CN=TLS test CA"
mk_leaf server /CN=127.0.0.1 tlsca "subjectAltName=IP:127.0.0.1
extendedKeyUsage=serverAuth"
mk_ca stationca "/O=Example/CN=Stations CA"
mk_leaf station1 /CN=line-3-station stationca "$client"
mk_leaf stationc /CN=station-c stationca "$client"
mk_leaf lookalike /CN=test-station stationca "$client"    # the bearer station's name
mk_leaf line4 "/O=Example/CN=line-4" stationca "$client"
mk_leaf line4b "/O=Example/CN=line-4" stationca "$client"   # same subject, another key
mk_leaf opcert /CN=ops-desk stationca "$client"
mk_leaf serveronly /CN=line-9 stationca "extendedKeyUsage=serverAuth"
mk_ca rogue "/CN=Rogue CA"
mk_leaf rogue1 /CN=line-3-station rogue "$client"
chmod 600 ./*.key
# the stations' CA keeps a CRL (openssl ca)
mkdir -p stations-db && touch stations-db/index.txt && echo 01 >stations-db/crlnumber
cat >stations-ca.cnf <<'CNF'
[ ca ]
default_ca = stations
[ stations ]
database = stations-db/index.txt
crlnumber = stations-db/crlnumber
certificate = stationca.pem
private_key = stationca.key
default_md = sha256
default_crl_days = 30
CNF
openssl ca -config stations-ca.cnf -gencrl -out stations.crl 2>/dev/null || fail "openssl ca -gencrl"

policy=$(cd "$here/../../.." && pwd)/policies/default.json
write_conf() { # extra tls keys
	cat >"$dir/nrfca.json" <<CONF
{
  "listen": { "address": "127.0.0.1", "port": 0, "admin_address": "127.0.0.1", "admin_port": 0 },
  "tls": { "certificate": "server.pem", "key": "server.key", "client_ca": "stationca.pem"$1 },
  "token": { "uri": "$NRFCA_TEST_URI" },
  "ca": { "chain": "ca-chain.pem" },
  "database": "sqlite:nrfca.db",
  "policy": "$policy"
}
CONF
}
write_conf ', "client_crl": "stations.crl"'
server_start "$dir" || exit 1
port=$(cat "$dir/port")
url=https://127.0.0.1:$port
printf '{"keygen": "%s"}' "$(cat "$here/../../data/vectors/keygen-csr-sectag17.txt")" >body.json
jq -n --arg k "$(cat "$here/../../data/vectors/keygen-line-sectag52.txt")" '{keygen: $k}' >body52.json
code() { curl -s -o out.json -w '%{http_code}' --cacert tlsca.pem "$@"; }
J=(-H 'Content-Type: application/json')
jf() { jq -r ".$1 // empty" out.json 2>/dev/null; }

[ "$(code "$url/v1/health")" = 200 ] || fail "HTTPS health"
curl -s --max-time 5 "http://127.0.0.1:$port/v1/health" >/dev/null && fail "plain HTTP answered on the TLS port"

# 1. a verified certificate bound to no credential identifies nobody
c=$(code --cert station1.pem --key station1.key "${J[@]}" --data @body.json "$url/v1/enroll")
[ "$c" = 401 ] && grep -q "bound to no credential" out.json || fail "unbound certificate: HTTP $c $(cat out.json)"
# ... once bound, it is that credential
admin token add --name line-3-station --role station --quiet >/dev/null || fail "token add line-3-station"
admin token bind --name line-3-station --client-cert station1.pem >bind.txt || fail "token bind: $(cat bind.txt)"
grep -q "SHA-256" bind.txt || fail "token bind does not say what it bound: $(cat bind.txt)"
c=$(code --cert station1.pem --key station1.key "${J[@]}" --data @body.json "$url/v1/enroll")
[ "$c" = 201 ] || fail "bound certificate enrolls: HTTP $c $(cat out.json)"
serial=$(jf serial)
c=$(code -H "Authorization: Bearer $(cat station.token)" "${J[@]}" --data @body52.json "$url/v1/enroll")
[ "$c" = 201 ] || fail "bearer enroll over TLS: HTTP $c $(cat out.json)"
bearer_serial=$(jf serial)
c=$(code -H "Authorization: Bearer $(cat operator.token)" "$url/v1/certificates/$serial")
[ "$c" = 200 ] && [ "$(jf station)" = line-3-station ] || fail "the certificate is not recorded for line-3-station: $(cat out.json)"

# 2. a certificate whose CN is the bearer station's name reads nothing of it
c=$(code --cert lookalike.pem --key lookalike.key "$url/v1/certificates/$bearer_serial")
[ "$c" = 401 ] || fail "CN=test-station certificate read the bearer station's certificate: HTTP $c $(cat out.json)"
# bearer and certificate naming different credentials: refused
c=$(code --cert station1.pem --key station1.key -H "Authorization: Bearer $(cat station.token)" \
	"${J[@]}" --data @body.json "$url/v1/enroll")
[ "$c" = 401 ] && grep -q "send one identity" out.json || fail "bearer + other credential's certificate: HTTP $c $(cat out.json)"

# 3. the certificate shares the credential's state: disabled -> refused
admin token add --name station-c --role station --quiet >/dev/null || fail "token add station-c"
admin token bind --name station-c --client-cert stationc.pem >/dev/null || fail "bind station-c"
c=$(code --cert stationc.pem --key stationc.key "$url/v1/profiles")
[ "$c" = 200 ] || fail "station-c before disable: HTTP $c $(cat out.json)"
admin token disable --name station-c >/dev/null || fail "token disable station-c"
ok=0
for i in $(seq 1 40); do
	[ "$(code --cert stationc.pem --key stationc.key "$url/v1/profiles")" = 401 ] && { ok=1; break; }
	sleep 0.25
done
[ $ok = 1 ] && grep -q "disabled" out.json || fail "disabled credential's certificate still accepted: $(cat out.json)"

# 4. binding by subject: every certificate of the stations' CA with it; the role is the credential's
admin token add --name line-4 --role station --quiet >/dev/null || fail "token add line-4"
admin token bind --name line-4 --subject "CN=line-4, O=Example" >/dev/null || fail "bind by subject"
for k in line4 line4b; do
	c=$(code --cert $k.pem --key $k.key "$url/v1/profiles")
	[ "$c" = 200 ] || fail "$k bound by subject: HTTP $c $(cat out.json)"
done
admin token add --name ops-desk --role operator --quiet >/dev/null || fail "token add ops-desk"
admin token bind --name ops-desk --client-cert opcert.pem >/dev/null || fail "bind ops-desk"
[ "$(code --cert opcert.pem --key opcert.key "$url/v1/certificates")" = 200 ] || fail "operator by certificate lists: $(cat out.json)"
[ "$(code --cert opcert.pem --key opcert.key "${J[@]}" --data @body.json "$url/v1/enroll")" = 403 ] ||
	fail "operator certificate enrolls: $(cat out.json)"
out=$(admin token bind --name line-3-station --client-cert stationc.pem 2>&1) && fail "one certificate bound to two credentials: $out"

# 5. refused certificates: another CA with the same CN, not for client authentication
c=$(code --cert rogue1.pem --key rogue1.key "${J[@]}" --data @body.json "$url/v1/enroll")
[ "$c" = 401 ] && grep -q "not issued by the stations' CA" out.json || fail "rogue client certificate: HTTP $c $(cat out.json)"
admin token add --name line-9 --role station --quiet >/dev/null && admin token bind --name line-9 --client-cert serveronly.pem >/dev/null
c=$(code --cert serveronly.pem --key serveronly.key "$url/v1/profiles")
[ "$c" = 401 ] && grep -q "client authentication" out.json || fail "serverAuth-only certificate: HTTP $c $(cat out.json)"
c=$(code "${J[@]}" --data @body.json "$url/v1/enroll")
[ "$c" = 401 ] || fail "no credential: HTTP $c"

# 6. the stations' CRL: revoked, then SIGHUP -> refused; a CRL of another CA is not loaded
openssl ca -config stations-ca.cnf -revoke station1.pem -crl_reason keyCompromise 2>/dev/null &&
	openssl ca -config stations-ca.cnf -gencrl -out stations.crl.new 2>/dev/null || fail "openssl ca -revoke"
mv stations.crl.new stations.crl
[ "$(code --cert station1.pem --key station1.key "$url/v1/profiles")" = 200 ] || fail "before the reload: $(cat out.json)"
kill -HUP "$SERVER_PID"
ok=0
for i in $(seq 1 40); do
	[ "$(code --cert station1.pem --key station1.key "$url/v1/profiles")" = 401 ] && { ok=1; break; }
	sleep 0.25
done
[ $ok = 1 ] && grep -q "revoked" out.json || fail "revoked station certificate after SIGHUP: $(cat out.json)"
grep -q '"client_ca_reloaded"' server.log || fail "no client_ca_reloaded log line"
cp stations.crl stations.crl.good
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out other.pem -subj /CN=other -days 2 2>/dev/null
sed 's/stationca/other/' stations-ca.cnf >other.cnf
openssl ca -config other.cnf -gencrl -out stations.crl 2>/dev/null || fail "other CRL"
kill -HUP "$SERVER_PID"
ok=0
for i in $(seq 1 40); do
	grep -q '"client_ca_reload_failed".*not signed by' server.log && { ok=1; break; }
	sleep 0.25
done
[ $ok = 1 ] || fail "a CRL of another CA was not refused at reload"
[ "$(code --cert station1.pem --key station1.key "$url/v1/profiles")" = 401 ] || fail "after a failed reload the revocation was lost"
[ "$(code --cert line4.pem --key line4.key "$url/v1/profiles")" = 200 ] || fail "after a failed reload: $(cat out.json)"
# the bearer station (it enrolled over TLS above) is another station than the
# client certificate's:
# line-3-station's certificate is not handed to it (policy supersede_from same_station)
c=$(code -H "Authorization: Bearer $(cat station.token)" -H 'Content-Type: application/json' --data @body.json "$url/v1/enroll")
[ "$c" = 409 ] && grep -q '"rule":"supersede_scope"' out.json ||
	fail "bearer over TLS, another station's %KEYGEN output: HTTP $c $(cat out.json)"
server_stop
[ "$SERVER_RC" = 0 ] || fail "server exit status $SERVER_RC after SIGTERM"
out=$("$BUILD/bin/nrfca-server" --config "$dir/nrfca.json" 2>&1) && fail "started with a CRL of another CA"
grep -q "not signed by" <<<"$out" || fail "start with a foreign CRL: $out"
cp stations.crl.good stations.crl

# 7. tls.require_client_cert: nothing without a verified certificate; HTTPS on the admin listener
write_conf ', "client_crl": "stations.crl", "require_client_cert": true, "admin": true'
server_start "$dir" || exit 1
url=https://127.0.0.1:$(cat "$dir/port")
aurl=https://127.0.0.1:$(sed -n 's/.*"admin_port":"\{0,1\}\([0-9]*\).*/\1/p' server.log | tail -1)
[ "$(code "$url/v1/ca")" = 401 ] || fail "require_client_cert: /v1/ca without a certificate: $(cat out.json)"
[ "$(code --cert line4.pem --key line4.key "$url/v1/ca")" = 200 ] || fail "require_client_cert: /v1/ca with one"
c=$(code "$aurl/metrics")
[ "$c" = 200 ] && grep -q '^nrfca_token_ready' out.json || fail "HTTPS admin listener: HTTP $c"
curl -s --max-time 5 "http://${aurl#https://}/metrics" >/dev/null && fail "the admin listener answered plain HTTP with tls.admin"
server_stop

# plain HTTP on a non-loopback address is refused at start
cat >"$dir/nrfca.json" <<CONF
{
  "listen": { "address": "0.0.0.0", "port": 0 },
  "token": { "uri": "$NRFCA_TEST_URI" },
  "ca": { "chain": "ca-chain.pem" },
  "database": "sqlite:nrfca.db",
  "policy": "$policy"
}
CONF
out=$("$BUILD/bin/nrfca-server" --config "$dir/nrfca.json" 2>&1); rc=$?
[ $rc -ne 0 ] && grep -q "refusing plain HTTP on 0.0.0.0" <<<"$out" || fail "plain HTTP on 0.0.0.0: rc=$rc $out"

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "tls: all checks passed"
