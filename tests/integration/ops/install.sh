#!/bin/bash
# `cmake --install` into a DESTDIR lays nrfca out as a Debian program
# (sbin, share/nrfca, man pages, bash completion, systemd unit with matching
# paths), and the installed nrfca-server starts with the installed example
# configuration (its paths pointed at a test token, TLS files and the
# installed default policy, whose trust bundles come from the installed
# share/nrfca/trust).
# usage: install.sh BUILD
set -uo pipefail
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
. "$SRC/tests/integration/lib/softhsm.sh"
command -v jq >/dev/null || { echo "SKIP: jq is not installed" >&2; exit 77; }
DIR=$BUILD/tmp/ops-install.$$
pid=
trap '[ -n "$pid" ] && kill -TERM $pid 2>/dev/null && wait $pid 2>/dev/null; softhsm_teardown "$DIR"' EXIT
softhsm_setup "$DIR/etc" install-test
unset SOFTHSM2_CONF
root=$DIR/root
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

DESTDIR=$root cmake --install "$BUILD" --prefix /usr >"$DIR/install.log" 2>&1 || { fail "cmake --install: $(tail -5 "$DIR/install.log")"; exit 1; }
for f in usr/sbin/nrfca-server usr/sbin/nrfca-admin usr/bin/nrfca \
	usr/share/nrfca/policies/default.json usr/share/nrfca/trust/aws-root-ca1.pem \
	usr/share/nrfca/trust/nrfcloud-coap-ca.pem \
	usr/share/man/man8/nrfca-server.8 usr/share/man/man8/nrfca-admin.8 usr/share/man/man1/nrfca.1 \
	usr/share/man/man5/nrfca.json.5 usr/share/man/man5/nrfca-policy.5 \
	usr/share/bash-completion/completions/nrfca usr/share/bash-completion/completions/nrfca-admin \
	usr/share/bash-completion/completions/nrfca-server usr/lib/systemd/system/nrfca-server.service \
	usr/share/doc/nrfca/examples/nrfca.example.json usr/share/doc/nrfca/README.md; do
	[ -s "$root/$f" ] || fail "not installed: /$f"
done
[ -e "$root/usr/bin/nrf91-sim" ] && fail "the test simulator was installed"
unit=$root/usr/lib/systemd/system/nrfca-server.service
grep -q '^ExecStart=/usr/sbin/nrfca-server --config /etc/nrfca/nrfca.json$' "$unit" ||
	fail "the unit's ExecStart does not match the installed paths: $(grep ExecStart "$unit")"
[ -x "$root/$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")" ] || fail "ExecStart names a program that is not installed"
"$root/usr/sbin/nrfca-admin" --version | grep "^nrfca-admin " >/dev/null || fail "installed nrfca-admin --version"
echo "ok: installed $(find "$root" -type f | wc -l) files"

# the installed example configuration, pointed at this test's token and files
etc=$DIR/etc
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$etc/server.key" -out "$etc/server.pem" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=Stations CA" \
	-keyout "$etc/stations.key" -out "$etc/stations-ca.pem" 2>/dev/null
chmod 600 "$etc/server.key"
jq --arg d "$etc" --arg uri "pkcs11:token=install-test;object=ca-key?module-path=$SOFTHSM_MODULE&pin-source=file:pin" \
	--arg policy "$root/usr/share/nrfca/policies/default.json" '
	.listen.address = "127.0.0.1" | .listen.port = 0 | .listen.admin_port = 0
	| .tls.certificate = "server.pem" | .tls.key = "server.key" | .tls.client_ca = "stations-ca.pem"
	| .token.uri = $uri | .token.env = {"SOFTHSM2_CONF": "./softhsm2.conf"}
	| .ca.chain = "ca-chain.pem" | .database = "sqlite:nrfca.db" | .policy = $policy' \
	"$root/usr/share/doc/nrfca/examples/nrfca.example.json" >"$etc/nrfca.json" || fail "cannot adapt the example"
A=$root/usr/sbin/nrfca-admin
"$A" --config "$etc/nrfca.json" init --subject "CN=Installed Root" >/dev/null || fail "installed nrfca-admin init"
out=$("$A" --config "$etc/nrfca.json" check 2>&1) || fail "installed nrfca-admin check: $out"
"$root/usr/sbin/nrfca-server" --config "$etc/nrfca.json" --port-file "$DIR/port" 2>"$DIR/server.log" &
pid=$!
for i in $(seq 1 200); do [ -s "$DIR/port" ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.05; done
if [ -s "$DIR/port" ]; then
	code=$(curl -s --cacert "$etc/server.pem" -o "$DIR/ready.json" -w '%{http_code}' "https://127.0.0.1:$(cat "$DIR/port")/v1/ready")
	[ "$code" = 200 ] || fail "the installed server is not ready: $code $(cat "$DIR/ready.json")"
	# the trust bundle of the shipped policy comes from the installed share/nrfca/trust
	code=$(curl -s --cacert "$etc/server.pem" -o "$DIR/ca.pem" -w '%{http_code}' "https://127.0.0.1:$(cat "$DIR/port")/v1/ca.pem")
	[ "$code" = 200 ] || fail "GET /v1/ca.pem: $code"
else
	fail "the installed server did not start: $(tail -3 "$DIR/server.log")"
fi
[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "install: all checks passed"
