#!/bin/bash
# From a Service status update to the first frame on the wire, in the lab:
# three nodes with speakers, a capture on the client's side of the data
# segment. Three passes:
#
#   --probe-count 3, status written here   each trial writes a new address
#        into a LoadBalancer Service's status (a merge patch on the status
#        subresource, sent over a kept-alive HTTPS connection so that no
#        process start is measured); no pool names it as its next address,
#        so the owner probes first (3 probes 100 ms apart, then 100 ms of
#        quiet): about 300 ms by design
#   --probe-count 0, status written here   no probing: the reaction alone
#   --probe-count 3, with the controller   each trial creates a Service; the
#        controller gives it the pool's next address, which the owner has
#        probed ahead (status.nextIPv4), so it announces at once
#
# and reads from the capture when the new owner's first frame for the
# address went out: the first RFC 5227 ARP probe (sender IP 0.0.0.0) and
# the first gratuitous ARP. With the status written here, times count from
# the patch, and a second watcher of the Services splits the first figure
# into kube-sim's share (commit and watch fan-out) and the speaker's (watch
# event -> probe). With the controller, times count from the moment the
# status update reached that watcher (the controller's write committed and
# fanned out), and from the Service's creation. Timestamps come from one
# clock (CLOCK_REALTIME; pcap times are the kernel's receive times).
# Prints min/p50/p90/p99/max; never fails on time.
# Usage: tests/bench/l2_status_garp.sh [TRIALS] (default 30). Needs root.
# L2_PROBE_COUNT=N runs one pass with --probe-count N (L2_CONTROLLER=1: the
# pass with the controller).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
if [ -z "${L2_PROBE_COUNT:-}" ]; then
	L2_PROBE_COUNT=3 "$0" "$@"
	r=$?
	L2_PROBE_COUNT=0 "$0" "$@" || r=$?
	L2_PROBE_COUNT=3 L2_CONTROLLER=1 "$0" "$@" || r=$?
	exit $r
fi
L2_CONTROLLER=${L2_CONTROLLER:-0}
. tests/lab/lab.sh
. tests/lab/l2.sh

TRIALS=${1:-30}
IP=192.0.2.200

lab_init
lab_up 3 || exit 1
lab_api_start || exit 1
l2_objects_apply && l2_service_create web $IP || exit 1
CAP=$LAB_DIR/status.pcap
ip netns exec "$(lab_ns client)" tcpdump -i eth0 -U -w "$CAP" arp 2>/dev/null &
TCPDUMP=$!
l2_speakers_start --probe-count "$L2_PROBE_COUNT"
l2_wait_ready 20 || {
	echo "speakers not ready" >&2
	exit 1
}
l2_wait_owner $IP 10 >/dev/null || {
	echo "no agreed owner for $IP" >&2
	exit 1
}
if [ "$L2_CONTROLLER" = 1 ]; then
	# The pool has 40 addresses; web holds the first.
	[ "$TRIALS" -le 39 ] || TRIALS=39
	lab_spawn node1 controller "$LAB_BIN/ironlb-controller" --kubeconfig "$LAB_KUBECONFIG" \
		--namespace $L2_NS --health-addr "$(lab_node_mgmt_addr node1):7480" >/dev/null
	# The trials' EndpointSlices, ready on every node, before their Services.
	for t in $(seq 0 $((TRIALS - 1))); do
		echo "---"
		echo "apiVersion: discovery.k8s.io/v1"
		echo "kind: EndpointSlice"
		echo "metadata: {name: web-$t-1, namespace: default, labels: {kubernetes.io/service-name: web-$t}}"
		echo "addressType: IPv4"
		echo "ports: [{port: $L2_PORT, protocol: TCP}]"
		echo "endpoints:"
		for nd in "${LAB_NODES[@]}"; do
			echo "- {addresses: [$(lab_node_addr "$nd")], nodeName: $nd, conditions: {ready: true}}"
		done
	done >"$LAB_DIR/slices.yaml"
	lab_kubectl apply -f "$LAB_DIR/slices.yaml" >/dev/null || exit 1
	for i in $(seq 1 50); do
		[ -n "$(lab_kubectl -n $L2_NS get ipaddresspool lab -o jsonpath='{.status.nextIPv4}')" ] && break
		sleep 0.1
	done
fi
sleep 1

# One line per trial: ADDRESS T_PATCH T_RESPONSE T_WATCH (epoch seconds);
# with the controller: ADDRESS T_CREATE T_RESPONSE T_WATCH.
lab_exec api python3 - "$LAB_KUBECONFIG" "$TRIALS" "$L2_CONTROLLER" >"$LAB_DIR/trials" <<'EOF' || exit 1
import base64, http.client, json, ssl, sys, tempfile, threading, time, urllib.parse

kc, trials, controller = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
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
hdr = {"Authorization": "Bearer " + token}
conn = lambda: http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=30)

seen = {}
cond = threading.Condition()
c = conn()
c.request("GET", "/api/v1/namespaces/default/services?watch=1&timeoutSeconds=600", headers=hdr)
watch = c.getresponse()

def watcher():
    while True:
        line = watch.readline()
        if not line:
            return
        now = time.time()
        o = json.loads(line).get("object", {})
        name = o.get("metadata", {}).get("name")
        if name != "web" and not (controller and name.startswith("web-")):
            continue
        for ing in o.get("status", {}).get("loadBalancer", {}).get("ingress") or []:
            with cond:
                seen.setdefault(name if controller else ing.get("ip"), (ing.get("ip"), now))
                cond.notify_all()

threading.Thread(target=watcher, daemon=True).start()
time.sleep(0.5)
p = conn()
if controller:
    jh = dict(hdr, **{"Content-Type": "application/json"})
    for t in range(trials):
        name = "web-%d" % t
        body = json.dumps({"apiVersion": "v1", "kind": "Service",
                           "metadata": {"name": name, "namespace": "default"},
                           "spec": {"type": "LoadBalancer", "selector": {"app": name},
                                    "ports": [{"port": 8080, "protocol": "TCP"}]}})
        t0 = time.time()
        p.request("POST", "/api/v1/namespaces/default/services", body=body, headers=jh)
        r = p.getresponse()
        r.read()
        t1 = time.time()
        if r.status != 201:
            print("create %s: HTTP %d" % (name, r.status), file=sys.stderr)
            sys.exit(1)
        with cond:
            cond.wait_for(lambda: name in seen, timeout=5)
            ip, tw = seen.get(name, ("-", 0))
        print("%s %.6f %.6f %.6f" % (ip, t0, t1, tw), flush=True)
        # The burst of this address, and the probing ahead of the pool's
        # next one, end before the next Service.
        time.sleep(1.2)
    sys.exit(0)
ph = dict(hdr, **{"Content-Type": "application/merge-patch+json"})
for t in range(trials):
    ip = "192.0.2.%d" % (201 + t % 39)
    body = json.dumps({"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}})
    with cond:
        seen.pop(ip, None)
    t0 = time.time()
    p.request("PATCH", "/api/v1/namespaces/default/services/web/status", body=body, headers=ph)
    r = p.getresponse()
    r.read()
    t1 = time.time()
    if r.status != 200:
        print("patch %s: HTTP %d" % (ip, r.status), file=sys.stderr)
        sys.exit(1)
    with cond:
        cond.wait_for(lambda: ip in seen, timeout=5)
        tw = seen.get(ip, (ip, 0))[1]
    print("%s %.6f %.6f %.6f" % (ip, t0, t1, tw), flush=True)
    # The probe (300 ms) and the burst (3 x 250 ms) of this address end
    # before the next update.
    time.sleep(1.2)
EOF
sleep 0.5
kill "$TCPDUMP" 2>/dev/null
wait "$TCPDUMP" 2>/dev/null

tshark -r "$CAP" -Y "arp.opcode == 1" -T fields -e frame.time_epoch -e arp.src.proto_ipv4 \
	-e arp.dst.proto_ipv4 2>/dev/null >"$LAB_DIR/frames"

python3 - "$LAB_DIR/trials" "$LAB_DIR/frames" "$TRIALS" "$L2_PROBE_COUNT" "$L2_CONTROLLER" <<'EOF'
import sys
controller = sys.argv[5] == "1"
trials = [l.split() for l in open(sys.argv[1]) if l.strip()]
frames = [l.split() for l in open(sys.argv[2]) if l.strip()]
frames = [(float(t), s, d) for t, s, d in frames]
cols = {k: [] for k in ("probe", "garp", "resp", "watch", "speaker", "wprobe", "wgarp")}
for k, (ip, t0, t1, tw) in enumerate(trials):
    t0, t1, tw = float(t0), float(t1), float(tw)
    end = float(trials[k + 1][1]) if k + 1 < len(trials) else 1e12
    # With the controller, probes sent ahead (before the Service) are
    # not the reaction to its status: count from the creation.
    probe = min((t for t, s, d in frames if s == "0.0.0.0" and d == ip and t0 <= t < end), default=None)
    garp = min((t for t, s, d in frames if s == ip and d == ip and t0 <= t < end), default=None)
    if tw and probe:
        cols["wprobe"].append(probe - tw)
    if tw and garp:
        cols["wgarp"].append(garp - tw)
    cols["resp"].append(t1 - t0)
    if tw:
        cols["watch"].append(tw - t0)
    if probe:
        cols["probe"].append(probe - t0)
        if tw:
            cols["speaker"].append(probe - tw)
    if garp:
        cols["garp"].append(garp - t0)
def line(name, v):
    v = sorted(x * 1000 for x in v)
    n = len(v)
    if not n:
        print("  %-38s no sample" % name)
        return
    q = lambda p: v[int((n - 1) * p)]
    print("  %-38s %3d  min %7.1f  p50 %7.1f  p90 %7.1f  p99 %7.1f  max %7.1f ms" %
          (name, n, v[0], q(0.5), q(0.9), q(0.99), v[-1]))
if controller:
    print("l2 status update -> wire, with the controller and probing ahead (3 speakers, --probe-count %s, %s/%d trials; figures are noisy: shared 2-core machine)" %
          (sys.argv[4], len(trials), int(sys.argv[3])))
    print("  (probes after the Service's creation: %d of %d trials; the rest were probed ahead)" %
          (len(cols["probe"]), len(trials)))
    line("status (watch) -> first gratuitous ARP", cols["wgarp"])
    line("status (watch) -> first ARP probe", cols["wprobe"])
    line("create -> status (watch; controller)", cols["watch"])
    line("create -> first gratuitous ARP", cols["garp"])
    sys.exit(0)
print("l2 status update -> wire (3 speakers, --probe-count %s, %s/%d trials; figures are noisy: shared 2-core machine)" %
      (sys.argv[4], len(trials), int(sys.argv[3])))
line("patch -> first ARP probe", cols["probe"])
line("patch -> first gratuitous ARP", cols["garp"])
line("patch -> API response", cols["resp"])
line("patch -> watch event (kube-sim)", cols["watch"])
line("watch event -> first probe (speaker)", cols["speaker"])
EOF
