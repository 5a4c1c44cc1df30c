#!/bin/bash
# kube_client_auth.sh - authentication and TLS against kube-sim: a wrong
# bearer token gets 401 reported with its Status reason (requests and an
# informer, which keeps retrying without crashing); a tokenFile that is
# rotated to the right token is re-read after the 401 and the informer
# syncs; TLS verification against the kubeconfig's CA (a foreign CA fails
# with EPROTO; insecure-skip-tls-verify works); a kubeconfig in JSON with
# relative file paths works; x509 client certificates (data and files)
# authenticate, one from another CA does not; a bad kubeconfig is a clear
# one-line error.
#
# Run from the repo root as root with IRONLB_BUILD=<repo>/build; prints
# TAP; exit 0 when every check passed. Uses only 127.0.0.1.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/kube_client_lib.sh
need_binaries

start_sim 0 --client-cert-kubeconfig-out "$TMP/kc-cert" || bail "kube-sim starts" "$(cat "$TMP/sim.log")"
ok "kube-sim starts on 127.0.0.1:$PORT"
TOKEN=$(awk '/token:/ {print $2}' "$KC")
CA_DATA=$(awk '/certificate-authority-data:/ {print $2}' "$KC")
echo "$CA_DATA" | base64 -d >"$TMP/ca.crt"

# kubeconfig FILE USER-YAML [CLUSTER-EXTRA-YAML]
kubeconfig() {
	cat >"$1" <<EOK
apiVersion: v1
kind: Config
current-context: c
contexts:
- name: c
  context: {cluster: k, user: u, namespace: default}
clusters:
- name: k
  cluster:
    server: $SERVER
${3:-    certificate-authority-data: $CA_DATA}
users:
- name: u
  user:
$2
EOK
}
ktc() {
	local kc=$1
	shift
	timeout 60 "$KT" --kubeconfig "$kc" "$@"
}

kubeconfig "$TMP/kc-bad" "    token: not-the-token"
out=$(ktc "$TMP/kc-bad" get services default kubernetes 2>&1)
rc=$?
if [ $rc -eq 1 ] && grep -q 'code=401 err=-13 .*reason=Unauthorized' <<<"$out"; then
	ok "a wrong token: 401, EACCES, reason Unauthorized, exit status 1"
else
	not_ok "a wrong token gets 401 Unauthorized" "rc=$rc" "$out"
fi

"$KT" --kubeconfig "$TMP/kc-bad" informer services --backoff-max 500ms >"$TMP/inf-bad.out" 2>&1 &
P=$!
PIDS+=($P)
sleep 3
stop_bg $P
rc=$?
n=$(grep -c '^error kind=list .*code=401 reason=Unauthorized' "$TMP/inf-bad.out")
if [ "$n" -ge 3 ] && [ $rc -eq 0 ] && ! grep -q '^synced' "$TMP/inf-bad.out"; then
	ok "an informer with a wrong token reports each 401 and keeps retrying ($n attempts), then stops cleanly"
else
	not_ok "an informer with a wrong token retries" "rc=$rc" "$(cat "$TMP/inf-bad.out")"
fi

# tokenFile, relative to the kubeconfig's directory, rotated while running.
mkdir -p "$TMP/conf"
echo "stale-token" >"$TMP/conf/token"
kubeconfig "$TMP/conf/kc" "    tokenFile: token"
"$KT" --kubeconfig "$TMP/conf/kc" informer services --backoff-max 500ms >"$TMP/inf-rot.out" 2>&1 &
P=$!
PIDS+=($P)
wait_line 10 "$TMP/inf-rot.out" 'code=401'
echo "$TOKEN" >"$TMP/conf/token.new"
mv "$TMP/conf/token.new" "$TMP/conf/token"
if wait_line 10 "$TMP/inf-rot.out" '^synced count=1 '; then
	ok "after a 401 the rotated token file is re-read and the informer syncs"
else
	not_ok "the rotated token file is re-read after a 401" "$(cat "$TMP/inf-rot.out")"
fi
stop_bg $P
rc=$?
[ $rc -eq 0 ] && ok "and stops cleanly" || not_ok "and stops cleanly" "rc=$rc" "$(tail -20 "$TMP/inf-rot.out")"

# TLS: the CA of another kube-sim does not vouch for this one.
OTHER=$TMP/other
mkdir -p "$OTHER"
"$SIM" --listen 127.0.0.1:0 --kubeconfig-out "$OTHER/kc" --client-cert-kubeconfig-out "$OTHER/kc-cert" \
	>"$OTHER/log" 2>&1 &
P=$!
PIDS+=($P)
wait_for 10 test -s "$OTHER/kc"
OTHER_CA=$(awk '/certificate-authority-data:/ {print $2}' "$OTHER/kc")
stop_bg $P
kubeconfig "$TMP/kc-ca" "    token: $TOKEN" "    certificate-authority-data: $OTHER_CA"
out=$(ktc "$TMP/kc-ca" get services default kubernetes 2>&1)
if grep -q 'code=0 err=-71 ' <<<"$out" && grep -qi 'certificate' <<<"$out"; then
	ok "a server certificate from another CA is refused (EPROTO, message names the certificate)"
else
	not_ok "a server certificate from another CA is refused" "$out"
fi
kubeconfig "$TMP/kc-insecure" "    token: $TOKEN" "    insecure-skip-tls-verify: true"
out=$(ktc "$TMP/kc-insecure" get services default kubernetes 2>&1)
grep -q 'code=200 err=0' <<<"$out" && ok "insecure-skip-tls-verify: true connects without a CA" ||
	not_ok "insecure-skip-tls-verify connects" "$out"
cp "$TMP/ca.crt" "$TMP/conf/ca.crt"
kubeconfig "$TMP/conf/kc-file" "    token: $TOKEN" "    certificate-authority: ca.crt"
out=$(ktc "$TMP/conf/kc-file" get services default kubernetes 2>&1)
grep -q 'code=200 err=0' <<<"$out" && ok "certificate-authority as a path relative to the kubeconfig" ||
	not_ok "certificate-authority as a relative path" "$out"

# x509 client certificates, from the kubeconfig's data and from files (the
# client hands them to curl as sealed memfds where curl's TLS backend takes
# no blobs, lib/kube_curl.c); no token in either.
field() { awk -v k="$1:" '$1 == k {print $2}' "$2"; }
out=$(ktc "$TMP/kc-cert" get services default kubernetes 2>&1)
grep -q 'code=200 err=0' <<<"$out" && ok "a client certificate and key from client-*-data authenticate" ||
	not_ok "a client certificate from client-*-data authenticates" "$out" "$(cat "$TMP/kc-cert")"
field client-certificate-data "$TMP/kc-cert" | base64 -d >"$TMP/conf/client.crt"
field client-key-data "$TMP/kc-cert" | base64 -d >"$TMP/conf/client.key"
kubeconfig "$TMP/conf/kc-certfiles" "    client-certificate: client.crt
    client-key: client.key"
out=$(ktc "$TMP/conf/kc-certfiles" get services default kubernetes 2>&1)
grep -q 'code=200 err=0' <<<"$out" && ok "a client certificate and key from files authenticate" ||
	not_ok "a client certificate and key from files authenticate" "$out"
kubeconfig "$TMP/kc-othercert" "    client-certificate-data: $(field client-certificate-data "$OTHER/kc-cert")
    client-key-data: $(field client-key-data "$OTHER/kc-cert")"
out=$(ktc "$TMP/kc-othercert" get services default kubernetes 2>&1)
if ! grep -q 'code=200' <<<"$out" && grep -qE 'code=(0|401) ' <<<"$out"; then
	ok "a client certificate from another CA is refused"
else
	not_ok "a client certificate from another CA is refused" "$out"
fi
if command -v kubectl >/dev/null; then
	out=$(timeout 30 kubectl --kubeconfig "$TMP/kc-cert" get namespace default -o name 2>&1)
	[ "$out" = namespace/default ] && ok "kubectl authenticates with kube-sim's client certificate" ||
		not_ok "kubectl authenticates with kube-sim's client certificate" "$out"
fi

printf '{\n\t"apiVersion": "v1",\n\t"current-context": "c",\n\t"contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],\n\t"clusters": [{"name": "k", "cluster": {"server": "%s", "certificate-authority": "ca.crt"}}],\n\t"users": [{"name": "u", "user": {"tokenFile": "token"}}]\n}\n' \
	"$SERVER" >"$TMP/conf/kc.json"
out=$(ktc "$TMP/conf/kc.json" get services default kubernetes 2>&1)
grep -q 'code=200 err=0' <<<"$out" && ok "a JSON kubeconfig (tabs, relative paths, tokenFile) works" ||
	not_ok "a JSON kubeconfig works" "$out"

kubeconfig "$TMP/kc-broken" "    client-certificate: missing.crt"
out=$(ktc "$TMP/kc-broken" get services default kubernetes 2>&1)
rc=$?
if [ $rc -eq 2 ] && [ "$(wc -l <<<"$out")" -eq 1 ] &&
	grep -q "kc-broken: users\[0\].user.client-certificate: cannot read" <<<"$out"; then
	ok "a bad kubeconfig: one line naming the file and the field"
else
	not_ok "a bad kubeconfig: one line naming the file and the field" "rc=$rc" "$out"
fi
finish
