# station.sh - helpers for tests that run `nrfca provision` / `nrfca line`
# against nrf91-sim modems and a private nrfca-server (sources softhsm.sh,
# server.sh and sim.sh).  A test script:
#   BUILD=$1; src=$2; export BUILD
#   . "$src/tests/integration/lib/station.sh"
#   station_test_begin NAME     binaries and jq checked (else exit 77), $dir and
#                               $srv made under the build tree, $nrfca, $sim,
#                               fail/ok counters, cleanup on exit (simulators,
#                               server, $dir, and station_cleanup_extra if the
#                               test defines it)
#   ... server_setup "$srv"; server_start "$srv"; checks ...
#   station_test_end NAME       prints the verdict and exits 0 or 1
#
#   imei_of D14          15-digit IMEI with its Luhn digit
#   uuid_of N            a device UUID made from N
#   start_sim NAME ARGS  simulator with state $dir/NAME.json and command log
#                        $dir/NAME.log; sets $port, remembers the pid
#   stop_sim NAME        SIGTERM and wait
#   prov RC WHAT ARGS    nrfca provision on $port (60 s limit); $out, $err
#   state_cred NAME TYPE FIELD [TAG]   a credential field from the sim state
#   count_type NAME TYPE [TAG]         credentials of that type at the tag
#   cert_count DEVICE_ID               certificates the CA issued for it
#   check_modem NAME WHAT [TAG]        the modem's certificate verifies with
#                                      the CA and carries the modem's key
#   cn_of PEM                          the certificate's CN
#   sim_sent NAME REGEX                AT commands the modem received that
#                                      match REGEX (from the command log)
_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=softhsm.sh
. "$_lib/softhsm.sh"
# shellcheck source=server.sh
. "$_lib/server.sh"
# shellcheck source=sim.sh
. "$_lib/sim.sh"
declare -A simpid=()

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

station_test_cleanup() {
	if declare -F station_cleanup_extra >/dev/null; then station_cleanup_extra; fi
	stop_all_sims
	server_stop
	rm -rf "$dir"
}

station_test_begin() {
	local b
	nrfca=$BUILD/bin/nrfca
	sim=$BUILD/bin/nrf91-sim
	for b in "$nrfca" "$sim" "$BUILD/bin/nrfca-server" "$BUILD/bin/nrfca-admin"; do
		[ -x "$b" ] || { echo "SKIP: $b not built"; exit 77; }
	done
	command -v jq >/dev/null || { echo "SKIP: jq not installed"; exit 77; }
	dir=$BUILD/tmp/$1.$$
	srv=$dir/srv
	mkdir -p "$dir" "$srv"
	fails=0
	trap station_test_cleanup EXIT
}

station_test_end() {
	if [ "$fails" -ne 0 ]; then
		echo "$fails failure(s)" >&2
		exit 1
	fi
	echo "all $1 checks passed"
	exit 0
}

imei_of() {
	local d=$1 sum=0 i c
	for ((i = 0; i < 14; i++)); do
		c=${d:i:1}
		if ((i % 2 == 1)); then c=$((c * 2)); ((c > 9)) && c=$((c - 9)); fi
		sum=$((sum + c))
	done
	echo "$d$(((10 - sum % 10) % 10))"
}
uuid_of() { printf '%08x-0000-4000-8000-%012x' "$1" "$1"; }

start_sim() {
	local name=$1
	shift
	sim_start "$sim" "$dir/$name.json" "$dir/$name" --log "$dir/$name.log" "$@" || exit 1
	simpid[$name]=$SIM_PID
}
stop_sim() {
	local p=${simpid[$1]:-}
	[ -n "$p" ] || return 0
	kill "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	unset "simpid[$1]"
}
stop_all_sims() {
	local p
	for p in "${simpid[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${simpid[@]}"; do wait "$p" 2>/dev/null; done
	simpid=()
}

prov() {
	local want=$1 what=$2 rc
	shift 2
	timeout 60 "$nrfca" provision --port "$port" --server "$SERVER_URL" \
		--token-file "$srv/station.token" --journal "$dir/journal" "$@" \
		>"$dir/stdout" 2>"$dir/stderr"
	rc=$?
	out=$(cat "$dir/stdout")
	err=$(cat "$dir/stderr")
	if [ "$rc" -ne "$want" ]; then
		fail "$what: exit $rc, expected $want; stderr: $(tail -3 "$dir/stderr")"
		return 1
	fi
	return 0
}

state_cred() {
	jq -r --argjson t "$2" ".credentials[] | select(.sec_tag == ${4:-16842753} and .type == \$t) | .$3" \
		"$dir/$1.json"
}
count_type() {
	jq --argjson t "$2" "[.credentials[] | select(.sec_tag == ${3:-16842753} and .type == \$t)] | length" \
		"$dir/$1.json"
}
cert_count() {
	curl -s -H "Authorization: Bearer $(cat "$srv/operator.token")" \
		"$SERVER_URL/v1/certificates?device_id=$1" | jq '.certificates | length'
}
cn_of() { openssl x509 -in "$1" -noout -subject -nameopt multiline | awk -F'= ' '/commonName/ {print $2}'; }

check_modem() {
	local name=$1 what=$2 tag=${3:-16842753} c k
	state_cred "$name" 1 content "$tag" | tr -d '\r' >"$dir/$name.cert.pem"
	if ! openssl verify -CAfile "$srv/ca-chain.pem" "$dir/$name.cert.pem" >/dev/null 2>&1; then
		fail "$what: certificate on the modem does not verify against the CA"
		return 1
	fi
	c=$(openssl x509 -in "$dir/$name.cert.pem" -noout -pubkey)
	k=$(state_cred "$name" 2 public_key_pem "$tag" | openssl pkey -pubin -pubout 2>/dev/null)
	[ -n "$k" ] && [ "$c" = "$k" ] || { fail "$what: certificate key != modem key"; return 1; }
	ok "$what: certificate verifies and matches the modem's key"
}

sim_sent() {
	[ -f "$dir/$1.log" ] || return 0
	jq -r --arg re "$2" 'select(.kind == "at") | .text | select(test($re)) | gsub("[\\r\\n]"; " ")' "$dir/$1.log"
}
