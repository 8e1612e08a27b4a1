#!/bin/bash
# docs/RUNBOOK.md, run as written (issue 15, "operator runbook test"): every
# ```sh block in order, in one shell with `set -euo pipefail`, against a
# private SoftHSM2 token, TLS, ledger, PostgreSQL cluster and simulated modem
# under the build tree.  Blocks marked <!-- runbook: NAME --> (site, start,
# stop, reload, postgresql, newtoken) are replaced by the function rb_NAME of
# this test (no systemd here: the test starts, stops and signals nrfca-server
# itself).  Fails if a documented command does not work as written.
# usage: runbook.sh BUILD
set -uo pipefail
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
. "$SRC/tests/integration/lib/softhsm.sh"
for t in jq curl openssl pg_dump pg_restore; do command -v $t >/dev/null || { echo "SKIP: $t is not installed" >&2; exit 77; }; done
DIR=$BUILD/tmp/ops-runbook.$$
cleanup() {
	local p
	for p in server sim; do
		[ -s "$DIR/$p.pid" ] && kill -TERM "$(cat "$DIR/$p.pid")" 2>/dev/null
	done
	sleep 0.5
	pg_stop 2>/dev/null
	softhsm_teardown "$DIR"
}
trap cleanup EXIT
softhsm_setup "$DIR/etc" runbook-token
unset SOFTHSM2_CONF NRFCA_CONFIG
etc=$DIR/etc
mkdir -p "$DIR/work"

# a private PostgreSQL cluster (sections 11 and 12) and a modem (nrf91-sim)
. "$SRC/tests/integration/lib/pg.sh"
. "$SRC/tests/integration/lib/sim.sh"
pg_start "$DIR/pg"; rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || { echo "FAIL: cannot start PostgreSQL"; exit 1; }
sim_start "$BUILD/bin/nrf91-sim" "$DIR/sim.state" "$DIR/sim" || exit 1
echo "$SIM_PID" >"$DIR/sim.pid"

# the site: TLS for the API, the stations' CA and one station's client
# certificate (mTLS), the configuration (token.env carries SOFTHSM2_CONF, the
# policy is a copy of the shipped one)
tlsca() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$1" \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
	-keyout "$etc/$2.key" -out "$etc/$2.pem" 2>/dev/null; }
leaf() {	# NAME CA SUBJECT EXT
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$3" \
		-keyout "$etc/$1.key" -out "$etc/$1.csr" 2>/dev/null &&
	openssl x509 -req -in "$etc/$1.csr" -CA "$etc/$2.pem" -CAkey "$etc/$2.key" -days 2 \
		-set_serial "0x$(openssl rand -hex 8)" -extfile <(printf '%s\n' "$4") -out "$etc/$1.pem" 2>/dev/null &&
	chmod 600 "$etc/$1.key"
}
tlsca "Runbook TLS CA" tls-ca && tlsca "Runbook stations CA" stations-ca &&
leaf server tls-ca /CN=127.0.0.1 subjectAltName=IP:127.0.0.1 &&
leaf line-1 stations-ca "/O=Acme/CN=line-1" extendedKeyUsage=clientAuth || { echo "FAIL: openssl"; exit 1; }
cp "$SRC/policies/default.json" "$etc/policy.json"
printf 'unused: the test cluster trusts its socket\n' >"$etc/db.password"; chmod 600 "$etc/db.password"
cat >"$etc/nrfca.json" <<CONF
{
  "listen": { "address": "127.0.0.1", "port": 0 },
  "tls": { "certificate": "server.pem", "key": "server.key", "client_ca": "stations-ca.pem" },
  "token": {
    "uri": "pkcs11:token=runbook-token;object=nrfca-ca?module-path=$SOFTHSM_MODULE&pin-source=file:pin",
    "env": { "SOFTHSM2_CONF": "./softhsm2.conf" }
  },
  "ca": { "chain": "ca-chain.pem" },
  "database": "sqlite:nrfca.db",
  "policy": "policy.json",
  "limits": { "request_timeout": 10 }
}
CONF

# the replacements of the site, start, stop, reload, postgresql and newtoken blocks
cat >"$DIR/prelude.sh" <<PRE
set -euo pipefail
export PATH=$BUILD/bin:\$PATH
rb_site() {
	export NRFCA_CONFIG=$etc/nrfca.json
	export NRFCA_TLS_CA=$etc/tls-ca.pem
	export MODEM=$port
	export STATION_CERT=$etc/line-1.pem STATION_KEY=$etc/line-1.key
}
rb_start() {
	rm -f $DIR/port
	nrfca-server --config "\$NRFCA_CONFIG" --port-file $DIR/port 2>>$DIR/server.log &
	echo \$! >$DIR/server.pid
	for i in \$(seq 1 300); do [ -s $DIR/port ] && break; sleep 0.05; done
	[ -s $DIR/port ] || { echo "nrfca-server did not start:" >&2; tail -3 $DIR/server.log >&2; return 1; }
	export NRFCA_URL=https://127.0.0.1:\$(cat $DIR/port)
	export NRFCA_ADMIN_URL=\$NRFCA_URL   # no admin_port: /metrics on the main listener for loopback
}
rb_stop() {
	kill -TERM \$(cat $DIR/server.pid)
	while kill -0 \$(cat $DIR/server.pid) 2>/dev/null; do sleep 0.1; done
	rm -f $DIR/server.pid
}
rb_reload() {
	kill -HUP \$(cat $DIR/server.pid)
}
rb_postgresql() {
	export NRFCA_PG="$PG_URL"
	export NRFCA_PG_PASSWORD_FILE=$etc/db.password
}
rb_newtoken() {
	SOFTHSM2_CONF=$etc/softhsm2.conf SOFTHSM_MODULE=$SOFTHSM_MODULE \
		bash $SRC/deploy/softhsm-init-token.sh nrfca-2 $etc/so-pin $etc/pin >/dev/null
}
PRE
# the document: each sh block in order, marked ones replaced
awk -v pre="$DIR/prelude.sh" '
	BEGIN { while ((getline l < pre) > 0) print l; n = 0 }
	/^<!-- runbook: [a-z]+ -->$/ { mark = $3; next }
	/^```sh$/ { inblock = 1; n++; printf "echo \"== runbook block %d%s at $(date +%%T.%%N)\" >&2\n", n, mark ? " (" mark ", replaced)" : ""
		if (mark) print "rb_" mark; next }
	inblock && /^```$/ { inblock = 0; mark = ""; next }
	inblock && !mark { print }
	!inblock && /^[^<`]/ { mark = "" }
' "$SRC/docs/RUNBOOK.md" >"$DIR/runbook-run.sh"
blocks=$(grep -c '^echo "== runbook block' "$DIR/runbook-run.sh")
[ "$blocks" -ge 40 ] || { echo "FAIL: only $blocks blocks found in docs/RUNBOOK.md"; exit 1; }
(cd "$DIR/work" && bash "$DIR/runbook-run.sh") >"$DIR/run.log" 2>&1
rc=$?
cp "$DIR/run.log" "$BUILD/tmp/ops-runbook.last.log" 2>/dev/null
if [ $rc -ne 0 ]; then
	echo "FAIL: docs/RUNBOOK.md does not work as written (exit $rc); the end of its run:"
	tail -25 "$DIR/run.log"
	echo "--- server log:"; tail -5 "$DIR/server.log" 2>/dev/null
	exit 1
fi
grep -q '"event":"startup_failed"' "$DIR/server.log" && { echo "FAIL: a server start failed"; exit 1; }
# every line the server wrote through the whole day is typed JSON: no number
# logged as a string (ports, counts, ...; serials are hex strings)
bad=$(grep '^{' "$DIR/server.log" | jq -c 'to_entries | map(select(.key != "serial" and
	(.value | type) == "string" and (.value | test("^-?[0-9]+(\\.[0-9]+)?$")))) |
	select(length > 0) | from_entries' | sort -u)
[ -z "$bad" ] || { echo "FAIL: log values that are numbers written as strings: $bad"; exit 1; }
echo "runbook: all $blocks blocks of docs/RUNBOOK.md ran as written"
