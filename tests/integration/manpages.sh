#!/usr/bin/env bash
# manpages.sh - every long option in each program's --help is in its man
# page (docs/NAME.8 or .1) and the other way round.
#
#   NAME --help:  an option is a line "  [-x, ]--long ..." (the first --long on it)
#   docs/NAME.8:  an option is the tag line after a .TP with "\-\-long" on it
#                 (the first one: "\-x, \-\-long ARG", as every page writes it)
#
# Fails listing, per program, each option missing on either side.
# MANDOCS=DIR checks the pages in DIR instead of docs/.
set -u
. "$(dirname "$0")/../lib/common.sh"
docs=${MANDOCS:-$(cd "$(dirname "$0")/../../docs" && pwd)}

help_opts() { # PROGRAM
	"$BUILD/$1" --help 2>&1 | grep -E '^[[:space:]]+(-[A-Za-z0-9], )?--[a-z]' |
		sed -E 's/^[[:space:]]+(-[A-Za-z0-9], )?(--[a-z][a-z0-9-]*).*/\2/' | sort -u
}
man_opts() { # PAGE
	awk '/^\.TP/ { if ((getline line) > 0) print line }' "$1" | sed 's/\\//g' |
		grep -E -- '--[a-z]' | sed -E 's/^[^-]*(-[A-Za-z0-9][^-]*)?(--[a-z][a-z0-9-]*).*/\2/' | sort -u
}

for p in pvnetd pvnet-front pvnet-nicd pvnetctl pvnet-bench pvnet-broker; do
	page=$(ls "$docs/$p".[18] 2>/dev/null | head -n1)
	if [ -z "$page" ]; then fail "$p: no man page docs/$p.8 or .1"; continue; fi
	if [ ! -x "$BUILD/$p" ]; then fail "$p: not built ($BUILD/$p)"; continue; fi
	h=$(help_opts "$p"); m=$(man_opts "$page")
	if [ -z "$h" ] || [ -z "$m" ]; then
		fail "$p: no options found (--help: $(wc -w <<<"$h"), $(basename "$page"): $(wc -w <<<"$m"))"
		continue
	fi
	only_help=$(comm -23 <(echo "$h") <(echo "$m") | tr '\n' ' ')
	only_man=$(comm -13 <(echo "$h") <(echo "$m") | tr '\n' ' ')
	check "[ -z '$only_help' ]" "$p: every --help option is in $(basename "$page")${only_help:+ (missing there: $only_help)}"
	check "[ -z '$only_man' ]" "$p: every $(basename "$page") option is in --help${only_man:+ (missing there: $only_man)}"
done
finish
