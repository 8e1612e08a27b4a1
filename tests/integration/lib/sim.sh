# sim.sh - start an nrf91-sim for a test (source this file).
#
#   sim_start SIM_BINARY STATE_FILE OUT_PREFIX [SIM ARGS...]
#       starts the simulator with --state STATE_FILE, its stdout and stderr in
#       OUT_PREFIX.out / OUT_PREFIX.err; sets $port (the pty it prints on its
#       first line) and $SIM_PID; returns 1 with the reason if it does not start.
sim_start() {
	local bin=$1 state=$2 out=$3 i
	shift 3
	"$bin" --state "$state" "$@" >"$out.out" 2>"$out.err" &
	SIM_PID=$!
	port=
	for i in $(seq 1 100); do
		port=$(head -n1 "$out.out" 2>/dev/null)
		[ -n "$port" ] && return 0
		sleep 0.05
	done
	echo "simulator $(basename "$out") did not start: $(cat "$out.err")" >&2
	return 1
}
