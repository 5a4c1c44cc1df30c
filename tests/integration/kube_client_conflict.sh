#!/bin/bash
# kube_client_conflict.sh - optimistic concurrency against kube-sim: two
# kubetool processes increment the same annotation with the 409-retry
# helper (GET, mutate, PUT with the resourceVersion read) at the same time;
# no increment may be lost and the conflicts must have been retried.
# Preconditions on patch and delete with a stale resourceVersion give 409
# Conflict with the Status reason.
#
# Run from the repo root as root with IRONLB_BUILD=<repo>/build; prints
# TAP; exit 0 when every check passed. Uses only 127.0.0.1.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/kube_client_lib.sh
need_binaries

start_sim 0 || bail "kube-sim starts" "$(cat "$TMP/sim.log")"
ok "kube-sim starts on 127.0.0.1:$PORT"
kt create services default "$(svc_json counter)" >"$TMP/c.out"
check "Service created" grep -q 'code=201' "$TMP/c.out"

# Latency on reads widens the window between GET and PUT, so that the two
# writers really collide.
fault '{"latencyMs":15,"methods":["GET"]}'
kt_bg w1 increment services default counter ironlb.io/count --times 25 --max-attempts 50
P1=$LAST_PID
kt_bg w2 increment services default counter ironlb.io/count --times 25 --max-attempts 50
P2=$LAST_PID
wait_for 60 grep -q '^done' "$TMP/w1.out"
wait_for 60 grep -q '^done' "$TMP/w2.out"
stop_bg "$P1" TERM
rc1=$?
stop_bg "$P2" TERM
rc2=$?
fault '{"reset":true}'
if grep -q '^done increments=25 ' "$TMP/w1.out" && grep -q '^done increments=25 ' "$TMP/w2.out" &&
	[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ]; then
	ok "both writers complete their 25 increments"
else
	not_ok "both writers complete their 25 increments" "rc=$rc1/$rc2" "$(cat "$TMP/w1.out" "$TMP/w2.out")"
fi
v=$(kt get services default counter | tail -1 | grep -o '"ironlb.io/count":"[0-9]*"' | grep -o '[0-9]*')
[ "${v:-0}" = 50 ] && ok "no lost update: the counter is 50" || not_ok "no lost update: the counter is 50" "got ${v:-none}"
c1=$(sed -n 's/.* conflicts=\([0-9]*\).*/\1/p' "$TMP/w1.out")
c2=$(sed -n 's/.* conflicts=\([0-9]*\).*/\1/p' "$TMP/w2.out")
if [ $((${c1:-0} + ${c2:-0})) -gt 0 ]; then
	ok "409 conflicts happened and were retried after re-reading ($c1 + $c2)"
else
	not_ok "409 conflicts happened and were retried" "$(cat "$TMP/w1.out" "$TMP/w2.out")"
fi

rv=$(kt get services default counter | tail -1 | grep -o '"resourceVersion":"[0-9]*"' | grep -o '[0-9]*')
kt patch services default counter '{"metadata":{"labels":{"a":"1"}}}' >/dev/null
out=$(kt patch services default counter '{"metadata":{"labels":{"a":"2"}}}' --rv "$rv")
if grep -q 'code=409 err=-116 .*reason=Conflict' <<<"$out"; then
	ok "a patch with a stale resourceVersion precondition: 409 Conflict (ESTALE)"
else
	not_ok "a patch with a stale resourceVersion: 409" "$out"
fi
out=$(kt delete services default counter --rv "$rv")
grep -q 'code=409 .*reason=Conflict' <<<"$out" && ok "a delete with a stale precondition: 409 Conflict" ||
	not_ok "a delete with a stale precondition: 409" "$out"
out=$(kt create services default "$(svc_json counter)")
grep -q 'code=409 err=-17 .*reason=AlreadyExists' <<<"$out" && ok "creating an existing object: 409 AlreadyExists (EEXIST)" ||
	not_ok "creating an existing object: 409 AlreadyExists" "$out"
out=$(kt get services default nope)
grep -q 'code=404 err=-2 .*reason=NotFound' <<<"$out" && ok "a missing object: 404 NotFound (ENOENT)" ||
	not_ok "a missing object: 404 NotFound" "$out"
out=$(kt patch services default counter '{"status":{"loadBalancer":{"ingress":[{"ip":"198.51.100.9"}]}}}' --status)
if grep -q 'code=200 err=0' <<<"$out" && grep -q '198.51.100.9' <<<"$out"; then
	ok "status subresource merge patch"
else
	not_ok "status subresource merge patch" "$out"
fi
finish
