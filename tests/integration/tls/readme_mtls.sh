#!/bin/bash
# README.md "Mutual TLS for stations", run as written: the three command
# blocks marked <!-- readme_mtls: N --> and the tls settings quoted there,
# against a private server (HTTPS on a free loopback port) and nrf91-sim.
# The test stands in for the operator only where the README says so: the
# server's TLS certificate, starting the server, CA_URL and MODEM, and
# `systemctl reload` (a stand-in that sends SIGHUP to this test's server).
# Fails if a documented command fails or does not do what the README says.
# usage: readme_mtls.sh BUILD
set -uo pipefail
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
. "$SRC/tests/integration/lib/softhsm.sh"
. "$SRC/tests/integration/lib/server.sh"
. "$SRC/tests/integration/lib/sim.sh"
dir=$BUILD/tmp/readme-mtls.$$
SIM_PID=
trap '[ -n "$SIM_PID" ] && kill $SIM_PID 2>/dev/null; server_stop; softhsm_teardown "$dir"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
command -v jq >/dev/null || { echo "SKIP: jq is not installed" >&2; exit 77; }
server_setup "$dir" || exit 1
cd "$dir"

# block N of the README (the ```sh fence after its marker)
block() {
	awk -v m="<!-- readme_mtls: $1 -->" '
		$0 == m { f = 1; next }
		f == 1 && /^```sh$/ { f = 2; next }
		f == 2 && /^```$/ { exit }
		f == 2 { print }' "$SRC/README.md"
}
for n in 1 2 3; do
	[ -n "$(block $n)" ] || { echo "FAIL: README.md has no block readme_mtls: $n" >&2; exit 1; }
done
mkdir -p shim home var
export PATH=$dir/shim:$BUILD/bin:$PATH HOME=$dir/home

# 1. the stations' CA, its CRL, one station's certificate
block 1 >step1.sh
bash -e step1.sh >step1.out 2>&1 || fail "README block 1: $(tail -5 step1.out)"
for f in stations-ca.pem stations-ca.key stations.crl line-3.pem line-3.key; do
	[ -s "$f" ] || fail "README block 1 made no $f"
done

# what the operator brings: the server's TLS certificate; the README's tls settings
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server-ca.key -out server-ca.pem \
	-subj "/CN=server CA" -days 2 -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
openssl x509 -req -in server.csr -CA server-ca.pem -CAkey server-ca.key -days 2 -extfile server.ext -out server.pem 2>/dev/null
tls=$(grep -o '`"tls": {[^`]*"client_crl": "stations.crl" }`' "$SRC/README.md" | head -1 | tr -d '`')
[ -n "$tls" ] || { echo "FAIL: README.md has no tls setting with client_crl" >&2; exit 1; }
jq --argjson t "{$tls}" '. + $t' nrfca.json >nrfca.json.new && mv nrfca.json.new nrfca.json || fail "the README's tls setting is not JSON: $tls"
chmod 600 ./*.key
server_start "$dir" || exit 1
export CA_URL=https://127.0.0.1:$(cat port)
printf '#!/bin/bash\n[ "$1 $2" = "reload nrfca-server" ] && exec kill -HUP %s\necho "systemctl stand-in: $*" >&2; exit 1\n' \
	"$SERVER_PID" >shim/systemctl
chmod +x shim/systemctl
jq -n --arg k "$(tr -d '\r\n' <"$SRC/tests/data/vectors/keygen-line-sectag52.txt")" '{keygen: $k}' >var/sample-enroll.json
sim_start "$BUILD/bin/nrf91-sim" "$dir/sim.json" "$dir/sim" || exit 1
export MODEM=$port

# 2. bind, enroll with curl and with nrfca provision, certificate only
block 2 >step2.sh
timeout 120 bash -e step2.sh >step2.out 2>step2.err || fail "README block 2: $(tail -5 step2.err)"
grep -q '"serial":"[0-9a-f]*"' step2.out || fail "the README's curl enrollment got no certificate: $(head -c 300 step2.out)"
op() { curl -s --cacert server-ca.pem -H "Authorization: Bearer $(cat operator.token)" "$CA_URL$1"; }
n=$(op "/v1/certificates?station=line-3" | jq '.certificates | length')
[ "${n:-0}" = 2 ] || fail "the ledger holds $n certificates for station line-3, want 2 (curl and nrfca provision)"
c=$(curl -s -o out.json -w '%{http_code}' --cacert server-ca.pem --cert line-3.pem --key line-3.key "$CA_URL/v1/profiles")
[ "$c" = 200 ] || fail "line-3's certificate before the revocation: HTTP $c"

# 3. revoke the certificate in the CRL and reload
block 3 >step3.sh
bash -e step3.sh >step3.out 2>&1 || fail "README block 3: $(tail -5 step3.out)"
ok=0
for i in $(seq 1 40); do
	c=$(curl -s -o out.json -w '%{http_code}' --cacert server-ca.pem --cert line-3.pem --key line-3.key "$CA_URL/v1/profiles")
	[ "$c" = 401 ] && grep -q revoked out.json && { ok=1; break; }
	sleep 0.25
done
[ $ok = 1 ] || fail "after README block 3 line-3's certificate is still accepted: HTTP $c $(cat out.json)"
server_stop
[ "$SERVER_RC" = 0 ] || fail "server exit status $SERVER_RC"
[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "readme_mtls: all checks passed"
