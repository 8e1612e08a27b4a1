#!/bin/bash
# The man pages are built and cannot drift from the programs: each page
# mentions every option its program's --help lists (for every command and
# subcommand the program's own --help names), nrfca.json(5) every key of
# ca-server/config.c, nrfca-policy(5) every key policies/policy_load.c
# accepts.  A new option or key without its line in docs/man/*.scd fails here.
# usage: check-man.sh BUILD
set -uo pipefail
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
bin=$BUILD/bin man=$BUILD/man
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# the page as plain text (scdoc's roff: font escapes and \& removed)
page() { [ -s "$man/$1" ] || { fail "$1 was not built"; return; }; sed 's/\\f[BIRP]//g; s/\\&//g; s/\\-/-/g' "$man/$1"; }
opts() { grep -oE -- '--[a-z][a-z0-9-]*' | sort -u; }
mentions() { grep -qE -- "(^|[^A-Za-z0-9_-])$2([^A-Za-z0-9_-]|$)" <<<"$1"; }
commands() { "$bin/$1" --help | awk '/^commands:/ { f = 1; next } f && /^$/ { exit } f' |
	sed -E 's/^  ([a-z][a-z-]*( [a-z][a-z-]*)?)( {2,}.*)?$/\1/'; }
n=0
check_program() { # PROG PAGE
	local prog=$1 text c o
	text=$(page "$2")
	for o in $("$bin/$prog" --help | opts); do
		mentions "$text" "$o" || fail "$2 does not mention $o ($prog --help lists it)"
		n=$((n + 1))
	done
	while read -r c; do
		[ -n "$c" ] || continue
		mentions "$text" "$c" || fail "$2 does not mention the command '$c'"
		# shellcheck disable=SC2086
		for o in $("$bin/$prog" $c --help | opts); do
			mentions "$text" "$o" || fail "$2 does not mention $o ($prog $c --help lists it)"
			n=$((n + 1))
		done
	done < <(commands "$prog")
}
check_program nrfca-admin nrfca-admin.8
check_program nrfca-server nrfca-server.8
check_program nrfca nrfca.1

# configuration keys (sections and keys of config.c's table)
text=$(page nrfca.json.5)
for k in $(sed -nE 's/^\s*\{ (NULL|"([a-z_]+)"), "([a-z_]+)",.*/\2 \3/p' "$SRC/ca-server/config.c" | tr ' ' '\n' | sort -u); do
	mentions "$text" "$k" || fail "nrfca.json.5 does not mention the key '$k'"
	n=$((n + 1))
done
# policy keys (every keys[] list of the loader)
text=$(page nrfca-policy.5)
for k in $(awk '/keys\[\] = \{/ { f = 1 } f { print } f && /NULL/ { f = 0 }' "$SRC/policies/policy_load.c" |
	grep -oE '"[a-z_]+"' | tr -d '"' | sort -u); do
	mentions "$text" "$k" || fail "nrfca-policy.5 does not mention the key '$k'"
	n=$((n + 1))
done
# every page has the sections a man page needs
for p in "$man"/*.[0-9]; do
	t=$(page "$(basename "$p")")
	for s in NAME SYNOPSIS DESCRIPTION "SEE ALSO"; do
		[ "$s" = SYNOPSIS ] && [[ $p == *.5 ]] && continue
		grep -q "^\.SH \"*$s" "$p" || fail "$(basename "$p") has no $s section"
	done
done
[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "man pages: $(ls "$man" | wc -l) pages mention all $n options and keys"
