#!/bin/bash
# The three binaries as a user meets them: --help documents every flag the
# option table accepts, --version, one-line errors and exit 2 for unknown
# flags and bad values; the daemons serve /healthz, /readyz and /metrics
# (parsed with the Prometheus client's parser), log valid JSON with
# --log-format=json, and exit 0 within 1 s of SIGTERM or SIGINT; ironlbctl
# talks to a running speaker over its 0600 control socket, which the speaker
# removes when it exits.
#
# Run from the repository root with IRONLB_BUILD=<repo>/build. Uses only
# 127.0.0.1 and free ports; every wait is bounded; the temporary directory
# and any daemon still running are removed on every exit path.
set -uo pipefail

BUILD=${IRONLB_BUILD:-$PWD/build}
BIN=$BUILD/bin
ROOT=$PWD
TMP=$(mktemp -d /tmp/ironlb-binaries.XXXXXX)
PIDS=()

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

n=0
failed=0
ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	shift
	local line
	for line in "$@"; do
		printf '%s\n' "$line" | sed 's/^/# /'
	done
}
# A python3 with prometheus_client: Debian's, even when another python3
# comes first in PATH.
PY=
for p in /usr/bin/python3 python3; do
	if "$p" -c 'import prometheus_client' 2>/dev/null; then
		PY=$p
		break
	fi
done

CURL=(curl -s --max-time 2)

free_port() {
	"${PY:-python3}" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# The long flags of a binary's option table, one per line. Daemons include
# the common flags through DAEMON_COMMON_OPTIONS from daemon.h.
source_flags() {
	local src=$1
	{
		grep -oE '\{ *"[a-z0-9-]+", *(no|required|optional)_argument' "$src"
		if grep -q 'DAEMON_COMMON_OPTIONS' "$src"; then
			grep -oE '\{ *"[a-z0-9-]+", *(no|required|optional)_argument' \
				"$ROOT/include/ironlb/daemon.h"
		fi
	} | sed -E 's/^\{ *"([a-z0-9-]+)".*/\1/' | sort -u
}

# ---- per-binary flag handling ----

# check_help_and_version BINARY SOURCE: --help lists every long flag of the
# option table in SOURCE; --version prints one line "BINARY X.Y.Z...".
check_help_and_version() {
	local b=$1 src=$2 out rc flags missing=() f
	out=$("$BIN/$b" --help 2>"$TMP/err")
	rc=$?
	if [ $rc -eq 0 ] && [ ! -s "$TMP/err" ]; then
		ok "$b --help exits 0 and writes to stdout only"
	else
		not_ok "$b --help exits 0 and writes to stdout only" "rc=$rc" "$(cat "$TMP/err")"
	fi
	flags=$(source_flags "$ROOT/$src")
	if [ "$(wc -l <<<"$flags")" -lt 3 ]; then
		not_ok "$b: flags found in $src" "$flags"
	else
		ok "$b: $(wc -l <<<"$flags") flags found in $src"
	fi
	for f in $flags; do
		grep -qE -- "--$f([^a-z0-9-]|\$)" <<<"$out" || missing+=("--$f")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		ok "$b --help documents every flag of its option table"
	else
		not_ok "$b --help documents every flag of its option table" \
			"undocumented: ${missing[*]}"
	fi

	out=$("$BIN/$b" --version 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [[ "$out" =~ ^$b\ [0-9]+\.[0-9]+\.[0-9]+ ]] &&
		[ "$(wc -l <<<"$out")" -eq 1 ]; then
		ok "$b --version prints its name and version ($out)"
	else
		not_ok "$b --version prints its name and version" "rc=$rc" "$out"
	fi
}

# expect_flag_error BINARY FLAGNAME ARGS...: exit 2, nothing on stdout,
# exactly one line on stderr, naming the flag.
expect_flag_error() {
	local b=$1 flag=$2 out err rc what
	shift 2
	what="$b ${*//$TMP\//}"
	out=$(timeout 5 "$BIN/$b" "$@" 2>"$TMP/err")
	rc=$?
	err=$(cat "$TMP/err")
	if [ $rc -eq 2 ] && [ -z "$out" ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] &&
		grep -qF -- "$flag" "$TMP/err"; then
		ok "$what exits 2 with one line naming $flag"
	else
		not_ok "$what exits 2 with one line naming $flag" "rc=$rc" "stdout: $out" \
			"stderr: $err"
	fi
}

check_help_and_version ironlb-controller controller/main.c
check_help_and_version ironlb-speaker speaker/main.c
check_help_and_version ironlbctl speaker/ctl/ironlbctl.c

# Flags that keep a daemon that wrongly starts anyway off shared ports and
# paths: everything these checks run stays in $TMP and on 127.0.0.1.
CTL=(--health-addr 127.0.0.1:0)
SPK=(--node-name node-a --control-socket "$TMP/unused.sock" --health-addr 127.0.0.1:0
	--heartbeat-key-file "$TMP/hb.key" --bird-config "$TMP/bird/bird.conf"
	--bird-socket "$TMP/bird/bird.ctl")
# The speaker needs a heartbeat key and an API server; this one is never
# there (a closed port), so the speaker runs but never becomes ready.
printf 'lab-heartbeat-key-0123456789abcdef\n' >"$TMP/hb.key"
cat >"$TMP/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: none
  cluster:
    server: https://127.0.0.1:1
    insecure-skip-tls-verify: true
users:
- name: none
  user:
    token: none
contexts:
- name: none
  context:
    cluster: none
    user: none
current-context: none
EOF
for b in ironlb-controller ironlb-speaker ironlbctl; do
	extra=()
	[ $b = ironlb-controller ] && extra=("${CTL[@]}")
	[ $b = ironlb-speaker ] && extra=("${SPK[@]}")
	expect_flag_error $b --no-such-flag "${extra[@]}" --no-such-flag
	expect_flag_error $b --no-such-flag "${extra[@]}" --no-such-flag=1
	expect_flag_error $b -q "${extra[@]}" -q
	expect_flag_error $b -x "${extra[@]}" -xy
	expect_flag_error $b --help --help=yes
	expect_flag_error $b --version --version=1
	# A value given to a flag that takes none is not a missing value.
	if grep -q 'missing' "$TMP/err"; then
		not_ok "$b --version=1 is not reported as a missing value" "$(cat "$TMP/err")"
	else
		ok "$b --version=1 is not reported as a missing value"
	fi
done
# Abbreviations are not flags: a new flag must never change what an old
# command line means.
expect_flag_error ironlb-controller --log-l "${CTL[@]}" --log-l debug
expect_flag_error ironlb-speaker --node --node node-a --control-socket "$TMP/unused.sock" \
	--health-addr 127.0.0.1:0
expect_flag_error ironlbctl --sock --sock /x status

for b in ironlb-controller ironlb-speaker; do
	extra=("${CTL[@]}")
	[ $b = ironlb-speaker ] && extra=("${SPK[@]}")
	expect_flag_error $b --log-level "${extra[@]}" --log-level=loud
	expect_flag_error $b --log-level "${extra[@]}" --log-level
	expect_flag_error $b --log-format "${extra[@]}" --log-format=xml
	expect_flag_error $b --health-addr "${extra[@]}" --health-addr=nonsense
	expect_flag_error $b --health-addr "${extra[@]}" --health-addr 127.0.0.1:70000
	expect_flag_error $b --namespace "${extra[@]}" --namespace=Bad_NS
	expect_flag_error $b --kubeconfig "${extra[@]}" --kubeconfig "$TMP/no-such-kubeconfig"
done
expect_flag_error ironlb-controller --leader-elect --leader-elect=maybe
expect_flag_error ironlb-controller --ip-mode --ip-mode=x
expect_flag_error ironlb-controller --default-class --default-class=perhaps
expect_flag_error ironlb-controller --leader-elect-retry-period --leader-elect-retry-period=2
expect_flag_error ironlb-controller --leader-elect-lease-duration \
	--leader-elect-lease-duration=5s --leader-elect-renew-deadline=10s
expect_flag_error ironlb-controller --lb-class "--lb-class=a b"
expect_flag_error ironlb-speaker --node-name --node-name='a b' --control-socket "$TMP/unused.sock"
expect_flag_error ironlb-speaker --node-name --node-name=Node_1 --control-socket "$TMP/unused.sock"
expect_flag_error ironlb-speaker --control-socket --node-name n --control-socket ''
# Without --node-name and without NODE_NAME, the speaker says which flag.
out=$(env -u NODE_NAME timeout 5 "$BIN/ironlb-speaker" --control-socket "$TMP/unused.sock" \
	--health-addr 127.0.0.1:0 2>"$TMP/err")
rc=$?
if [ $rc -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q -- '--node-name' "$TMP/err"; then
	ok "ironlb-speaker without a node name exits 2 naming --node-name"
else
	not_ok "ironlb-speaker without a node name exits 2 naming --node-name" "rc=$rc" \
		"$(cat "$TMP/err")"
fi
expect_flag_error ironlbctl --timeout --timeout=forever status
expect_flag_error ironlbctl --socket --socket '' status
expect_flag_error ironlbctl command bogus-command
expect_flag_error ironlbctl command
if [ -e "$TMP/unused.sock" ]; then
	not_ok "no flag error left a control socket behind"
else
	ok "no flag error left a control socket behind"
fi

# ---- running daemons ----

# wait_healthz PORT PID: until /healthz answers (at most 5 s) or PID died.
wait_healthz() {
	local port=$1 pid=$2 i
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || return 1
		"${CURL[@]}" -o /dev/null "http://127.0.0.1:$port/healthz" && return 0
		sleep 0.1
	done
	return 1
}

# stop_within PID SIGNAL: sends SIGNAL and waits at most 5 s; sets STOP_RC
# and STOP_MS. A process still alive then is killed (rc 137).
stop_within() {
	local pid=$1 sig=$2 t0 t1 i
	t0=$(date +%s%N)
	kill -s "$sig" "$pid"
	for i in $(seq 500); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.01
	done
	t1=$(date +%s%N)
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
	fi
	wait "$pid"
	STOP_RC=$?
	STOP_MS=$(((t1 - t0) / 1000000))
}

forget_pid() {
	local keep=() p
	for p in "${PIDS[@]}"; do
		[ "$p" != "$1" ] && keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

check_metrics() {
	local b=$1 port=$2 component=$3 ctype
	ctype=$("${CURL[@]}" -o "$TMP/metrics" -w '%{http_code} %{content_type}' \
		"http://127.0.0.1:$port/metrics")
	if [[ "$ctype" == "200 text/plain; version=0.0.4"* ]]; then
		ok "$b /metrics answers 200 in the text format 0.0.4"
	else
		not_ok "$b /metrics answers 200 in the text format 0.0.4" "$ctype"
	fi
	if [ -z "$PY" ]; then
		not_ok "$b /metrics parses with prometheus_client" "no python3 with prometheus_client"
		return
	fi
	if out=$("$PY" - "$TMP/metrics" "$component" 2>&1 <<'EOF'
import sys
from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1]).read()
component = sys.argv[2]
samples = {}
for family in text_string_to_metric_families(text):
    for s in family.samples:
        samples.setdefault(s.name, []).append(s)
for name in ("process_resident_memory_bytes", "process_open_fds",
             "process_start_time_seconds", "ironlb_build_info"):
    if name not in samples:
        sys.exit("missing " + name)
if not samples["process_resident_memory_bytes"][0].value > 0:
    sys.exit("process_resident_memory_bytes is not positive")
if not samples["process_open_fds"][0].value >= 3:
    sys.exit("process_open_fds below 3")
import time
start = samples["process_start_time_seconds"][0].value
if not time.time() - 600 < start <= time.time() + 1:
    sys.exit("process_start_time_seconds %r is not recent" % start)
info = samples["ironlb_build_info"][0]
if info.value != 1 or info.labels.get("component") != component or not info.labels.get("version"):
    sys.exit("ironlb_build_info is %r" % (info,))
print("%d families" % len(list(text_string_to_metric_families(text))))
EOF
	); then
		ok "$b /metrics parses with prometheus_client and has the process and build metrics ($out)"
	else
		not_ok "$b /metrics parses with prometheus_client and has the process and build metrics" \
			"$out" "$(head -c 2000 "$TMP/metrics")"
	fi
}

# All of stderr's lines are JSON objects with ts, level, comp and msg.
check_json_log() {
	local b=$1 file=$2 out
	if out=$("${PY:-python3}" - "$file" 2>&1 <<'EOF'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
if not lines:
    sys.exit("no log lines")
for i, line in enumerate(lines, 1):
    try:
        obj = json.loads(line)
    except ValueError as e:
        sys.exit("line %d is not JSON (%s): %s" % (i, e, line))
    for key in ("ts", "level", "comp", "msg"):
        if not isinstance(obj, dict) or key not in obj:
            sys.exit("line %d lacks %s: %s" % (i, key, line))
print("%d lines" % len(lines))
EOF
	); then
		ok "$b --log-format=json writes only JSON lines on stderr ($out)"
	else
		not_ok "$b --log-format=json writes only JSON lines on stderr" "$out"
	fi
}

check_probes() {
	local b=$1 port=$2 code body
	code=$("${CURL[@]}" -o "$TMP/body" -w '%{http_code}' "http://127.0.0.1:$port/healthz")
	body=$(cat "$TMP/body")
	if [ "$code" = 200 ] && [ "$body" = ok ]; then
		ok "$b /healthz answers 200 ok"
	else
		not_ok "$b /healthz answers 200 ok" "$code $body"
	fi
	code=$("${CURL[@]}" -o "$TMP/body" -w '%{http_code}' "http://127.0.0.1:$port/readyz")
	body=$(cat "$TMP/body")
	if [ "$code" = 503 ] && [[ "$body" == "not ready: "?* ]]; then
		ok "$b /readyz answers 503 with a reason before it is synced ($body)"
	else
		not_ok "$b /readyz answers 503 with a reason before it is synced" "$code $body"
	fi
}

check_stop() {
	local b=$1 pid=$2 sig=$3
	stop_within "$pid" "$sig"
	forget_pid "$pid"
	if [ "$STOP_RC" = 0 ] && [ "$STOP_MS" -le 1000 ]; then
		ok "$b exits 0 within 1 s of SIG$sig (${STOP_MS} ms)"
	else
		not_ok "$b exits 0 within 1 s of SIG$sig" "rc=$STOP_RC after ${STOP_MS} ms"
	fi
}

# The controller, once per signal; JSON logs the first time.
for sig in TERM INT; do
	port=$(free_port)
	fmt=text
	[ $sig = TERM ] && fmt=json
	"$BIN/ironlb-controller" --health-addr "127.0.0.1:$port" --namespace ironlb-test \
		--log-format=$fmt 2>"$TMP/ctrl.$sig.err" &
	pid=$!
	PIDS+=("$pid")
	if ! wait_healthz "$port" "$pid"; then
		not_ok "ironlb-controller serves /healthz on 127.0.0.1:$port" \
			"$(cat "$TMP/ctrl.$sig.err")"
		continue
	fi
	if [ $sig = TERM ]; then
		check_probes ironlb-controller "$port"
		check_metrics ironlb-controller "$port" controller
	fi
	check_stop ironlb-controller "$pid" $sig
	[ $fmt = json ] && check_json_log ironlb-controller "$TMP/ctrl.$sig.err"
done

# The speaker, once per signal, with ironlbctl against it the first time.
for sig in TERM INT; do
	port=$(free_port)
	sock=$TMP/run/speaker.$sig.sock
	fmt=text
	[ $sig = TERM ] && fmt=json
	NODE_NAME=ignored-when-flag-given "$BIN/ironlb-speaker" --node-name node-a \
		--health-addr "127.0.0.1:$port" --control-socket "$sock" --namespace ironlb-test \
		--heartbeat-key-file "$TMP/hb.key" --kubeconfig "$TMP/kubeconfig" \
		--heartbeat-addr 127.0.0.1:0 --bird-config "$TMP/bird/bird.conf" \
		--bird-socket "$TMP/bird/bird.ctl" --log-format $fmt 2>"$TMP/spk.$sig.err" &
	pid=$!
	PIDS+=("$pid")
	if ! wait_healthz "$port" "$pid"; then
		not_ok "ironlb-speaker serves /healthz on 127.0.0.1:$port" \
			"$(cat "$TMP/spk.$sig.err")"
		continue
	fi
	mode=$(stat -c %a "$sock" 2>&1)
	if [ -S "$sock" ] && [ "$mode" = 600 ]; then
		ok "ironlb-speaker control socket is a socket with mode 0600"
	else
		not_ok "ironlb-speaker control socket is a socket with mode 0600" "$mode"
	fi
	if [ $sig = TERM ]; then
		check_probes ironlb-speaker "$port"
		check_metrics ironlb-speaker "$port" speaker

		out=$(timeout 10 "$BIN/ironlbctl" --socket "$sock" status 2>&1)
		rc=$?
		if [ $rc -eq 0 ] && grep -q 'node-a' <<<"$out"; then
			ok "ironlbctl status prints the speaker's node name"
		else
			not_ok "ironlbctl status prints the speaker's node name" "rc=$rc" "$out"
		fi
		timeout 10 "$BIN/ironlbctl" --socket "$sock" status --json >"$TMP/status.json" \
			2>"$TMP/err"
		rc=$?
		if [ $rc -eq 0 ] && "${PY:-python3}" -c '
import json, sys
st = json.load(open(sys.argv[1]))
assert st["node"] == "node-a", st
assert st["namespace"] == "ironlb-test", st
assert isinstance(st["addresses"], list) and isinstance(st["peers"], list), st
assert st["ready"] is False, st
' "$TMP/status.json" 2>>"$TMP/err"; then
			ok "ironlbctl status --json prints JSON with the node name"
		else
			not_ok "ironlbctl status --json prints JSON with the node name" "rc=$rc" \
				"$(cat "$TMP/status.json" "$TMP/err")"
		fi
	fi
	check_stop ironlb-speaker "$pid" $sig
	if [ ! -e "$sock" ]; then
		ok "ironlb-speaker removes its control socket on SIG$sig"
	else
		not_ok "ironlb-speaker removes its control socket on SIG$sig"
	fi
	[ $fmt = json ] && check_json_log ironlb-speaker "$TMP/spk.$sig.err"
done

# ironlbctl with nobody listening.
out=$(timeout 10 "$BIN/ironlbctl" --socket "$TMP/run/absent.sock" status 2>"$TMP/err")
rc=$?
if [ $rc -eq 1 ] && [ -z "$out" ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] &&
	grep -q "$TMP/run/absent.sock" "$TMP/err"; then
	ok "ironlbctl against a missing socket exits 1 with one line naming it"
else
	not_ok "ironlbctl against a missing socket exits 1 with one line naming it" "rc=$rc" \
		"$(cat "$TMP/err")"
fi

echo "1..$n"
[ $failed -eq 0 ]
