#!/bin/bash
# bash completion of nrfca-admin, nrfca-server and nrfca: commands,
# subcommands, options (from the programs' --help) and option values.
# usage: completion.sh BUILD
set -uo pipefail
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
export PATH=$BUILD/bin:$PATH
# shellcheck disable=SC1091
. "$SRC/deploy/bash-completion/nrfca"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# expect "WORDS..." "CANDIDATES...": completing the last word offers exactly these
expect() {
	local line=$1 want=$2 got
	read -ra COMP_WORDS <<<"$line"
	[[ $line == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	_nrfca_complete
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//')
	[ "$got" = "$want" ] || fail "'$line' completes to '$got', want '$want'"
}
expect "nrfca-admin to" "token"
expect "nrfca-admin token " "add bind disable enable groups list rotate unbind"
expect "nrfca-admin token a" "add"
expect "nrfca-admin devices " "check import"
expect "nrfca-admin --config x.json audit " "export list verify"
expect "nrfca-admin revoke --re" "--reason"
expect "nrfca-admin revoke --reason key" "keyCompromise"
expect "nrfca-admin token add --role " "auditor operator station"
expect "nrfca-admin init --cu" "--curve"
expect "nrfca-admin init --curve P-3" "P-384"
expect "nrfca-admin list --st" "--station --status"
expect "nrfca-admin op" "openssl-env"
expect "nrfca-server --c" "--config"
expect "nrfca-server --v" "--version"
expect "nrfca pro" "provision"
expect "nrfca provision --sec" "--sec-tag"
expect "nrfca provision --line-ending " "crlf lf"
expect "nrfca creds list --js" "--json"
# a file name after --config
mkdir -p "$BUILD/tmp" && d=$(mktemp -d "$BUILD/tmp/compl.XXXXXX") && touch "$d/site.json"
expect "nrfca-admin --config $d/si" "$d/site.json"
rm -rf "$d"
[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "completion: all checks passed"
