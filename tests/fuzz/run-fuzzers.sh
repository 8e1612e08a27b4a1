#!/usr/bin/env bash
# run-fuzzers.sh BUILD_DIR SECONDS
#
# Runs every libFuzzer target BUILD_DIR/bin/fuzz_* for SECONDS each, on a
# copy of its seed corpus (tests/fuzz/*/corpus/<target>/) in a temporary
# directory under BUILD_DIR, with its dictionary tests/fuzz/*/<target>.dict
# if there is one, and fails if any target crashes, leaks, hits a sanitizer
# report or a timeout.  Build the targets first:
#   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DNRFCA_FUZZ=ON
#   cmake --build build-fuzz -j2
# A failing target's log and crashing input are kept under BUILD_DIR/fuzz-run.*.
set -u

if [ $# -ne 2 ] || ! [[ $2 =~ ^[0-9]+$ ]] || [ "$2" -lt 1 ]; then
	echo "usage: $0 BUILD_DIR SECONDS" >&2
	exit 2
fi
build=$(cd "$1" 2>/dev/null && pwd) || { echo "run-fuzzers: no build directory $1" >&2; exit 2; }
secs=$2
here=$(cd "$(dirname "$0")" && pwd)

shopt -s nullglob
targets=()
for t in "$build"/bin/fuzz_*; do
	[ -f "$t" ] && [ -x "$t" ] && targets+=("$t")
done
if [ ${#targets[@]} -eq 0 ]; then
	echo "run-fuzzers: no fuzz_* programs in $build/bin (configure with -DNRFCA_FUZZ=ON and clang)" >&2
	exit 1
fi

work=$(mktemp -d "$build/fuzz-run.XXXXXX")
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# run_one TARGET: one target on its own corpus copy; its verdict in $dir/result
run_one() {
	local t=$1 name dir seeds=0 s rc runs
	name=$(basename "$t")
	dir="$work/$name"
	mkdir -p "$dir/corpus" "$dir/artifacts"
	for s in "$here"/*/corpus/"$name"; do
		[ -d "$s" ] || continue
		cp -- "$s"/* "$dir/corpus/" 2>/dev/null && seeds=$((seeds + $(ls "$s" | wc -l)))
	done
	dict=()
	for d in "$here"/*/"$name".dict; do
		[ -f "$d" ] && dict=(-dict="$d")
	done
	"$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8400 "${dict[@]}" \
		-artifact_prefix="$dir/artifacts/" -print_final_stats=1 "$dir/corpus" >"$dir/log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
	if [ $rc -eq 0 ]; then
		cov=$(grep -o 'cov: [0-9]*' "$dir/log" | tail -n 1)
		echo "fuzz $name: ok, ${runs:-?} runs in ${secs}s ($((${runs:-0} / secs))/s, ${cov:-cov: ?}) from $seeds seeds" >"$dir/result"
	else
		{
			echo "fuzz $name: FAILED (exit $rc); log: $dir/log"
			tail -n 30 "$dir/log" | sed 's/^/    /'
			for a in "$dir"/artifacts/*; do
				echo "    input: $a"
			done
		} >"$dir/result"
	fi
	return $rc
}

# as many targets at once as there are processors (NRFCA_FUZZ_JOBS overrides)
jobs=${NRFCA_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || jobs=1
running=0
for t in "${targets[@]}"; do
	if [ $running -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	run_one "$t" &
	running=$((running + 1))
done
wait
passed=0
failed=0
for t in "${targets[@]}"; do
	r="$work/$(basename "$t")/result"
	cat "$r"
	if head -n 1 "$r" | grep -q ': ok,'; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
done
if [ $failed -eq 0 ]; then
	rm -rf -- "$work"
fi
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
