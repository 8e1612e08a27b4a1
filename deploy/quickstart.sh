#!/bin/bash
# nrfca quickstart: installs what is missing, builds, creates (first run) or
# reuses (later runs) a SoftHSM2 token, the CA key and certificate, the
# database and two API credentials under var/, then runs nrfca-server in the
# foreground on http://127.0.0.1:${NRFCA_PORT:-8080}.
#
# All state lives in var/ (git-ignored).  The CA key is generated once, inside
# the token, and never overwritten: delete var/ to start from scratch.
# var/nrfca.json is self-contained: its paths are relative to it and it sets
# SOFTHSM2_CONF for the token itself (token.env), so
#   build/bin/nrfca-admin --config var/nrfca.json check
# works from any shell.
#
# For tests: NRFCA_VAR=DIR keeps the state in DIR instead of var/, and
# NRFCA_BIN=DIR uses the programs already built in DIR (no package check, no
# build).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
var=${NRFCA_VAR:-$top/var}
port=${NRFCA_PORT:-8080}

# bold headings on a terminal only: piped or logged output has no escape codes
if [ -t 1 ]; then
	say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
else
	say() { printf '==> %s\n' "$*"; }
fi

if [ -n "${NRFCA_BIN:-}" ]; then
	bin=$(cd "$NRFCA_BIN" && pwd)
else
	say "checking packages"
	bash deploy/install-packages.sh
	say "building"
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
	bin=$top/build/bin
fi

module=
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so; do
	[ -f "$m" ] && module=$m && break
done
[ -n "$module" ] || { echo "quickstart: libsofthsm2.so not found" >&2; exit 1; }

mkdir -p "$var/softhsm/tokens"
var=$(cd "$var" && pwd)
chmod 700 "$var" "$var/softhsm" "$var/softhsm/tokens"
cat >"$var/softhsm/softhsm2.conf" <<CONF
directories.tokendir = $var/softhsm/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
export SOFTHSM2_CONF=$var/softhsm/softhsm2.conf

if [ ! -f "$var/token.pin" ]; then
	say "creating the token PIN in $var/token.pin"
	( umask 077; head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$var/token.pin" )
fi
if ! softhsm2-util --show-slots 2>/dev/null | grep -q "Label:.*nrfca-quickstart"; then
	say "creating the SoftHSM2 token 'nrfca-quickstart' in $var/softhsm"
	( umask 077; head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$var/token.so-pin" )
	SOFTHSM_MODULE=$module bash deploy/softhsm-init-token.sh nrfca-quickstart "$var/token.so-pin" "$var/token.pin"
fi

# Paths are relative to this file; token.env gives the module its configuration.
cat >"$var/nrfca.json" <<CONF
{
  "listen": { "address": "127.0.0.1", "port": $port },
  "token": {
    "uri": "pkcs11:token=nrfca-quickstart;object=nrfca-ca?module-path=$module&pin-source=file:token.pin",
    "env": { "SOFTHSM2_CONF": "./softhsm/softhsm2.conf" },
    "pool_size": 4
  },
  "ca": { "chain": "ca-chain.pem" },
  "database": "sqlite:nrfca.db",
  "policy": "$top/policies/default.json"
}
CONF
admin() { "$bin/nrfca-admin" --config "$var/nrfca.json" "$@"; }

if [ ! -f "$var/ca-chain.pem" ]; then
	say "key ceremony: generating the CA key inside the token and a self-signed root"
	admin init --subject "CN=nrfca quickstart root CA,O=nrfca" --days 7300
fi
say "checking token, key and chain"
admin check

for role in station operator; do
	if [ ! -s "$var/$role.token" ]; then
		say "creating the $role credential in $var/$role.token"
		( umask 077; admin token add --name "quickstart-$role" --role "$role" --quiet >"$var/$role.token" )
	fi
done

url=http://127.0.0.1:$port
# A request body holding one real %KEYGEN answer (the quotes JSON-escaped).
sample=$top/tests/data/vectors/keygen-line-sectag52.txt
printf '{"keygen": "%s"}\n' "$(tr -d '\r\n' <"$sample" | sed 's/"/\\"/g')" >"$var/sample-enroll.json"
q() { printf '%q' "$1"; }
cat <<MSG

nrfca is starting on $url   (Ctrl-C stops it)
  CA certificate : $var/ca-chain.pem   (also GET $url/v1/ca.pem)
  station token  : $var/station.token
  operator token : $var/operator.token
  configuration  : $var/nrfca.json

In another terminal, from any directory:
  enroll a sample %KEYGEN output from a real modem:
  \$ curl -sS --fail-with-body -H "Authorization: Bearer \$(cat $(q "$var/station.token"))" -H 'Content-Type: application/json' --data @$(q "$var/sample-enroll.json") $url/v1/enroll
  list what was issued:
  \$ $(q "$bin/nrfca-admin") --config $(q "$var/nrfca.json") list
  check the token, the key, the chain and the database:
  \$ $(q "$bin/nrfca-admin") --config $(q "$var/nrfca.json") check

MSG
exec "$bin/nrfca-server" --config "$var/nrfca.json"
