# softhsm.sh - a private SoftHSM2 token for one test run (source this file).
#
#   softhsm_setup DIR [LABEL]   creates DIR/{tokens,softhsm2.conf,pin,so-pin,nrfca.json},
#                               exports SOFTHSM2_CONF and NRFCA_TEST_URI
#   softhsm_init_token DIR LABEL  one more token in DIR's token directory, same PINs
#   softhsm_teardown DIR        removes DIR
#
# The PINs (user 123456, SO 87654321) are in DIR/pin and DIR/so-pin and never
# on a command line (deploy/softhsm-init-token.sh).
# Nothing outside DIR is touched.  Reproducible by hand:
#   . tests/integration/lib/softhsm.sh; softhsm_setup /tmp/t
SOFTHSM_MODULE=${SOFTHSM_MODULE:-}
if [ -z "$SOFTHSM_MODULE" ]; then
	for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
	         /usr/lib64/softhsm/libsofthsm2.so; do
		[ -f "$m" ] && SOFTHSM_MODULE=$m && break
	done
fi

softhsm_setup() {
	local dir=$1 label=${2:-nrfca-test}
	if [ -z "$SOFTHSM_MODULE" ] || ! command -v softhsm2-util >/dev/null; then
		echo "SKIP: SoftHSM2 is not installed (apt-get install softhsm2)" >&2
		exit 77
	fi
	rm -rf "$dir"
	mkdir -p "$dir/tokens"
	chmod 700 "$dir" "$dir/tokens"
	cat >"$dir/softhsm2.conf" <<CONF
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
	export SOFTHSM2_CONF=$dir/softhsm2.conf
	umask 077
	printf '123456\n' >"$dir/pin"
	printf '87654321\n' >"$dir/so-pin"
	umask 022
	softhsm_init_token "$dir" "$label" || return 1
	export NRFCA_TEST_URI="pkcs11:token=$label;object=ca-key?module-path=$SOFTHSM_MODULE&pin-source=file:$dir/pin"
	cat >"$dir/nrfca.json" <<CONF
{
  "listen": { "address": "127.0.0.1", "port": 0 },
  "token": { "uri": "$NRFCA_TEST_URI", "pool_size": 4 },
  "ca": { "chain": "$dir/ca-chain.pem" },
  "database": "sqlite:$dir/nrfca.db"
}
CONF
}

softhsm_init_token() {
	SOFTHSM_MODULE=$SOFTHSM_MODULE bash "$(dirname "${BASH_SOURCE[0]}")/../../../deploy/softhsm-init-token.sh" \
		"$2" "$1/so-pin" "$1/pin"
}

softhsm_teardown() {
	rm -rf "$1"
}
