#!/bin/bash
# No PIN on a command line (anyone on the machine can read those in
# /proc/PID/cmdline): softhsm2-util and pkcs11-tool are wrapped by shims that
# record their arguments, then the token set-up of the tests
# (tests/integration/lib/softhsm.sh) and of the quickstart
# (deploy/softhsm-init-token.sh) run; no recorded argument holds a PIN, and
# the token opens with the PINs from the files.  The scripts under deploy/
# and tests/ pass no literal PIN to --pin/--so-pin either, and the systemd
# unit makes the files the service creates private (UMask=0077).
# usage: pin_cmdline.sh BUILD
set -uo pipefail
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
dir=$BUILD/tmp/pin-cmdline.$$
trap 'rm -rf "$dir"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
for t in softhsm2-util pkcs11-tool; do
	command -v $t >/dev/null || { echo "SKIP: $t is not installed" >&2; exit 77; }
done
mkdir -p "$dir/shim"
for t in softhsm2-util pkcs11-tool; do
	real=$(command -v $t)
	printf '#!/bin/bash\nprintf "%%s\\n" "%s $*" >>"%s"\nexec "%s" "$@"\n' "$t" "$dir/argv.log" "$real" >"$dir/shim/$t"
	chmod +x "$dir/shim/$t"
done
export PATH=$dir/shim:$PATH
touch "$dir/argv.log"

# 1. the tests' token (PINs 123456 / 87654321)
. "$SRC/tests/integration/lib/softhsm.sh"
( softhsm_setup "$dir/t1" t1-label ) || fail "softhsm_setup failed"
[ -s "$dir/argv.log" ] || fail "the shims recorded nothing: the set-up did not run the tools"
grep -nE '123456|87654321' "$dir/argv.log" && fail "a test PIN is on a command line"

# 2. the quickstart's token: random PINs in 0600 files
mkdir -p "$dir/q/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$dir/q/tokens" >"$dir/q/softhsm2.conf"
( umask 077
  head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/q/so.pin"
  head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/q/user.pin" )
SOFTHSM2_CONF=$dir/q/softhsm2.conf bash "$SRC/deploy/softhsm-init-token.sh" q-label "$dir/q/so.pin" "$dir/q/user.pin" ||
	fail "softhsm-init-token.sh failed"
for f in so.pin user.pin; do
	grep -nF "$(cat "$dir/q/$f")" "$dir/argv.log" && fail "the $f value is on a command line"
done
# the PINs work: user login, SO login
module=$SOFTHSM_MODULE
SOFTHSM2_CONF=$dir/q/softhsm2.conf P=$(cat "$dir/q/user.pin") \
	pkcs11-tool --module "$module" --token-label q-label --login --pin env:P --list-objects >/dev/null 2>&1 ||
	fail "the user PIN from the file does not open the token"
SOFTHSM2_CONF=$dir/q/softhsm2.conf P=$(cat "$dir/q/so.pin") U=$(cat "$dir/q/user.pin") \
	pkcs11-tool --module "$module" --token-label q-label --login --login-type so --so-pin env:P \
	--init-pin --new-pin env:U >/dev/null 2>&1 || fail "the SO PIN from the file does not open the token"
# a second token in the same directory leaves the first one alone
printf '1111\n' >"$dir/q/user2.pin"
SOFTHSM2_CONF=$dir/q/softhsm2.conf bash "$SRC/deploy/softhsm-init-token.sh" q-two "$dir/q/so.pin" "$dir/q/user2.pin" ||
	fail "a second token"
SOFTHSM2_CONF=$dir/q/softhsm2.conf P=$(cat "$dir/q/user.pin") \
	pkcs11-tool --module "$module" --token-label q-label --login --pin env:P --list-objects >/dev/null 2>&1 ||
	fail "the first token no longer opens after a second was made"

# 3. no literal PIN after --pin/--so-pin in the shipped and test scripts
hits=$(cd "$SRC" && grep -rnE -- '--(so-|new-|file-)?pin(=| +)' --include='*.sh' deploy tests |
	grep -vE -- '--(so-|new-|file-)?pin(=| +)env:' | grep -v '^tests/integration/secrets/')
[ -z "$hits" ] || fail "PINs passed as arguments: $hits"

# 4. files the service creates (ledger, WAL, CRL) are private to it
grep -qxE 'UMask=0077' "$SRC/deploy/nrfca-server.service.in" || fail "deploy/nrfca-server.service.in sets no UMask=0077"

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "pin_cmdline: all checks passed"
