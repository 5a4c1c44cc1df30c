#!/bin/bash
# The speaker's memory with 1,000 and 10,000 announced addresses, in the
# lab: one node, so its speaker owns every address. The addresses are IPv6
# (2001:db8:2::1:0 upwards, on the data segment's subnet: 10,000 do not fit
# in the documentation IPv4 ranges), one LoadBalancer Service each with its
# status written and an EndpointSlice with a ready endpoint on the node,
# created over kept-alive HTTPS connections. After the speaker reports every
# address owned (ironlb_l2_addresses_owned) and 2 s of quiet, prints from
# /proc/PID/status VmRSS, RssAnon (the speaker's own heap and stacks),
# RssFile (mapped files: the binary and shared libraries, about 9 MiB of
# them libcurl/GnuTLS pages shared with every process using them) and
# VmHWM (peak), and from /proc/PID/smaps_rollup Pss (RSS with shared pages
# divided among their users) and Pss_Anon; then the speaker's CPU time over
# 10 idle seconds. Last, the speaker is restarted
# with 10,000 addresses in place (a cold start lists them all at once).
# Prints figures; never fails on them.
# Usage: tests/bench/l2_memory.sh [SIZES...] (default 1000 10000). Needs root.
# With L2_MEMORY_MASSIF=DIR the speaker runs under valgrind's massif (heap
# profiles in DIR/massif.PID, read with ms_print; the figures printed are
# then valgrind's own, and the waits longer). With L2_MEMORY_TRIM=1, each
# figure is followed by glibc's malloc_stats() totals (heap the allocator
# holds, and what of it is in use) and the figures after malloc_trim(0),
# both called in the speaker through gdb: what fragmentation costs.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/lab/lab.sh
. tests/lab/l2.sh

WAIT_S=120
if [ -n "${L2_MEMORY_MASSIF:-}" ]; then
	mkdir -p "$L2_MEMORY_MASSIF/bin" || exit 1
	L2_MEMORY_MASSIF=$(cd "$L2_MEMORY_MASSIF" && pwd)
	for f in "$LAB_BIN"/*; do ln -sf "$f" "$L2_MEMORY_MASSIF/bin/"; done
	rm -f "$L2_MEMORY_MASSIF/bin/ironlb-speaker"
	printf '#!/bin/sh\nexec valgrind -q --tool=massif --pages-as-heap=no --detailed-freq=4 --max-snapshots=200 --threshold=0.2 --massif-out-file=%s/massif.%%p %s/ironlb-speaker "$@"\n' \
		"$L2_MEMORY_MASSIF" "$LAB_BIN" >"$L2_MEMORY_MASSIF/bin/ironlb-speaker"
	chmod +x "$L2_MEMORY_MASSIF/bin/ironlb-speaker"
	LAB_BIN=$L2_MEMORY_MASSIF/bin
	WAIT_S=600
fi

SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1000 10000)

lab_init
lab_up 1 || exit 1
# Enough cluster IPs and node ports for 10,000 LoadBalancer Services.
lab_api_start --service-cluster-ip-range 2001:db8:c1::/108 --node-port-range 20000-40000 || exit 1
l2_objects_apply || exit 1
lab_kubectl apply -f - >/dev/null <<EOF || exit 1
apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata: {name: big, namespace: $L2_NS}
spec: {addresses: ["2001:db8:2::1:0/112"]}
---
apiVersion: ironlb.io/v1beta1
kind: L2Advertisement
metadata: {name: big, namespace: $L2_NS}
spec: {ipAddressPools: [big]}
EOF
lab_kubectl create namespace mem >/dev/null || exit 1

kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
rollup() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/smaps_rollup"; }
owned() {
	lab_exec node1 curl -fsS -m 2 "http://$(lab_node_mgmt_addr node1):7481/metrics" 2>/dev/null |
		awk '$1 == "ironlb_l2_addresses_owned" {print $2}'
}
# wait_owned N TIMEOUT_S
wait_owned() {
	local i o
	for i in $(seq 1 $(($2 * 5))); do
		o=$(owned)
		[ "${o%.*}" = "$1" ] && return 0
		sleep 0.2
	done
	echo "  (the speaker owns ${o:-?} addresses, not $1, after $2 s)" >&2
	return 1
}
report() { # report LABEL; sets ANON (RssAnon, KiB)
	local p=${L2_SPK_PID[node1]}
	ANON=$(kib "$p" RssAnon)
	printf '  %-26s %8s %8s %8s %8s %8s %8s KiB\n' "$1" "$(kib "$p" VmRSS)" "$(kib "$p" RssAnon)" \
		"$(kib "$p" RssFile)" "$(rollup "$p" Pss)" "$(rollup "$p" Pss_Anon)" "$(kib "$p" VmHWM)"
}

# idle_cpu: the speaker's CPU time over 10 s with nothing changing (reconcile
# passes come only from time-based inputs then, docs/l2.md).
idle_cpu() {
	local p=${L2_SPK_PID[node1]} a b hz
	hz=$(getconf CLK_TCK)
	a=$(awk '{print $14 + $15}' "/proc/$p/stat")
	sleep 10
	b=$(awk '{print $14 + $15}' "/proc/$p/stat")
	awk -v t=$((b - a)) -v hz="$hz" 'BEGIN { printf "  %-26s idle CPU over 10 s: %.2f s (%.1f %% of a core)\n", "", t / hz, t / hz * 10 }'
}

# probe LABEL (L2_MEMORY_TRIM=1): malloc_stats() totals, malloc_trim(0), report.
probe() {
	[ "${L2_MEMORY_TRIM:-}" = 1 ] || return 0
	local p=${L2_SPK_PID[node1]} log="$LAB_DIR/speaker-node1.log" n
	n=$(wc -l <"$log")
	timeout 60 gdb -p "$p" -batch -nx -ex 'call (void)malloc_stats()' \
		-ex 'call (int)malloc_trim(0)' >/dev/null 2>&1
	tail -n +$((n + 1)) "$log" | awk '/^Total/ {t = 1} t && /bytes/ {
		sub(/ *= */, " = "); printf "  %-26s malloc_stats: %s\n", "", $0 }'
	report "$1, after malloc_trim"
}

# create FROM TO: Services mem-FROM..mem-(TO-1), each with the address
# 2001:db8:2::1:0 + i in its status and an EndpointSlice.
create() {
	lab_exec api python3 - "$LAB_KUBECONFIG" "$1" "$2" "$(lab_node_addr node1)" <<'EOF'
import base64, http.client, ipaddress, json, ssl, sys, tempfile, threading, urllib.parse

kc, lo, hi, node_ip = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
server = token = ca = None
for line in open(kc):
    s = line.strip()
    if s.startswith("server:"):
        server = s.split(None, 1)[1].strip('"')
    elif s.startswith("token:"):
        token = s.split(None, 1)[1].strip('"')
    elif s.startswith("certificate-authority-data:"):
        ca = base64.b64decode(s.split(None, 1)[1].strip('"'))
u = urllib.parse.urlparse(server)
ctx = ssl.create_default_context()
with tempfile.NamedTemporaryFile(suffix=".pem") as f:
    f.write(ca)
    f.flush()
    ctx.load_verify_locations(f.name)
hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
mhdr = dict(hdr, **{"Content-Type": "application/merge-patch+json"})
base = ipaddress.IPv6Address("2001:db8:2::1:0")
errors = []

def req(c, method, path, body, h):
    c.request(method, path, body=json.dumps(body), headers=h)
    r = c.getresponse()
    r.read()
    if r.status not in (200, 201) and not errors:
        errors.append("%s %s: HTTP %d" % (method, path, r.status))

def work(w, workers):
    c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=60)
    for i in range(lo + w, hi, workers):
        name = "mem-%d" % i
        req(c, "POST", "/api/v1/namespaces/mem/services", {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": "LoadBalancer", "selector": {"app": name},
                     "ports": [{"port": 8080, "protocol": "TCP"}]}}, hdr)
        req(c, "PATCH", "/api/v1/namespaces/mem/services/%s/status" % name,
            {"status": {"loadBalancer": {"ingress": [{"ip": str(base + i)}]}}}, mhdr)
        req(c, "POST", "/apis/discovery.k8s.io/v1/namespaces/mem/endpointslices", {
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name + "-1", "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "ports": [{"port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [node_ip], "nodeName": "node1",
                           "conditions": {"ready": True}}]}, hdr)

ts = [threading.Thread(target=work, args=(w, 8)) for w in range(8)]
for t in ts:
    t.start()
for t in ts:
    t.join()
if errors:
    print(errors[0], file=sys.stderr)
    sys.exit(1)
EOF
}

l2_speaker_start node1 --log-level=warn
l2_wait_ready $((WAIT_S / 6)) || {
	echo "speaker not ready" >&2
	exit 1
}
sleep 2
echo "l2 speaker memory, one node owning every address (KiB; noisy machine)"
printf '  %-26s %8s %8s %8s %8s %8s %8s\n' "" VmRSS RssAnon RssFile Pss Pss_Anon VmHWM
report "0 addresses"
anon0=$ANON
have=0
for n in "${SIZES[@]}"; do
	start=$(date +%s.%N)
	create "$have" "$n" || exit 1
	made=$(date +%s.%N)
	wait_owned "$n" "$WAIT_S"
	settled=$(date +%s.%N)
	have=$n
	sleep 2
	report "$n addresses"
	awk -v a="$start" -v b="$made" -v c="$settled" -v n="$n" -v d=$((ANON - anon0)) 'BEGIN {
		printf "  %-26s RssAnon above idle: %d B per address; objects written in %.1f s, all owned %.1f s later\n",
			"", d * 1024 / n, b - a, c - b }'
	idle_cpu
	probe "$n addresses"
done
kill -TERM "${L2_SPK_PID[node1]}"
for i in $(seq 1 $((WAIT_S / 2))); do l2_running "${L2_SPK_PID[node1]}" || break; sleep 0.1; done
start=$(date +%s.%N)
l2_speaker_start node1 --log-level=warn
l2_wait_ready $((WAIT_S / 2)) && wait_owned "$have" "$WAIT_S"
settled=$(date +%s.%N)
sleep 2
report "$have, after a restart"
awk -v a="$start" -v c="$settled" 'BEGIN { printf "  %-26s ready and owning all %.1f s after start\n", "", c - a }'
probe "$have, after a restart"
