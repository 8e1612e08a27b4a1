# lib.sh - what the onboarding tests share (source it after setting BUILD, src,
# dir): the test libraries, ok/fail counting, simulators started by name and
# everything stopped and removed at exit.
#
#   start_sim NAME ARGS...   nrf91-sim with state $dir/NAME.json; sets $port
#   finish WHAT              prints the failure count, exits 0 only without failures
. "$src/tests/integration/lib/softhsm.sh"
. "$src/tests/integration/lib/server.sh"
. "$src/tests/integration/lib/sim.sh"
. "$src/tests/integration/lib/fakecloud.sh"

declare -A simpid=()
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $* [${SECONDS}s]"; }

start_sim() {
	local name=$1
	shift
	sim_start "$BUILD/bin/nrf91-sim" "$dir/$name.json" "$dir/$name" "$@" || exit 1
	simpid[$name]=$SIM_PID
}

onboard_cleanup() {
	local p
	for p in "${simpid[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${simpid[@]}"; do wait "$p" 2>/dev/null; done
	server_stop
	fakecloud_stop
	rm -rf "$dir"
}
trap onboard_cleanup EXIT

finish() {
	echo "$1: $fails failure(s)"
	[ $fails -eq 0 ]
	exit $?
}
