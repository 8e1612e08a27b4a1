#!/bin/bash
# nrfca line benchmark: nrf91-sim modems that hold every answer 100 ms (a
# slow USB serial line), a private nrfca-server on loopback (SoftHSM2 token,
# SQLite ledger).  Figures: the wall time of `nrfca line --once` for 1 modem
# and for 8 at once (ratio 8/1, target < 1.5) and the station's CPU time
# (user + system of the nrfca process).  Rounds alternate 1 and 8; medians
# are printed.
#   bash tests/bench/run-bench-line.sh BUILD [ROUNDS] [DELAY_MS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
rounds=${2:-3}
delay=${3:-100}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BUILD=$build
export BUILD
. "$root/tests/integration/lib/station.sh"
dir=$build/tmp/bench-line.$$
srv=$dir/srv
sim=$build/bin/nrf91-sim
nrfca=$build/bin/nrfca
pids=()
cleanup() {
	set +e
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	server_stop
	rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$srv"
server_setup "$srv" >/dev/null
server_start "$srv"

serial=0
# run N: N fresh simulators, one `nrfca line --once`; prints "wall cpu"
run() {
	local n=$1 i args=() t0 t1 cpu
	for ((i = 0; i < n; i++)); do
		serial=$((serial + 1))
		sim_start "$sim" "$dir/s$serial.json" "$dir/s$serial" --faults "delay=$delay" \
			--imei "$(imei_of $((35265612000000 + serial)))" >/dev/null
		pids+=("$SIM_PID")
		args+=(--port "$port")
	done
	t0=$(date +%s.%N)
	# user+system seconds of the nrfca process, from bash's `times` of children
	cpu=$( { /usr/bin/env bash -c '"$@" >/dev/null 2>&1; times' _ "$nrfca" line "${args[@]}" --once --plain \
		--server "$SERVER_URL" --token-file "$srv/station.token" --journal "$dir/journal"; } |
		awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }')
	t1=$(date +%s.%N)
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
	pids=()
	echo "$(echo "$t1 - $t0" | bc -l) $cpu"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

w1=() c1=() w8=() c8=()
for ((r = 1; r <= rounds; r++)); do
	read -r w c < <(run 1)
	w1+=("$w"); c1+=("$c")
	read -r w c < <(run 8)
	w8+=("$w"); c8+=("$c")
	printf 'round %d: 1 modem %.2f s (CPU %.2f s), 8 modems %.2f s (CPU %.2f s)\n' "$r" \
		"${w1[-1]}" "${c1[-1]}" "${w8[-1]}" "${c8[-1]}"
done
mw1=$(printf '%s\n' "${w1[@]}" | median)
mc1=$(printf '%s\n' "${c1[@]}" | median)
mw8=$(printf '%s\n' "${w8[@]}" | median)
mc8=$(printf '%s\n' "${c8[@]}" | median)
printf 'nrfca line, modems answering after %d ms, %d rounds, %s CPUs, medians:\n' "$delay" "$rounds" "$(nproc)"
printf '  1 modem : %.2f s wall, station CPU %.2f s\n' "$mw1" "$mc1"
printf '  8 modems: %.2f s wall, station CPU %.2f s (%.0f%% of one core over the run)\n' "$mw8" "$mc8" \
	"$(echo "$mc8 * 100 / $mw8" | bc -l)"
printf '  wall 8 / wall 1 = %.2f (target < 1.5); one after another would be about %.1f s\n' \
	"$(echo "$mw8 / $mw1" | bc -l)" "$(echo "$mw1 * 8" | bc -l)"
