#!/bin/bash
# mkpolicy.sh SRC DST [on_existing] - a test copy of a policy file: the host-key
# profile ({"csr": PEM} enrollment) enabled with rate limits raised for load,
# and optionally every profile's on_existing set to the given value.  DST can
# live anywhere: the trust bundle names resolve in the shipped trust_dir.
set -euo pipefail
src=$1 dst=$2 onex=${3:-}
jq --arg onex "$onex" '
  .profiles |= with_entries(if $onex != "" then .value.on_existing = $onex else . end)
  | .profiles["host-key"].enabled = true
  | .profiles["host-key"].rate_limit = { "per_station_per_minute": 1000000, "per_profile_per_minute": 1000000 }
  | .profiles["nrf-cloud-mqtt"].rate_limit = { "per_station_per_minute": 1000000, "per_profile_per_minute": 1000000 }
' "$src" >"$dst"
