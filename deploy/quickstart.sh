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

. "$top/deploy/setup-lib.sh"
setup_programs
setup_module quickstart
mkdir -p "$var"
var=$(cd "$var" && pwd)
chmod 700 "$var"
setup_token "$var" nrfca-quickstart

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
setup_ca "$var/nrfca.json" "CN=nrfca quickstart root CA,O=nrfca" "checking token, key and chain"
setup_credentials "$var/nrfca.json" "$var" quickstart

url=http://127.0.0.1:$port
# A request body holding one real %KEYGEN answer.
setup_sample "$var"
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
