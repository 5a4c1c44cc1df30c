# TAP helpers shared by the L2 lab tests (tests/integration/l2_*.sh).
# Sourced after lab.sh and l2.sh. finish prints the plan, shows the
# speakers' last log lines when something failed (and keeps the logs),
# tears the lab down and exits with the result.

n=0
failed=0
ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
# not_ok NAME [DETAIL...]: each detail becomes a TAP comment line.
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	shift
	local l
	for l in "$@"; do
		echo "#   $l"
	done
}
# check NAME RC [DETAIL...]
check() {
	local name=$1 rc=$2
	shift 2
	if [ "$rc" = 0 ]; then ok "$name"; else not_ok "$name" "$@"; fi
}
finish() {
	echo "1..$n"
	if [ $failed -ne 0 ]; then
		LAB_KEEP_LOGS=1
		for f in "$LAB_DIR"/speaker-*.log; do
			echo "# --- $f"
			tail -20 "$f" | sed 's/^/#   /'
		done
	fi
	lab_down
	[ $failed -eq 0 ]
	exit $?
}
