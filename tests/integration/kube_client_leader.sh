#!/bin/bash
# kube_client_leader.sh - leader election between kubetool processes on one
# Lease in kube-sim (lease 3 s, renew deadline 2 s, retry 0.5 s):
#   - one leader at a time, the other candidates follow;
#   - the leader is SIGKILLed: another takes over once the lease expired
#     (lease duration after it last saw a renewal, plus its polling lag),
#     and not before;
#   - the leader is frozen (SIGSTOP) past its renew deadline: another takes
#     over, and the frozen one, when resumed, never acts as leader again
#     (its flag turned false by the clock, before any timer ran);
#   - a clean stop (SIGTERM) releases the Lease: the next leader takes over
#     at once instead of waiting for the lease to expire; also when the
#     Lease changed since the leader's last renewal (409, read again);
#   - over the whole run, the "leading" ticks of the processes never
#     interleave: never two leaders at once.
#
# Run from the repo root as root with IRONLB_BUILD=<repo>/build; prints
# TAP; exit 0 when every check passed. Uses only 127.0.0.1.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/kube_client_lib.sh
need_binaries
L=(--lease 3s --renew 2s --retry 500ms --tick 100ms)

start_sim 0 --log-requests || bail "kube-sim starts" "$(cat "$TMP/sim.log")"
ok "kube-sim starts on 127.0.0.1:$PORT"

ts() { awk -v w="$2" '$2 == w {print $1; exit}' "$TMP/$1.out"; }
ts_last() { awk -v w="$2" '$2 == w {t = $1} END {print t}' "$TMP/$1.out"; }
now() { date +%s.%N; }
# le A B: A <= B for decimal numbers
le() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a <= b)}'; }

kt_bg a leader default ironlb-test a "${L[@]}"
A=$LAST_PID
wait_line 10 "$TMP/a.out" ' started$' && ok "the first candidate becomes leader" ||
	bail "the first candidate becomes leader" "$(cat "$TMP/a.out")"
kt_bg b leader default ironlb-test b "${L[@]}"
B=$LAST_PID
wait_line 10 "$TMP/b.out" ' new-leader a$'
sleep 2
if grep -q ' new-leader a$' "$TMP/b.out" && ! grep -q ' started$' "$TMP/b.out"; then
	ok "the second candidate sees the leader and does not lead"
else
	not_ok "the second candidate follows" "$(cat "$TMP/b.out")"
fi
lease=$(kt get leases default ironlb-test | tail -1)
if grep -q '"holderIdentity":"a"' <<<"$lease" && grep -q '"leaseDurationSeconds":3' <<<"$lease" &&
	grep -qE '"renewTime":"[0-9-]+T[0-9:]+\.[0-9]{6}Z"' <<<"$lease"; then
	ok "the Lease names the leader, its duration and a MicroTime renewTime"
else
	not_ok "the Lease content" "$lease"
fi

# T_KILL (before the signal) bounds the takeover time from above; T_DEAD
# (once the process is reaped) is when it can no longer tick: it may tick
# between the first and the kill.
T_KILL=$(now)
kill -KILL "$A"
wait "$A" 2>/dev/null
T_DEAD=$(now)
if wait_line 10 "$TMP/b.out" ' started$'; then
	T_B=$(ts b started)
	d=$(awk -v a="$T_B" -v b="$T_KILL" 'BEGIN {printf "%.2f", a - b}')
	# The candidate sees the last renewal up to one poll (<= 1.1 s) after
	# it was written, waits the lease (3 s) from then, and acts at its next
	# poll (<= 1.1 s): at most 5.2 s plus slack. Never before the lease
	# minus one renew interval.
	if le "$d" 6.0 && le 2.4 "$d"; then
		ok "after the leader is killed, the other takes over in ${d}s (lease 3s + poll lag)"
	else
		not_ok "takeover time within the lease duration" "took ${d}s"
	fi
else
	not_ok "after the leader is killed, the other takes over" "$(cat "$TMP/b.out")"
fi
la=$(ts_last a leading)
if [ -n "$la" ] && le "$la" "$T_DEAD" && le "$la" "${T_B:-0}"; then
	ok "the killed leader's last tick precedes the new leader"
else
	not_ok "the killed leader's last tick precedes the new leader" \
		"last a: $la, a dead at: $T_DEAD, b started: ${T_B:-}"
fi

kt_bg c leader default ironlb-test c "${L[@]}"
C=$LAST_PID
wait_line 10 "$TMP/c.out" ' new-leader b$'
kill -STOP "$B"
T_STOP=$(now)
if wait_line 15 "$TMP/c.out" ' started$'; then
	T_C=$(ts c started)
	ok "with the leader frozen (SIGSTOP), another candidate takes over"
else
	not_ok "with the leader frozen, another takes over" "$(cat "$TMP/c.out")"
fi
sleep 0.5
kill -CONT "$B"
if wait_line 10 "$TMP/b.out" ' stopped$'; then
	ok "the frozen leader, resumed, is told it stopped leading"
else
	not_ok "the resumed leader is told it stopped leading" "$(tail "$TMP/b.out")"
fi
late=$(awk -v t="$T_STOP" '$2 == "leading" && $1 > t + 0.2' "$TMP/b.out")
if [ -z "$late" ]; then
	ok "the resumed leader never acts as leader again (no tick after the freeze)"
else
	not_ok "the resumed leader never acts as leader again" "$late"
fi
if wait_line 5 "$TMP/b.out" ' new-leader c$'; then
	ok "and it sees the new leader"
else
	not_ok "and it sees the new leader" "$(tail "$TMP/b.out")"
fi

sleep 1
T_TERM=$(now)
stop_bg "$C" TERM
rc=$?
if grep -q ' released err=0$' "$TMP/c.out" && [ $rc -eq 0 ]; then
	ok "the leader releases the Lease on SIGTERM and exits 0"
else
	not_ok "the leader releases the Lease on SIGTERM" "rc=$rc" "$(tail "$TMP/c.out")"
fi
started_twice() { [ "$(grep -c ' started$' "$TMP/b.out")" -ge 2 ]; }
if wait_for 10 started_twice; then
	T_B2=$(ts_last b started)
	d=$(awk -v a="$T_B2" -v b="$T_TERM" 'BEGIN {printf "%.2f", a - b}')
	if le "$d" 2.5; then
		ok "after the release, the next leader takes over in ${d}s, before the lease expires"
	else
		not_ok "after the release, the next leader takes over quickly" "took ${d}s"
	fi
else
	not_ok "after the release, the next leader takes over" "$(tail "$TMP/b.out")"
fi
sleep 1
# The Lease changes behind the leader's back (its holder stays): the
# release's write meets 409 Conflict, as when a renewal cancelled by the
# release has reached the server; it reads the Lease again and releases.
timeout 30 kubectl --kubeconfig "$KC" -n default annotate lease ironlb-test ironlb.io/bump=1 \
	--overwrite >/dev/null 2>&1
stop_bg "$B" TERM
rc=$?
[ $rc -eq 0 ] && ok "the last leader exits 0 (no leak)" || not_ok "the last leader exits 0" "rc=$rc" "$(tail -30 "$TMP/b.out")"
grep -q ' released err=0$' "$TMP/b.out" && ok "a release whose copy of the Lease is stale (409) reads it again and releases" ||
	not_ok "a release whose copy of the Lease is stale reads it again and releases" "$(tail -5 "$TMP/b.out")"
lease=$(kt get leases default ironlb-test | tail -1)
grep -q '"holderIdentity":""' <<<"$lease" && ok "the Lease is left free" || not_ok "the Lease is left free" "$lease"

# Never two leaders: sorted by time, the ticks of each process form blocks
# that do not interleave (a -> b -> c -> b: 3 switches).
for p in a b c; do awk -v p=$p '$2 == "leading" {print $1, p}' "$TMP/$p.out"; done | sort -n >"$TMP/ticks"
switches=$(awk 'NR > 1 && $2 != prev {n++} {prev = $2} END {print n + 0}' "$TMP/ticks")
order=$(awk '$2 != prev {printf "%s", $2} {prev = $2}' "$TMP/ticks")
if [ "$order" = abcb ] && [ "$switches" -eq 3 ]; then
	ok "never two leaders at once ($(wc -l <"$TMP/ticks") ticks, leaders in turn: $order)"
else
	not_ok "never two leaders at once" "order: $order" "$(awk '{print}' "$TMP/ticks" | uniq -f1 -c)"
fi
finish
