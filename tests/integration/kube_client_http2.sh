#!/bin/bash
# kube_client_http2.sh - the transport against kube-sim: HTTP/2 is
# negotiated over TLS, 50 concurrent requests are multiplexed over one
# connection (seen by the client's connection count and by kube-sim's
# request log), watches share that connection, HTTP/1.1 is used when asked
# for or over plain HTTP, and request metrics/retries behave with faults
# (429 with Retry-After is retried transparently).
#
# Run from the repo root as root with IRONLB_BUILD=<repo>/build; prints
# TAP; exit 0 when every check passed. Uses only 127.0.0.1.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/kube_client_lib.sh
need_binaries

start_sim 0 --log-requests || bail "kube-sim starts" "$(cat "$TMP/sim.log")"
ok "kube-sim starts on 127.0.0.1:$PORT (TLS)"

out=$(kt get services default kubernetes)
grep -q '^code=200 err=0 http=2 ' <<<"$out" && ok "HTTP/2 is used over TLS" || not_ok "HTTP/2 is used over TLS" "$out"
grep -q 'HTTP/2.0 GET /api/v1/namespaces/default/services/kubernetes' "$TMP/sim.log" &&
	ok "kube-sim saw an HTTP/2 request" || not_ok "kube-sim saw an HTTP/2 request" "$(tail -3 "$TMP/sim.log")"

out=$(kt parallel-get 50 services default kubernetes)
if grep -q '^ok=50 http2=50 connects=1 requests=50$' <<<"$out"; then
	ok "50 concurrent requests multiplexed over one connection"
else
	not_ok "50 concurrent requests multiplexed over one connection" "$out"
fi
out=$(kt --http1 parallel-get 20 services default kubernetes)
c=$(sed -n 's/.*connects=\([0-9]*\).*/\1/p' <<<"$out")
if grep -q '^ok=20 http2=0 ' <<<"$out" && [ "${c:-0}" -gt 1 ]; then
	ok "with HTTP/1.1 concurrent requests need several connections ($c)"
else
	not_ok "HTTP/1.1 when asked for" "$out"
fi

# A 429 with Retry-After is retried inside the client: the caller sees 200.
fault '{"errorPercent":100,"errorCount":1,"errorCode":429,"retryAfterSeconds":1,"methods":["GET"]}'
out=$(kt get services default kubernetes)
grep -q '^code=200 err=0 http=2 attempts=2 ' <<<"$out" &&
	ok "429 Too Many Requests with Retry-After is retried (2 attempts)" ||
	not_ok "429 with Retry-After is retried" "$out"
fault '{"errorPercent":100,"errorCount":1,"errorCode":500,"methods":["GET"]}'
out=$(kt get services default kubernetes)
grep -q '^code=500 err=-5 http=2 attempts=1 reason=InternalError' <<<"$out" &&
	ok "a 500 without Retry-After is returned to the caller (EIO, reason)" ||
	not_ok "a 500 is returned to the caller" "$out"
fault '{"reset":true}'

start_sim_plain() {
	local kc=$TMP/plain.kc
	"$SIM" --listen 127.0.0.1:0 --kubeconfig-out "$kc" --plain-http >"$TMP/plain.log" 2>&1 &
	PIDS+=($!)
	PLAIN=$!
	wait_for 10 test -s "$kc"
}
start_sim_plain
out=$(timeout 30 "$KT" --kubeconfig "$TMP/plain.kc" get services default kubernetes)
grep -q '^code=200 err=0 http=1 ' <<<"$out" && ok "plain HTTP uses HTTP/1.1" || not_ok "plain HTTP uses HTTP/1.1" "$out"
stop_bg "$PLAIN"

# A watch stream stays open while other requests come and go.
kt_bg inf informer services --namespace default
INF=$LAST_PID
wait_line 10 "$TMP/inf.out" '^synced'
for i in 1 2 3; do kt create services default "$(svc_json s$i)" >/dev/null; done
wait_line 10 "$TMP/inf.out" '^add default/s3 ' && ok "watch events arrive over HTTP/2" ||
	not_ok "watch events arrive over HTTP/2" "$(cat "$TMP/inf.out")"
stop_bg "$INF"
rc=$?
if grep -q 'HTTP/2.0 GET /api/v1/namespaces/default/services?watch=1&allowWatchBookmarks=true&resourceVersion=' "$TMP/sim.log"; then
	ok "the watch was an HTTP/2 stream with allowWatchBookmarks and the list's resourceVersion"
else
	not_ok "the watch was an HTTP/2 stream" "$(grep watch "$TMP/sim.log" | tail -3)"
fi
[ $rc -eq 0 ] && ok "informer stops cleanly" || not_ok "informer stops cleanly" "rc=$rc" "$(tail "$TMP/inf.out")"
finish
