#!/bin/bash
# mkpolicy.sh SRC DST [on_existing] - a test copy of a policy file: the host-key
# profile ({"csr": PEM} enrollment) enabled with rate limits raised for load,
# and optionally every profile's on_existing set to the given value.  The trust
# bundle paths are made absolute so DST can live anywhere.
set -euo pipefail
src=$1 dst=$2 onex=${3:-}
srcdir=$(cd "$(dirname "$src")" && pwd)
jq --arg d "$srcdir" --arg onex "$onex" '
  .profiles |= with_entries(
    .value.trust_bundle |= map(if startswith("/") then . else $d + "/" + . end)
    | if $onex != "" then .value.on_existing = $onex else . end)
  | .profiles["host-key"].enabled = true
  | .profiles["host-key"].rate_limit = { "per_station_per_minute": 1000000, "per_profile_per_minute": 1000000 }
  | .profiles["nrf-cloud-mqtt"].rate_limit = { "per_station_per_minute": 1000000, "per_profile_per_minute": 1000000 }
' "$src" >"$dst"
