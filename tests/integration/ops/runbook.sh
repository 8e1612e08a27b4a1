#!/bin/bash
# docs/RUNBOOK.md, run as written (issue 15, "operator runbook test"): every
# ```sh block in order, in one shell with `set -euo pipefail`, against a
# private SoftHSM2 token, TLS and ledger under the build tree.  Blocks marked
# <!-- runbook: site|start|stop --> are replaced by this test's site settings
# and by starting/stopping nrfca-server itself (no systemd here).  Fails if a
# documented command does not work as written.
# usage: runbook.sh BUILD
set -uo pipefail
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
. "$SRC/tests/integration/lib/softhsm.sh"
for t in jq curl openssl; do command -v $t >/dev/null || { echo "SKIP: $t is not installed" >&2; exit 77; }; done
DIR=$BUILD/tmp/ops-runbook.$$
trap '[ -s "$DIR/server.pid" ] && kill -TERM "$(cat "$DIR/server.pid")" 2>/dev/null; sleep 0.5; softhsm_teardown "$DIR"' EXIT
softhsm_setup "$DIR/etc" runbook-token
unset SOFTHSM2_CONF NRFCA_CONFIG
etc=$DIR/etc
mkdir -p "$DIR/work"

# the site: TLS for the API, the configuration (token.env carries SOFTHSM2_CONF)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=Runbook TLS CA" \
	-keyout "$etc/tls-ca.key" -out "$etc/tls-ca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
	-keyout "$etc/server.key" -out "$etc/server.csr" 2>/dev/null
openssl x509 -req -in "$etc/server.csr" -CA "$etc/tls-ca.pem" -CAkey "$etc/tls-ca.key" -days 2 \
	-set_serial 1 -extfile <(printf 'subjectAltName=IP:127.0.0.1\n') -out "$etc/server.pem" 2>/dev/null
chmod 600 "$etc/server.key"
cat >"$etc/nrfca.json" <<CONF
{
  "listen": { "address": "127.0.0.1", "port": 0 },
  "tls": { "certificate": "server.pem", "key": "server.key" },
  "token": {
    "uri": "pkcs11:token=runbook-token;object=nrfca-ca?module-path=$SOFTHSM_MODULE&pin-source=file:pin",
    "env": { "SOFTHSM2_CONF": "./softhsm2.conf" }
  },
  "ca": { "chain": "ca-chain.pem" },
  "database": "sqlite:nrfca.db",
  "policy": "$SRC/policies/default.json",
  "limits": { "request_timeout": 10 }
}
CONF

# the replacements of the site, start and stop blocks
cat >"$DIR/prelude.sh" <<PRE
set -euo pipefail
export PATH=$BUILD/bin:\$PATH
rb_site() {
	export NRFCA_CONFIG=$etc/nrfca.json
	export NRFCA_TLS_CA=$etc/tls-ca.pem
	cp $SRC/tests/data/vectors/keygen-line-sectag52.txt keygen.txt
}
rb_start() {
	rm -f $DIR/port
	nrfca-server --config "\$NRFCA_CONFIG" --port-file $DIR/port 2>>$DIR/server.log &
	echo \$! >$DIR/server.pid
	for i in \$(seq 1 300); do [ -s $DIR/port ] && break; sleep 0.05; done
	[ -s $DIR/port ] || { echo "nrfca-server did not start:" >&2; tail -3 $DIR/server.log >&2; return 1; }
	export NRFCA_URL=https://127.0.0.1:\$(cat $DIR/port)
}
rb_stop() {
	kill -TERM \$(cat $DIR/server.pid)
	while kill -0 \$(cat $DIR/server.pid) 2>/dev/null; do sleep 0.1; done
	rm -f $DIR/server.pid
}
PRE
# the document: each sh block in order, marked ones replaced
awk -v pre="$DIR/prelude.sh" '
	BEGIN { while ((getline l < pre) > 0) print l; n = 0 }
	/^<!-- runbook: [a-z]+ -->$/ { mark = $3; next }
	/^```sh$/ { inblock = 1; n++; printf "echo \"== runbook block %d%s\" >&2\n", n, mark ? " (" mark ", replaced)" : ""
		if (mark) print "rb_" mark; next }
	inblock && /^```$/ { inblock = 0; mark = ""; next }
	inblock && !mark { print }
	!inblock && /^[^<`]/ { mark = "" }
' "$SRC/docs/RUNBOOK.md" >"$DIR/runbook-run.sh"
blocks=$(grep -c '^echo "== runbook block' "$DIR/runbook-run.sh")
[ "$blocks" -ge 12 ] || { echo "FAIL: only $blocks blocks found in docs/RUNBOOK.md"; exit 1; }
(cd "$DIR/work" && bash "$DIR/runbook-run.sh") >"$DIR/run.log" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
	echo "FAIL: docs/RUNBOOK.md does not work as written (exit $rc); the end of its run:"
	tail -25 "$DIR/run.log"
	echo "--- server log:"; tail -5 "$DIR/server.log" 2>/dev/null
	exit 1
fi
grep -q '"event":"startup_failed"' "$DIR/server.log" && { echo "FAIL: a server start failed"; exit 1; }
echo "runbook: all $blocks blocks of docs/RUNBOOK.md ran as written"
