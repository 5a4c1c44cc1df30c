#!/bin/bash
# kube_client_informer.sh - the informer against kube-sim: initial list and
# synced, add/update/delete delivery, watch renewal (short timeoutSeconds),
# label selectors sent escaped, and relist after compaction: while the
# informer cannot watch, objects are deleted, added and changed and the
# history compacted; when it reconnects it gets 410, lists again and
# delivers exactly the difference, deletions included.
#
# Run from the repo root as root with IRONLB_BUILD=<repo>/build; prints
# TAP; exit 0 when every check passed. Uses only 127.0.0.1.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/kube_client_lib.sh
need_binaries

start_sim 0 || bail "kube-sim starts" "$(cat "$TMP/sim.log")"
ok "kube-sim starts on 127.0.0.1:$PORT"

kt create namespaces "" '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"t1"}}' >"$TMP/ns.out"
check "namespace t1 created" grep -q "code=201" "$TMP/ns.out"
for s in svc-a svc-b svc-c; do
	kt create services t1 "$(svc_json $s '{"tier":"front"}')" >/dev/null
done
kt create services t1 "$(svc_json svc-x '{"tier":"back"}')" >/dev/null

kt_bg inf informer services --namespace t1 --watch-timeout 2 --backoff-max 1s --dump
INF=$LAST_PID
if wait_line 15 "$TMP/inf.out" '^synced count=4 '; then
	ok "informer lists and reports synced with 4 objects"
else
	not_ok "informer lists and reports synced with 4 objects" "$(cat "$TMP/inf.out")"
fi
n=$(grep -cE '^add t1/svc-[abcx] [0-9]+$' "$TMP/inf.out")
[ "$n" -eq 4 ] && ok "an add per listed object, before synced" || not_ok "an add per listed object" "$(cat "$TMP/inf.out")"

kt_bg sel informer services --namespace t1 --selector 'tier in (front),tier!=back'
SEL=$LAST_PID
if wait_line 15 "$TMP/sel.out" '^synced count=3 '; then
	ok "a label selector with spaces, parentheses and ! is sent escaped and honoured"
else
	not_ok "a label selector is honoured" "$(cat "$TMP/sel.out")"
fi

kt create services t1 "$(svc_json svc-d)" >/dev/null
kt patch services t1 svc-a '{"metadata":{"labels":{"tier":"front","v":"2"}}}' >/dev/null
kt delete services t1 svc-b >/dev/null
if wait_line 10 "$TMP/inf.out" '^add t1/svc-d ' && wait_line 10 "$TMP/inf.out" '^update t1/svc-a [0-9]+ [0-9]+$' &&
	wait_line 10 "$TMP/inf.out" '^delete t1/svc-b '; then
	ok "watch delivers add, update (old and new resourceVersion) and delete"
else
	not_ok "watch delivers add, update and delete" "$(cat "$TMP/inf.out")"
fi
if wait_line 10 "$TMP/sel.out" '^delete t1/svc-b ' && ! grep -q 'svc-d' "$TMP/sel.out"; then
	ok "the selector informer sees only matching objects"
else
	not_ok "the selector informer sees only matching objects" "$(cat "$TMP/sel.out")"
fi

# Watches end every 2 s (timeoutSeconds); a change after that still arrives.
sleep 5
kt patch services t1 svc-c '{"metadata":{"labels":{"tier":"front","late":"yes"}}}' >/dev/null
if wait_line 10 "$TMP/inf.out" '^update t1/svc-c '; then
	ok "the watch is renewed after timeoutSeconds and keeps delivering"
else
	not_ok "the watch is renewed after timeoutSeconds" "$(cat "$TMP/inf.out")"
fi
if ! grep -q '^error' "$TMP/inf.out"; then
	ok "no errors while the server ends watches normally"
else
	not_ok "no errors while the server ends watches normally" "$(grep '^error' "$TMP/inf.out")"
fi

# Disconnect: every GET (list and watch) fails, open watches are dropped.
fault '{"errorPercent":100,"errorCode":503,"methods":["GET"],"includeWatches":true,"dropWatches":true}'
check "fault injection accepted" grep -q "code=200" "$TMP/fault.out"
wait_line 10 "$TMP/inf.out" '^error kind=watch .*code=503' &&
	ok "the informer reports the failed watch with its code and retries" ||
	not_ok "the informer reports the failed watch" "$(tail -5 "$TMP/inf.out")"
kt delete services t1 svc-c >/dev/null
kt delete services t1 svc-x >/dev/null
kt create services t1 "$(svc_json svc-e)" >/dev/null
kt patch services t1 svc-d '{"metadata":{"labels":{"changed":"offline"}}}' >/dev/null
fault '{"compact":true}'
check "history compacted" grep -q "compactedResourceVersion" "$TMP/fault.out"
lines_before=$(wc -l <"$TMP/inf.out")
fault '{"reset":true}'

if wait_line 20 "$TMP/inf.out" '^error kind=expired .*code=410'; then
	ok "after reconnecting, the watch gets 410 Gone and the informer relists"
else
	not_ok "after reconnecting, the watch gets 410 Gone" "$(tail -20 "$TMP/inf.out")"
fi
wait_line 10 "$TMP/inf.out" '^delete t1/svc-x '
tail -n +"$((lines_before + 1))" "$TMP/inf.out" | grep -E '^(add|update|delete) ' | sort >"$TMP/diff.out"
want=$(printf '%s\n' "add t1/svc-e" "delete t1/svc-c" "delete t1/svc-x" "update t1/svc-d" | sort)
got=$(awk '{print $1, $2}' "$TMP/diff.out")
if [ "$got" = "$want" ]; then
	ok "the relist delivers exactly the changes missed, deletions included"
else
	not_ok "the relist delivers exactly the changes missed" "got:" "$got" "want:" "$want"
fi
if grep -q '^synced' <(tail -n +"$((lines_before + 1))" "$TMP/inf.out"); then
	not_ok "synced is reported once only" "$(cat "$TMP/inf.out")"
else
	ok "synced is reported once only"
fi

# The cache matches the server, object for object.
kt create services t1 "$(svc_json svc-f)" >/dev/null
wait_line 10 "$TMP/inf.out" '^add t1/svc-f '
sleep 0.5
stop_bg "$INF"
rc=$?
[ $rc -eq 0 ] && ok "informer stops on SIGTERM with status 0 (no leak, no sanitizer error)" ||
	not_ok "informer stops cleanly" "rc=$rc" "$(tail -30 "$TMP/inf.out")"
grep '^cache ' "$TMP/inf.out" | awk '{print $2, $3}' | sort >"$TMP/cache"
kt list services t1 | awk '/^item/ {print $2, $3}' | sort >"$TMP/server"
if [ -s "$TMP/server" ] && diff "$TMP/cache" "$TMP/server" >/dev/null; then
	ok "the informer's cache equals the server's objects and resourceVersions"
else
	not_ok "the informer's cache equals the server's objects" "$(diff "$TMP/cache" "$TMP/server")"
fi
stats=$(grep '^stats' "$TMP/inf.out")
watches=$(sed -n 's/.* watches=\([0-9]*\).*/\1/p' <<<"$stats")
relists=$(sed -n 's/.* relists=\([0-9]*\).*/\1/p' <<<"$stats")
if [ "${watches:-0}" -ge 3 ] && [ "${relists:-0}" -ge 1 ]; then
	ok "stats: $watches watches (renewed), $relists relist"
else
	not_ok "stats show renewed watches and a relist" "$stats"
fi
stop_bg "$SEL"
rc=$?
[ $rc -eq 0 ] && ok "selector informer stops cleanly" || not_ok "selector informer stops cleanly" "rc=$rc" "$(tail "$TMP/sel.out")"
finish
