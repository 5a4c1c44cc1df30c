#!/bin/bash
# docs/configuration.md carries each binary's --help text: this test fails
# when a flag changes and the page does not.
set -uo pipefail
BIN=${IRONLB_BUILD:-build}/bin
n=0
fail=0
for b in ironlb-controller ironlb-speaker ironlbctl; do
	n=$((n + 1))
	help=$("$BIN/$b" --help 2>&1)
	missing=$(while IFS= read -r line; do
		[ -z "$line" ] && continue
		grep -qxF -- "$line" docs/configuration.md || echo "$line"
	done <<<"$help")
	if [ -z "$missing" ]; then
		echo "ok $n - docs/configuration.md has every line of $b --help"
	else
		echo "not ok $n - docs/configuration.md lacks lines of $b --help"
		echo "$missing" | sed 's/^/# /'
		fail=1
	fi
done
exit $fail
