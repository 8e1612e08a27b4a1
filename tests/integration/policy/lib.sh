# lib.sh - what the policy integration tests share (source after
# ../lib/softhsm.sh, ../lib/server.sh and ../lib/sim.sh, with $BUILD set).
#
#   policy_test_begin DIR     counters, fail/ok, the simulators' list and a
#                             cleanup (server, simulators, extra pids in
#                             $extra_pids, token) on exit
#   policy_test_end NAME      the verdict line, the server log's tail on failure
#   start_sim NAME ARGS...    an nrf91-sim with its state in DIR; sets $port
#   stop_sims                 stop every simulator started so far
#   keygen_files PORT COUNT PREFIX [TAG [ATTRS]]
#                             COUNT %KEYGEN payloads in PREFIX.1 .. PREFIX.COUNT
#   enroll TOKENFILE PAYLOADFILE [PROFILE [QUERY]]
#                             POST /v1/enroll -> $code, resp.json, hdr.txt
#   expect NAME STATUS RULE   check $code and the answer's rule
#   metric NAME{LABELS}       a value from /metrics (0 when absent)
#   retry_after               the Retry-After header of the last answer
#   policy_require FILE... -- TOOL...
#                             exit 77 (skip) naming what is missing: FILEs are
#                             programs under $BUILD (bin/nrfca-server,
#                             tests/policy_keygen_helper, /usr/bin/python3 as is),
#                             TOOLs commands on PATH
: "${BUILD:?set BUILD to the build tree}"

policy_require() {
	local p
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		p=$1
		[ "${p#/}" = "$p" ] && p=$BUILD/$p
		[ -x "$p" ] || { echo "SKIP: $p not built or installed"; exit 77; }
		shift
	done
	[ $# -gt 0 ] && shift
	for p in "$@"; do
		command -v "$p" >/dev/null || { echo "SKIP: $p is not installed"; exit 77; }
	done
}

policy_test_begin() {
	PT_DIR=$1
	fails=0
	checks=0
	sims=()
	extra_pids=()
	trap policy_test_cleanup EXIT
}

policy_test_cleanup() {
	local p
	server_stop
	for p in "${extra_pids[@]}" "${sims[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${extra_pids[@]}" "${sims[@]}"; do wait "$p" 2>/dev/null; done
	softhsm_teardown "$PT_DIR"
}

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { checks=$((checks + 1)); }

policy_test_end() {
	grep -q 'AddressSanitizer\|runtime error' "$PT_DIR/server.log" 2>/dev/null &&
		fail "sanitizer report in server.log"
	if [ "$fails" -ne 0 ]; then
		echo "$fails failure(s), $checks checks passed; server log tail:"
		tail -5 "$PT_DIR/server.log"
		exit 1
	fi
	echo "$1: all $checks checks passed"
}

start_sim() {
	local name=$1
	shift
	sim_start "$BUILD/bin/nrf91-sim" "$PT_DIR/$name.state" "$PT_DIR/$name" "$@" || exit 1
	sims+=("$SIM_PID")
}

stop_sims() {
	local p
	for p in "${sims[@]}"; do kill "$p"; wait "$p" 2>/dev/null; done
	sims=()
}

keygen_files() {
	local i=0 l
	"$BUILD/tests/policy_keygen_helper" "$1" "${4:-42}" "${5:-}" "$2" >"$3.lines" ||
		{ echo "keygen on $1 failed" >&2; exit 1; }
	while read -r l; do
		i=$((i + 1))
		printf '%s\n' "$l" >"$3.$i"
	done <"$3.lines"
}

enroll() {
	jq -n --rawfile v "$2" --arg p "${3:-}" '{keygen: ($v | rtrimstr("\n"))} +
		(if $p == "" then {} else {profile: $p} end)' >body.json
	code=$(curl -s -o resp.json -D hdr.txt -w '%{http_code}' -X POST \
		-H "Authorization: Bearer $(cat "$1")" -H 'Content-Type: application/json' \
		--data-binary @body.json "$SERVER_URL/v1/enroll${4:-}")
}

expect() {
	local rule
	rule=$(jq -r '.rule // ""' resp.json 2>/dev/null)
	if [ "$code" = "$2" ] && [ "$rule" = "$3" ]; then
		ok
		return 0
	fi
	fail "$1: HTTP $code rule '$rule', expected $2 '$3': $(cat resp.json)"
	return 1
}

metric() {
	curl -s "$SERVER_URL/metrics" | awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }'
}

retry_after() { sed -n 's/^Retry-After: *\([0-9]*\).*/\1/Ip' hdr.txt; }
