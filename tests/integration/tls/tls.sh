#!/bin/bash
# HTTPS and mutual TLS: the server verifies client certificates itself
# (libmicrohttpd only requests them) and maps the CN to a station; plain
# HTTP on a non-loopback address is refused.
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

# a TLS server certificate, a station CA with one station, and a rogue CA
mk_ca() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.pem" \
	-subj "/CN=$2" -days 2 -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null; }
mk_leaf() { # name CN ca ext
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
	printf '%s\n' "$4" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -days 2 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
}
mk_ca tlsca "TLS test CA"
mk_leaf server 127.0.0.1 tlsca "subjectAltName=IP:127.0.0.1
extendedKeyUsage=serverAuth"
mk_ca stationca "Stations CA"
mk_leaf station1 line-3-station stationca "extendedKeyUsage=clientAuth"
mk_ca rogue "Rogue CA"
mk_leaf rogue1 line-3-station rogue "extendedKeyUsage=clientAuth"
chmod 600 ./*.key

cat >"$dir/tls.json" <<CONF
{
  "listen": { "address": "127.0.0.1", "port": 0 },
  "tls": { "certificate": "server.pem", "key": "server.key", "client_ca": "stationca.pem" },
  "token": { "uri": "$NRFCA_TEST_URI" },
  "ca": { "chain": "ca-chain.pem" },
  "database": "sqlite:nrfca.db",
  "policy": "$(cd "$here/../../.." && pwd)/policies/default.json"
}
CONF
cp "$dir/tls.json" "$dir/nrfca.json"
server_start "$dir" || exit 1
url=https://127.0.0.1:$(cat "$dir/port")
printf '{"keygen": "%s"}' "$(cat "$here/../../data/vectors/keygen-csr-sectag17.txt")" >body.json

code() { curl -s -o out.json -w '%{http_code}' --cacert tlsca.pem "$@"; }

[ "$(code "$url/v1/health")" = 200 ] || fail "HTTPS health"
curl -s --max-time 5 "http://127.0.0.1:$(cat port)/v1/health" >/dev/null && fail "plain HTTP answered on the TLS port"
# enroll with the verified client certificate only: the station is its CN
c=$(code --cert station1.pem --key station1.key -H 'Content-Type: application/json' --data @body.json "$url/v1/enroll")
[ "$c" = 201 ] || fail "mTLS enroll: HTTP $c $(cat out.json)"
serial=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open("out.json"))["serial"])' 2>/dev/null)
c=$(code -H "Authorization: Bearer $(cat operator.token)" "$url/v1/certificates/$serial")
[ "$c" = 200 ] && grep -q '"station":"line-3-station"' out.json || fail "the certificate is not recorded for station line-3-station: $(cat out.json)"
# a certificate from another CA with the same CN is refused
c=$(code --cert rogue1.pem --key rogue1.key -H 'Content-Type: application/json' --data @body.json "$url/v1/enroll")
[ "$c" = 401 ] && grep -q "does not verify" out.json || fail "rogue client certificate: HTTP $c $(cat out.json)"
# no certificate and no token
c=$(code -H 'Content-Type: application/json' --data @body.json "$url/v1/enroll")
[ "$c" = 401 ] || fail "no credential: HTTP $c"
# the bearer token still works over TLS
printf '{"keygen": "%s"}' "$(sed -e 's/^%KEYGEN: "//' -e 's/"$//' "$here/../../data/vectors/keygen-line-sectag52.txt")" >body52.json
c=$(code -H "Authorization: Bearer $(cat station.token)" -H 'Content-Type: application/json' --data @body52.json "$url/v1/enroll")
[ "$c" = 201 ] || fail "bearer over TLS: HTTP $c $(cat out.json)"
# ... and is another station than the client certificate's: line-3-station's
# certificate is not handed to it (policy supersede_from same_station)
c=$(code -H "Authorization: Bearer $(cat station.token)" -H 'Content-Type: application/json' --data @body.json "$url/v1/enroll")
[ "$c" = 409 ] && grep -q '"rule":"supersede_scope"' out.json ||
	fail "bearer over TLS, another station's %KEYGEN output: HTTP $c $(cat out.json)"
server_stop
[ "$SERVER_RC" = 0 ] || fail "server exit status $SERVER_RC after SIGTERM"

# plain HTTP on a non-loopback address is refused at start
/usr/bin/python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
c = json.load(open(d + "/tls.json"))
del c["tls"]
c["listen"]["address"] = "0.0.0.0"
json.dump(c, open(d + "/nrfca.json", "w"))
PY
out=$("$BUILD/bin/nrfca-server" --config "$dir/nrfca.json" 2>&1); rc=$?
[ $rc -ne 0 ] && grep -q "refusing plain HTTP on 0.0.0.0" <<<"$out" || fail "plain HTTP on 0.0.0.0: rc=$rc $out"

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "tls: all checks passed"
