#!/bin/bash
# Enrollments/s of one nrfca-server on SQLite, one on PostgreSQL and three
# behind HAProxy on PostgreSQL, at 8 and 32 clients, in one run on this
# machine (a benchmark that prints figures, not a test):
#   bash tests/bench/run-bench-cluster.sh BUILD [COUNT_PER_CLIENT] [CLIENTS] [ROUNDS]
# Each setup gets a fresh SoftHSM2 token, ledger and (for PostgreSQL) a private
# cluster under BUILD (Unix socket, fsync on, synchronous commit); the load is
# bench_enroll (fresh EC P-256 CSRs through the host-key profile, rate limits
# raised but on: on PostgreSQL they are counted in the ledger, as in
# production).  ROUNDS > 1 repeats the three setups in turn, so drift of a
# shared machine shows.  Besides certificates/s and latency it prints the CPU
# seconds each part used during the run (nrfca-server, PostgreSQL, HAProxy,
# the load generator) against the wall time x CPUs: what the machine spent
# its time on.
# Environment: SETUPS (default sqlite,postgresql,cluster) picks the setups;
# RATE_LIMITS=off removes the profiles' rate limits (what counting them costs).
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
count=${2:-100}
clients=${3:-8,32}
rounds=${4:-1}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BUILD=$build
. "$root/tests/integration/lib/softhsm.sh"
. "$root/tests/integration/lib/server.sh"
. "$root/tests/integration/lib/cluster.sh"
dir=$build/tmp/bench-cluster.$$
policy=$build/tmp/bench-cluster-policy.$$.json
trap 'set +e; server_stop; cluster_stop; server_db_teardown; softhsm_teardown "$dir"; rm -f "$policy"' EXIT
command -v haproxy >/dev/null || { echo "haproxy is not installed" >&2; exit 1; }
hz=$(getconf CLK_TCK)

# CPU ticks (user + system) of the given processes and their children
ticks() {
	local p t=0 k
	for p in "$@"; do
		for k in $p $(pgrep -P "$p" 2>/dev/null); do
			[ -r "/proc/$k/stat" ] || continue
			t=$((t + $(awk '{ print $14 + $15 }' "/proc/$k/stat")))
		done
	done
	echo $t
}
pg_pid() { [ -n "${PG_DATA:-}" ] && head -1 "$PG_DATA/postmaster.pid" 2>/dev/null || true; }

# run bench_enroll against URL, print its table and the CPU split
measure() { # LABEL URL SERVER_PIDS PG_PID HAPROXY_PID
	local label=$1 url=$2 srv=$3 pg=$4 hap=$5 s0 p0 h0 b0 t0 t1 out bpid
	echo "== $label"
	s0=$(ticks $srv)
	p0=$([ -n "$pg" ] && ticks "$pg" || echo 0)
	h0=$([ -n "$hap" ] && ticks "$hap" || echo 0)
	t0=$(date +%s.%N)
	"$build/bin/bench_enroll" --url "$url" --token "$dir/station.token" --clients "$clients" \
		--count "$count" >"$dir/bench.out" 2>&1 &
	bpid=$!
	# the load generator's own CPU: sampled until it ends
	b0=0
	while kill -0 $bpid 2>/dev/null; do
		b0=$(ticks $bpid)
		sleep 0.2
	done
	wait $bpid || { cat "$dir/bench.out"; echo "bench_enroll failed" >&2; return 1; }
	t1=$(date +%s.%N)
	grep -v '^bench_enroll: .* prepared' "$dir/bench.out"
	awk -v s="$(( $(ticks $srv) - s0 ))" -v p="$(( ($([ -n "$pg" ] && ticks "$pg" || echo 0)) - p0 ))" \
	    -v h="$(( ($([ -n "$hap" ] && ticks "$hap" || echo 0)) - h0 ))" -v b="$b0" -v hz="$hz" \
	    -v w="$(echo "$t1 - $t0" | bc)" -v n="$(nproc)" '
	BEGIN { printf "   CPU s: nrfca-server %.1f, PostgreSQL %.1f, HAProxy %.1f, bench_enroll %.1f (incl. CSR generation); wall %.1f s x %d CPUs = %.1f\n",
	        s / hz, p / hz, h / hz, b / hz, w, n, w * n }'
}

mkpol() {
	bash "$root/tests/integration/server/mkpolicy.sh" "$root/policies/default.json" "$policy"
	if [ "${RATE_LIMITS:-on}" = off ]; then
		jq '.profiles |= map_values(del(.rate_limit))' "$policy" >"$policy.new" && mv "$policy.new" "$policy"
	fi
}

one_server() { # ENGINE
	export NRFCA_TEST_DB=$1
	mkdir -p "$dir"
	mkpol
	server_setup "$dir" "$policy" >/dev/null
	if [ -z "$raw" ]; then   # the token's own pace, before any server runs
		raw=$("$build/bin/bench_signer" "$NRFCA_TEST_URI" 1 | awk '$1 == "2" { print $3 }')
		echo "raw token signatures/s (SoftHSM2, 2 threads, bench_signer): $raw"
	fi
	server_start "$dir"
	local what
	case $1 in
	postgresql) what="PostgreSQL $("$PG_BIN/postgres" --version | awk '{ print $3 }') (Unix socket, fsync on, synchronous commit)" ;;
	*) what="SQLite (WAL, synchronous=FULL)" ;;
	esac
	measure "one instance, ledger $what" "$SERVER_URL" "$SERVER_PID" "$(pg_pid)" ""
	server_stop || true
	server_db_teardown || true
	softhsm_teardown "$dir" || true
}

three_behind_haproxy() {
	mkdir -p "$dir"
	mkpol
	cluster_setup "$dir" "$policy" >/dev/null
	cluster_start "$dir"
	measure "three instances behind HAProxy $(haproxy -v | awk 'NR == 1 { print $3 }'), one PostgreSQL ledger" \
		"$FRONT_URL" "${INST_PID[*]}" "$(pg_pid)" "$HAPROXY_PID"
	cluster_stop || true
	server_db_teardown || true
	softhsm_teardown "$dir" || true
}

echo "nrfca enrollment throughput: $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo "bench_enroll: $count enrollments per client, clients $clients, fresh EC P-256 CSRs, host-key profile, keep-alive, rate limits ${RATE_LIMITS:-on}"
raw=
for r in $(seq 1 "$rounds"); do
	[ "$rounds" = 1 ] || echo "---- round $r of $rounds"
	for setup in $(tr , " " <<<"${SETUPS:-sqlite,postgresql,cluster}"); do
		case $setup in
		sqlite | postgresql) one_server "$setup" ;;
		cluster) three_behind_haproxy ;;
		*) echo "SETUPS: unknown setup '$setup'" >&2; exit 2 ;;
		esac
	done
done
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
