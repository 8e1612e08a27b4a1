#!/bin/bash
# softhsm-init-token.sh LABEL SO_PIN_FILE USER_PIN_FILE
#
# Initialises the first uninitialised SoftHSM2 slot (the token directory is
# the one SOFTHSM2_CONF names) as token LABEL, with the Security Officer PIN
# and the user PIN read from the two files (first line of each).
#
# No PIN appears on a command line (softhsm2-util takes PINs only as
# arguments or from a terminal): the PINs reach OpenSC's pkcs11-tool through
# its --so-pin/--pin env:VARIABLE form, set in that one command's
# environment, which only the same user and root can read.
# Environment: SOFTHSM_MODULE overrides the path of libsofthsm2.so.
set -euo pipefail
if [ $# -ne 3 ]; then
	echo "usage: $0 LABEL SO_PIN_FILE USER_PIN_FILE" >&2
	exit 2
fi
label=$1
module=${SOFTHSM_MODULE:-}
if [ -z "$module" ]; then
	for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
	         /usr/lib64/softhsm/libsofthsm2.so; do
		[ -f "$m" ] && module=$m && break
	done
fi
[ -n "$module" ] || { echo "softhsm-init-token: libsofthsm2.so not found (apt-get install softhsm2)" >&2; exit 1; }
command -v pkcs11-tool >/dev/null || { echo "softhsm-init-token: pkcs11-tool not found (apt-get install opensc)" >&2; exit 1; }
IFS= read -r so_pin <"$2" || [ -n "${so_pin:-}" ] || { echo "softhsm-init-token: cannot read the SO PIN from $2" >&2; exit 1; }
IFS= read -r user_pin <"$3" || [ -n "${user_pin:-}" ] || { echo "softhsm-init-token: cannot read the user PIN from $3" >&2; exit 1; }
so_pin=${so_pin%$'\r'}
user_pin=${user_pin%$'\r'}

# SoftHSM2 always shows one uninitialised token; never re-initialise another
slot=$(pkcs11-tool --module "$module" --list-slots 2>/dev/null | awk '
	/^Slot [0-9]+ \(0x[0-9a-fA-F]+\)/ { id = $3; gsub(/[():]/, "", id) }
	/token state: *uninitialized/ { print id; exit }')
[ -n "$slot" ] || { echo "softhsm-init-token: no uninitialised SoftHSM2 slot (SOFTHSM2_CONF=${SOFTHSM2_CONF:-unset})" >&2; exit 1; }
NRFCA_SO_PIN=$so_pin pkcs11-tool --module "$module" --slot "$slot" --init-token --label "$label" \
	--so-pin env:NRFCA_SO_PIN >/dev/null
NRFCA_SO_PIN=$so_pin NRFCA_USER_PIN=$user_pin pkcs11-tool --module "$module" --token-label "$label" \
	--login --login-type so --so-pin env:NRFCA_SO_PIN --init-pin --new-pin env:NRFCA_USER_PIN >/dev/null
unset so_pin user_pin
