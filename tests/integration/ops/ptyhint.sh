#!/bin/bash
# A fresh machine without devpts (issue 15): the tests that need a
# pseudo-terminal say what is missing instead of failing one by one with
# "cannot create a pseudo-terminal: No such device".  In a private mount
# namespace with /dev/pts unmounted: pty_check explains, nrf91-sim names
# devpts, and ctest runs the check once and does not run the simulator test.
# usage: ptyhint.sh BUILD
set -uo pipefail
BUILD=$(cd "$1" && pwd)
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for a private mount namespace" >&2; exit 77; }
command -v unshare >/dev/null || { echo "SKIP: unshare is not installed" >&2; exit 77; }
unshare --mount --propagation private true 2>/dev/null ||
	{ echo "SKIP: this machine does not allow a private mount namespace" >&2; exit 77; }
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# run CMD in a namespace where /dev/pts is not mounted
nopts() {
	unshare --mount --propagation private bash -c '
		while mountpoint -q /dev/pts; do umount -l /dev/pts || exit 90; done
		exec "$@"' nopts "$@"
}
out=$(nopts "$BUILD/tests/pty_check" 2>&1); rc=$?
[ $rc = 90 ] && { echo "SKIP: cannot unmount /dev/pts here" >&2; exit 77; }
[ $rc = 1 ] || fail "pty_check without devpts: exit $rc ($out)"
grep -q "^no pseudo-terminals (No such device): mount devpts on /dev/pts" <<<"$out" || fail "pty_check says: $out"
out=$(nopts "$BUILD/bin/nrf91-sim" 2>&1); rc=$?
[ $rc = 1 ] || fail "nrf91-sim without devpts: exit $rc"
grep -q "cannot create a pseudo-terminal: No such device (no devpts: mount -t devpts devpts /dev/pts)" <<<"$out" ||
	fail "nrf91-sim says: $out"
out=$(nopts ctest --test-dir "$BUILD" -R '^(pty_available|sim_nrf91_basic|test_station_at)$' --output-on-failure 2>&1)
grep -q "no pseudo-terminals (No such device): mount devpts on /dev/pts" <<<"$out" || fail "ctest does not show the hint: $out"
grep -Eq "sim_nrf91_basic .*Not Run" <<<"$out" || fail "ctest ran the simulator test anyway: $out"
grep -q "Failed test dependencies: pty_available" <<<"$out" || echo "note: ctest does not name the dependency"
# with devpts the check passes
"$BUILD/tests/pty_check" >/dev/null || fail "pty_check fails with devpts mounted"
[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "ptyhint: all checks passed"
