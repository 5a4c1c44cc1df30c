# BGP mode of the real ironlb-speaker in the lab: BIRD next to each
# node's speaker, the BGP objects, Services with chosen endpoints, and the
# questions the tests ask the speaker (ironlbctl status --json) and BIRD.
# Sourced after lab.sh, l2.sh and bgp.sh:
#
#   . tests/lab/lab.sh; . tests/lab/l2.sh; . tests/lab/bgp.sh
#   . tests/lab/bgp_speaker.sh
#   bs_bird_start node1             # BIRD on the speaker's file and socket
#   bs_service web "198.51.100.10,2001:db8:5::10" Cluster node1 node2
#   bs_status_py node1 'st["bgp"]["config"]["state"] == "ok"'
#
# The speaker writes $LAB_DIR/bird-NODE/bird.conf and BIRD listens on
# $LAB_DIR/bird-NODE/bird.ctl (l2_speaker_start passes both).

# Node ASN and router ASNs used by the tests.
BS_NODE_ASN=64512

bs_bird_dir() { echo "$LAB_DIR/bird-$1"; }

# bs_bird_start NODE: BIRD 2 in NODE's namespace on the speaker's
# configuration file and control socket; pid in BS_BIRD_PID[NODE]. Does
# not wait: the file may not exist yet only if the caller wants that.
declare -gA BS_BIRD_PID
bs_bird_start() {
	local n=$1 d
	d=$(bs_bird_dir "$n")
	mkdir -p "$d"
	BS_BIRD_PID[$n]=$(lab_spawn "$n" "bird-$n" bird -f -c "$d/bird.conf" -s "$d/bird.ctl")
}

# bs_bird_kill NODE [SIGNAL]: SIGKILL by default; reaps it.
bs_bird_kill() {
	local pid=${BS_BIRD_PID[$1]:-}
	[ -n "$pid" ] || return 0
	kill "-${2:-KILL}" "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	unset "BS_BIRD_PID[$1]"
	return 0
}

bs_birdc() {
	local n=$1
	shift
	lab_exec "$n" birdc -s "$(bs_bird_dir "$n")/bird.ctl" "$@"
}

bs_bird_up() { bs_birdc "$1" show status 2>/dev/null | grep -q "Daemon is up"; }

# bs_status_py NODE EXPR [ARGS...]: evaluates the python expression EXPR
# with st = the speaker's `ironlbctl status --json` and a = ARGS; success if
# true. Prints the "bgp" object when false.
bs_status_py() {
	local n=$1 expr=$2
	shift 2
	l2_ctl "$n" status --json 2>/dev/null | "$BGP_PY" -c '
import json, sys
try:
    st = json.load(sys.stdin)
except ValueError:
    print("no status"); sys.exit(2)
a = sys.argv[2:]
bgp = st.get("bgp", {})
def addr(ip):
    for x in bgp.get("addresses", []):
        if x.get("address") == ip:
            return x
    return {}
def sess(peer):
    for x in bgp.get("sessions", []):
        if x.get("peer") == peer:
            return x
    return {}
ok = eval(sys.argv[1])
if not ok:
    print(json.dumps(bgp)[:1500])
sys.exit(0 if ok else 1)' "$expr" "$@"
}

# bs_service NAME IPS ETP NODES...: a LoadBalancer Service asking for IPS
# (comma-separated, ironlb.io/loadBalancerIPs; two addresses make it dual
# stack), externalTrafficPolicy ETP, and one ready endpoint on each of
# NODES (an EndpointSlice NAME-1; none if NODES is empty).
bs_service() {
	local name=$1 ips=$2 etp=$3 n fam="[IPv4]" pol=SingleStack
	shift 3
	case "$ips" in
	*,*) fam="[IPv4, IPv6]" pol=RequireDualStack ;;
	*:*) fam="[IPv6]" ;;
	esac
	{
		echo "apiVersion: v1"
		echo "kind: Service"
		echo "metadata: {name: $name, namespace: default, annotations: {ironlb.io/loadBalancerIPs: \"$ips\"}}"
		echo "spec: {type: LoadBalancer, externalTrafficPolicy: $etp, ipFamilies: $fam,"
		echo "  ipFamilyPolicy: $pol, selector: {app: $name}, ports: [{port: $L2_PORT, protocol: TCP}]}"
		echo "---"
		bs_slice "$name" "$@"
	} >"$LAB_DIR/svc-$name.yaml"
	lab_kubectl apply -f "$LAB_DIR/svc-$name.yaml" >/dev/null
}

# bs_slice NAME NODES...: the YAML of EndpointSlice NAME-1 with a ready
# endpoint on each of NODES.
bs_slice() {
	local name=$1 n
	shift
	echo "apiVersion: discovery.k8s.io/v1"
	echo "kind: EndpointSlice"
	echo "metadata: {name: $name-1, namespace: default, labels: {kubernetes.io/service-name: $name}}"
	echo "addressType: IPv4"
	echo "ports: [{port: $L2_PORT, protocol: TCP}]"
	if [ $# -eq 0 ]; then
		echo "endpoints: []"
		return
	fi
	echo "endpoints:"
	for n in "$@"; do
		echo "- {addresses: [$(lab_node_addr "$n")], nodeName: $n, conditions: {ready: true, serving: true}}"
	done
}

# bs_controller_start: ironlb-controller in node1's namespace.
bs_controller_start() {
	lab_spawn node1 controller "$LAB_BIN/ironlb-controller" --kubeconfig "$LAB_KUBECONFIG" \
		--namespace "$L2_NS" --leader-elect=false \
		--health-addr "$(lab_node_mgmt_addr node1):7480" >/dev/null
}

# bs_svc_ips NAME: the ingress addresses in the Service's status.
bs_svc_ips() {
	lab_kubectl -n default get svc "$1" -o jsonpath='{.status.loadBalancer.ingress[*].ip}' 2>/dev/null
}

# bs_metric NODE NAME_WITH_LABELS: the value of one sample of the speaker's
# /metrics (empty if absent).
bs_metric() {
	lab_exec "$1" curl -fsS -m 2 "http://$(lab_node_mgmt_addr "$1"):7481/metrics" 2>/dev/null |
		awk -v k="$2" '$1 == k {print $2; exit}'
}

# bs_switch_port NODE: the switch-side name of NODE's eth0 veth.
bs_switch_port() {
	local idx
	idx=$(lab_exec "$1" cat /sys/class/net/eth0/iflink)
	lab_exec sw ip -o link show | awk -F': ' -v i="$idx" '$1 == i {sub(/@.*/, "", $2); print $2}'
}

# bs_status_write NAME IPS...: status.loadBalancer.ingress of Service NAME
# written directly, as the controller would.
bs_status_write() {
	local name=$1 ip ing=""
	shift
	for ip in "$@"; do ing="$ing${ing:+,}{\"ip\":\"$ip\"}"; done
	lab_kubectl -n default patch svc "$name" --subresource=status --type=merge \
		-p "{\"status\":{\"loadBalancer\":{\"ingress\":[$ing]}}}" >/dev/null
}

# bs_gobgp_localpref ROUTER PREFIX: the LOCAL_PREF of every path GoBGP
# holds for PREFIX, space-separated ("-" for a path without one).
bs_gobgp_localpref() {
	local af=v4
	bgp_is_v6 "$2" && af=v6
	gobgp_routes "$1" $af | "$BGP_PY" -c '
import json, sys
out = []
for p in json.load(sys.stdin).get(sys.argv[1], []):
    lp = [a.get("value") for a in p.get("attrs", []) if a.get("type") == 5]
    out.append(str(lp[0]) if lp else "-")
print(" ".join(out))' "$2"
}
