#!/bin/bash
# kube_client_restart.sh - the informer survives the API server going
# away: kube-sim is killed (SIGKILL) while an informer watches; it comes
# back from its --state file on the same port, and while the informer still
# cannot get in (faults on every GET), objects are deleted, created and
# changed. Once it can, the informer resumes (410: a restarted server has no
# history, so it relists) and delivers those changes, deletions included;
# its cache then equals the server's. Also: writes fail cleanly, with an
# errno and no crash, while the server is down.
#
# Run from the repo root as root with IRONLB_BUILD=<repo>/build; prints
# TAP; exit 0 when every check passed. Uses only 127.0.0.1.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/kube_client_lib.sh
need_binaries
STATE=$TMP/state.json

start_sim 0 --state "$STATE" || bail "kube-sim starts with --state" "$(cat "$TMP/sim.log")"
ok "kube-sim starts on 127.0.0.1:$PORT with a state file"
for s in keep change gone; do
	kt create services default "$(svc_json $s)" >/dev/null
done
kt_bg inf informer services --namespace default --backoff-max 1s --dump
INF=$LAST_PID
wait_line 15 "$TMP/inf.out" '^synced count=4 ' && ok "informer synced (kubernetes + 3)" ||
	not_ok "informer synced" "$(cat "$TMP/inf.out")"

sleep 0.5 # let the state file catch up (debounced)
stop_sim KILL
ok "kube-sim killed with SIGKILL"
if wait_line 15 "$TMP/inf.out" '^error kind=(watch|list) .*err=(ECONNREFUSED|ECONNRESET)'; then
	ok "the informer reports the lost connection and backs off"
else
	not_ok "the informer reports the lost connection" "$(tail "$TMP/inf.out")"
fi
out=$(kt get services default keep 2>&1)
if grep -qE 'code=0 err=-111 ' <<<"$out"; then
	ok "a request while the server is down fails with ECONNREFUSED, no crash"
else
	not_ok "a request while the server is down fails cleanly" "$out"
fi

# Back on the same port, refusing GETs for now so that the informer
# cannot see the changes one by one.
start_sim "$PORT" --state "$STATE" --fault-error-percent 100 --fault-error-code 503 ||
	bail "kube-sim restarts from its state" "$(tail "$TMP/sim.log")"
ok "kube-sim restarted from its state on port $PORT"
fault '{"errorPercent":100,"errorCode":503,"methods":["GET"],"includeWatches":true}'
kt delete services default gone >"$TMP/w.out" 2>&1
kt create services default "$(svc_json new)" >>"$TMP/w.out" 2>&1
kt patch services default change '{"metadata":{"labels":{"after":"restart"}}}' >>"$TMP/w.out" 2>&1
if [ "$(grep -c 'err=0 ' "$TMP/w.out")" -eq 3 ]; then
	ok "changes made while the informer is locked out"
else
	not_ok "changes made while the informer is locked out" "$(cat "$TMP/w.out")"
fi
lines_before=$(wc -l <"$TMP/inf.out")
sleep 1.5
grep -qE '^error kind=(watch|list) .*code=503' <(tail -n +"$((lines_before + 1))" "$TMP/inf.out") &&
	ok "the informer keeps retrying against the restarted server (503s)" ||
	not_ok "the informer keeps retrying" "$(tail "$TMP/inf.out")"
lines_before=$(wc -l <"$TMP/inf.out")
fault '{"reset":true}'
wait_line 20 "$TMP/inf.out" '^delete default/gone '
sleep 0.3
tail -n +"$((lines_before + 1))" "$TMP/inf.out" | grep -E '^(add|update|delete) ' | awk '{print $1, $2}' | sort >"$TMP/diff"
want=$(printf '%s\n' "add default/new" "delete default/gone" "update default/change" | sort)
if [ "$(cat "$TMP/diff")" = "$want" ]; then
	ok "the informer resumes and delivers the changes made meanwhile, deletion included"
else
	not_ok "the informer delivers the changes made meanwhile" "got:" "$(cat "$TMP/diff")" "want:" "$want" "$(tail -20 "$TMP/inf.out")"
fi
kt create services default "$(svc_json later)" >/dev/null
wait_line 10 "$TMP/inf.out" '^add default/later ' && ok "and keeps watching afterwards" ||
	not_ok "and keeps watching afterwards" "$(tail "$TMP/inf.out")"

stop_bg "$INF"
rc=$?
[ $rc -eq 0 ] && ok "informer exits cleanly (status 0, no leak)" || not_ok "informer exits cleanly" "rc=$rc" "$(tail -30 "$TMP/inf.out")"
grep '^cache ' "$TMP/inf.out" | awk '{print $2, $3}' | sort >"$TMP/cache"
kt list services default | awk '/^item/ {print $2, $3}' | sort >"$TMP/server"
if [ -s "$TMP/server" ] && diff "$TMP/cache" "$TMP/server" >/dev/null; then
	ok "the informer's cache equals the server's objects and resourceVersions"
else
	not_ok "the informer's cache equals the server's objects" "$(diff "$TMP/cache" "$TMP/server")"
fi
finish
