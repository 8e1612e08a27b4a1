# common.sh - shared set-up of the nrfca-server integration tests (source it).
#
#   . common.sh BUILD NAME   sources softhsm.sh and server.sh, makes
#                            DIR=$BUILD/tmp/srv-NAME.$$, removes it at exit
#   fail MSG                 counts a failure (finish prints and exits 1)
#   finish                   exit 0 "all checks passed" or 1
#   mk_policy DST [on_existing]  test policy: host-key enabled, limits raised
#   req METHOD PATH TOKENFILE [BODYFILE] [curl args...]
#                            body to $DIR/out.json, headers to $DIR/hdr.txt,
#                            prints the HTTP status
#   jf FIELD [FILE]          a top-level JSON field of FILE (default out.json)
#   cert_count               number of certificates in the ledger (operator)
#   cert_field_all FIELD [QUERY]  FIELD of every certificate (all pages)
#   ledger_serials           every serial in the ledger, sorted
#   csr_body PEM_FILE DST [PROFILE]   {"csr": PEM, "profile": ...} body
#   load_start CLIENTS SECONDS POOL MIN   bench_enroll in the background saving
#                            every answer in $DIR/got; returns once MIN are in
#                            (LOAD_PID; output in load.txt)
#   enroll_one               a fresh CSR enrolled; prints the status
#   enroll_until STATUS SECONDS   enroll_one every 0.2 s until it answers
#                            STATUS (0) or SECONDS passed (1)
#   new_csr KEYSPEC CN DST   openssl CSR (KEYSPEC: ec:P-256, ec:P-384, rsa:2048)
set -uo pipefail
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
VEC=$SRC/tests/data/vectors
. "$SRC/tests/integration/lib/softhsm.sh"
. "$SRC/tests/integration/lib/server.sh"
DIR=$BUILD/tmp/srv-$2.$$
mkdir -p "$BUILD/tmp"
trap 'server_stop; server_db_teardown; softhsm_teardown "$DIR"; rm -f "$DIR.policy.json"' EXIT
command -v jq >/dev/null || { echo "SKIP: jq is not installed" >&2; exit 77; }
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
finish() {
	if [ $fails -ne 0 ]; then
		# what the server said last (a sanitizer's report, an error) before
		# the folder is removed
		[ ! -s "$DIR/server.log" ] || { echo "--- the end of server.log (without request lines):"; grep -vE '"(msg|event)":"(request|error_detail)"' "$DIR/server.log" | tail -n 40; } >&2
		echo "$fails failure(s)"
		exit 1
	fi
	echo "$(basename "$0" .sh): all checks passed"
	exit 0
}
mk_policy() { bash "$SRC/tests/integration/server/mkpolicy.sh" "$SRC/policies/default.json" "$@"; }
# server_setup with a test policy (host-key enabled, limits raised) in $POLICY,
# a file next to DIR (server_setup empties DIR)
POLICY=$DIR.policy.json
setup_with_policy() { # [on_existing]
	mk_policy "$POLICY" "${1:-}" || return 1
	server_setup "$DIR" "$POLICY"
}
req() {
	local method=$1 path=$2 tok=${3:-} body=${4:-}
	shift 4 2>/dev/null || shift $#
	local args=(-s -X "$method" -o "$DIR/out.json" -D "$DIR/hdr.txt" -w '%{http_code}' --max-time 30)
	[ -n "$tok" ] && args+=(-H "Authorization: Bearer $(cat "$tok")")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "@$body")
	curl "${args[@]}" "$@" "$SERVER_URL$path"
}
jf() { jq -r ".$1 // empty" "${2:-$DIR/out.json}" 2>/dev/null; }
cert_count() {  # every page: a fast server issues more than one page's worth under load
	cert_field_all serial | wc -l
}
# FIELD of every certificate (API paging; QUERY adds filters, e.g.
# "&status=active"), one per line, in serial order
cert_field_all() {
	local after= i
	for i in $(seq 1 200); do
		curl -s -H "Authorization: Bearer $(cat "$DIR/operator.token")" \
			"$SERVER_URL/v1/certificates?limit=1000${2:-}${after:+&after=$after}" -o "$DIR/page.json"
		jq -r ".certificates[].$1" "$DIR/page.json"
		after=$(jq -r '.next // empty' "$DIR/page.json")
		[ -n "$after" ] || break
	done
}
# every serial in the ledger, sorted
ledger_serials() { cert_field_all serial | sort -u; }
# serials of the 201 bodies bench_enroll --save wrote to DIR, sorted
saved_serials() { find "$1" -name 'c*.json' -print0 | xargs -0 -r grep -ho '"serial":"[0-9a-f]*"' | cut -d'"' -f4 | sort; }
csr_body() { jq -n --rawfile c "$1" --arg p "${3:-host-key}" '{csr: $c, profile: $p}' >"$2"; }
new_csr() {
	local kind=${1%%:*} arg=${1#*:}
	case $kind in
	ec) openssl req -new -newkey ec -pkeyopt "ec_paramgen_curve:$arg" -nodes -keyout "$3.key" -subj "/CN=$2" -out "$3" 2>/dev/null ;;
	rsa) openssl req -new -newkey "rsa:$arg" -nodes -keyout "$3.key" -subj "/CN=$2" -out "$3" 2>/dev/null ;;
	esac
}
uuid() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n' | sed -E 's/^(.{8})(.{4}).(.{3}).(.{3})(.{12})$/\1-\2-4\3-8\4-\5/'; }
load_start() {
	local i
	mkdir -p "$DIR/got"
	"$BUILD/bin/bench_enroll" --url "$SERVER_URL" --token "$DIR/station.token" --clients "$1" \
		--seconds "$2" --pool "$3" --save "$DIR/got" >"$DIR/load.txt" 2>&1 &
	LOAD_PID=$!
	for i in $(seq 1 300); do
		[ "$(ls "$DIR/got" | wc -l)" -ge "$4" ] && break
		sleep 0.05
	done
}
enroll_one() {
	new_csr ec:P-256 "$(uuid)" "$DIR/one.csr"; csr_body "$DIR/one.csr" "$DIR/one.json"
	req POST /v1/enroll "$DIR/station.token" "$DIR/one.json"
}
enroll_until() {
	local i
	for i in $(seq 1 $(($2 * 5))); do
		[ "$(enroll_one)" = "$1" ] && return 0
		sleep 0.2
	done
	return 1
}
