# common.sh - shared set-up of the cluster tests (source it):
#   . common.sh BUILD NAME   server tests' common.sh (DIR, fail, finish, req,
#                            jf, load_start, ...) plus lib/cluster.sh; the EXIT
#                            trap stops HAProxy, the instances and PostgreSQL
#   on I METHOD PATH TOKENFILE [BODYFILE]   req against instance I directly
#   crl_number URL           the number of the CRL URL/v1/crl serves
#   crl_has URL SERIAL       0 when that CRL lists SERIAL
#   devices_of [STATUS]      the device of every (active, revoked) certificate
#   admin ARGS...            nrfca-admin on the cluster's configuration
. "$(dirname "${BASH_SOURCE[0]}")/../server/common.sh" "$1" "$2"
. "$SRC/tests/integration/lib/cluster.sh"
trap 'cluster_stop; server_db_teardown; softhsm_teardown "$DIR"; rm -f "$DIR.policy.json"' EXIT
setup_cluster() { # [on_existing]
	mk_policy "$POLICY" "${1:-}" || return 1
	cluster_setup "$DIR" "$POLICY"
}
on() {
	local i=$1
	shift
	SERVER_URL=${INST_URL[$i]} req "$@"
}
crl_number() {
	curl -s --max-time 10 "$1/v1/crl" -o "$DIR/crl.$$.der" &&
		openssl crl -inform DER -in "$DIR/crl.$$.der" -noout -crlnumber 2>/dev/null | sed 's/^crlNumber=//'
}
crl_has() {
	curl -s --max-time 10 "$1/v1/crl" -o "$DIR/crl.$$.der" &&
		openssl crl -inform DER -in "$DIR/crl.$$.der" -noout -text 2>/dev/null |
		grep -qi "Serial Number: *$2\$"
}
# the device of every (STATUS: active or revoked only) certificate
devices_of() { cert_field_all device_id "${1:+&status=$1}"; }
admin() { "$BUILD/bin/nrfca-admin" --config "$DIR/nrfca.json" "$@"; }
