#!/bin/sh
# soft_not_shipped.sh TEST_PROGRAM PROGRAM...
# The software CA key (pkcs11/signer_soft.c) is for tests only: it must be in
# TEST_PROGRAM (so the check can see it) and in none of the PROGRAMs.
test_prog=$1
shift
if ! nm "$test_prog" | grep -q ' T signer_open_software$'; then
	echo "FAIL: cannot see signer_open_software in $test_prog (nm, symbols?)" >&2
	exit 1
fi
for p in "$@"; do
	if nm "$p" | grep -Eq ' [Tt] (signer_open_software|soft_sign)$'; then
		echo "FAIL: $p contains the software signer" >&2
		exit 1
	fi
	echo "ok: $(basename "$p") has no software signer"
done
