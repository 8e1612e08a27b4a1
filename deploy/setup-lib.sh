# setup-lib.sh - what deploy/quickstart.sh and deploy/cluster.sh both do to
# set up a CA on this machine (source it from the project folder; needs `top`).
#
#   say TEXT                    a heading (bold on a terminal only)
#   setup_programs              NRFCA_BIN, or install packages and build:
#                               sets `bin`
#   setup_module NAME           finds libsofthsm2.so: sets `module` (NAME is
#                               the caller's, for the error)
#   setup_token VAR LABEL       SoftHSM2 token LABEL in VAR/softhsm (created on
#                               the first run), PIN in VAR/token.pin, SO PIN in
#                               VAR/token.so-pin (mode 0600); exports SOFTHSM2_CONF
#   setup_ca CONFIG SUBJECT WHAT  key ceremony on the first run (nrfca-admin
#                               init), then nrfca-admin check (WHAT: its heading)
#   setup_credentials CONFIG VAR PREFIX   station and operator credentials in
#                               VAR/station.token, VAR/operator.token (first run)
#   setup_sample VAR            VAR/sample-enroll.json: one real %KEYGEN answer

# bold headings on a terminal only: piped or logged output has no escape codes
if [ -t 1 ]; then
	say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
else
	say() { printf '==> %s\n' "$*"; }
fi

setup_programs() {
	if [ -n "${NRFCA_BIN:-}" ]; then
		bin=$(cd "$NRFCA_BIN" && pwd)
		return 0
	fi
	say "checking packages"
	bash "$top/deploy/install-packages.sh"
	say "building"
	cmake -S "$top" -B "$top/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$top/build" -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
	bin=$top/build/bin
}

setup_module() {
	local m
	module=
	for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so; do
		[ -f "$m" ] && module=$m && break
	done
	[ -n "$module" ] || { echo "$1: libsofthsm2.so not found (Debian package softhsm2)" >&2; exit 1; }
}

setup_token() {
	local var=$1 label=$2
	mkdir -p "$var/softhsm/tokens"
	chmod 700 "$var/softhsm" "$var/softhsm/tokens"
	cat >"$var/softhsm/softhsm2.conf" <<CONF
directories.tokendir = $var/softhsm/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
	export SOFTHSM2_CONF=$var/softhsm/softhsm2.conf
	if [ ! -f "$var/token.pin" ]; then
		say "creating the token PIN in $var/token.pin"
		( umask 077; head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$var/token.pin" )
	fi
	if ! softhsm2-util --show-slots 2>/dev/null | grep -q "Label:.*$label"; then
		say "creating the SoftHSM2 token '$label' in $var/softhsm"
		( umask 077; head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$var/token.so-pin" )
		SOFTHSM_MODULE=$module bash "$top/deploy/softhsm-init-token.sh" "$label" "$var/token.so-pin" "$var/token.pin"
	fi
}

setup_ca() {
	local conf=$1 subject=$2 what=$3
	if [ ! -f "$(dirname "$conf")/ca-chain.pem" ]; then
		say "key ceremony: generating the CA key inside the token and a self-signed root"
		"$bin/nrfca-admin" --config "$conf" init --subject "$subject" --days 7300
	fi
	say "$what"
	"$bin/nrfca-admin" --config "$conf" check
}

setup_credentials() {
	local conf=$1 var=$2 prefix=$3 role
	for role in station operator; do
		if [ ! -s "$var/$role.token" ]; then
			say "creating the $role credential in $var/$role.token"
			( umask 077; "$bin/nrfca-admin" --config "$conf" token add --name "$prefix-$role" --role "$role" \
				--quiet >"$var/$role.token" )
		fi
	done
}

setup_sample() {
	local sample=$top/tests/data/vectors/keygen-line-sectag52.txt
	# the quotes JSON-escaped
	printf '{"keygen": "%s"}\n' "$(tr -d '\r\n' <"$sample" | sed 's/"/\\"/g')" >"$1/sample-enroll.json"
}
