#!/bin/bash
# make demo: a three-node bare-metal "cluster" in network namespaces, with a
# simulated API server (kube-sim), ironlb's speakers on every node, and a
# client on the same L2 segment. Every node runs a kube-proxy stand-in (real
# iptables NAT rules as kube-proxy writes them: KUBE-SERVICES,
# KUBE-NODEPORTS, KUBE-SVC with statistic random 0.5, KUBE-SEP DNAT) in
# front of two pods. It creates a LoadBalancer Service with kubectl, shows
# which node answers for its address, sends the client's connections to
# address:port, which the owner's datapath (--datapath=nodeport) steers to
# the Service's NodePort and kube-proxy's rules to the pods, kills the
# owner's speaker with SIGKILL and measures how long the client takes to
# reach the new owner's pods. Everything is removed at the end, also on
# Ctrl-C or failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lab/lab.sh
. tests/lab/l2.sh
. tests/lab/kubeproxy.sh

if [ "$(id -u)" != 0 ]; then
	echo "make demo needs root (network namespaces)." >&2
	exit 1
fi

B=$(tput bold 2>/dev/null || true)
N=$(tput sgr0 2>/dev/null || true)
step() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }
say() { printf '    %s\n' "$*"; }
die() {
	echo "demo: $*" >&2
	LAB_KEEP_LOGS=1
	exit 1
}

lab_init
step "Building the lab: a switch, an API server, a client and 3 nodes (network namespaces)"
lab_up 3 || die "cannot create the namespaces"
for nd in "${LAB_NODES[@]}"; do
	say "$nd  eth0 $(lab_node_addr "$nd")  MAC $(lab_node_mac "$nd")"
done
say "client eth0 192.0.2.100 (a plain Linux host: its own kernel does ARP)"

step "Starting kube-sim (the Kubernetes API stand-in) at $LAB_API_ADDR:$LAB_API_PORT"
lab_api_start || die "kube-sim did not start"

step "kubectl apply: ironlb's CRDs, the Nodes, an IPAddressPool and an L2Advertisement"
l2_objects_apply || die "kubectl apply failed"
lab_kubectl -n $L2_NS get ipaddresspools,l2advertisements 2>/dev/null | sed 's/^/    /'

step "Starting ironlb-speaker on every node (heartbeats every 100 ms, dead after 3 misses,"
say "datapath: --datapath=nodeport)"
l2_speakers_start --datapath=nodeport
l2_wait_ready 20 || die "the speakers did not become ready (logs in $LAB_DIR)"
say "all 3 speakers are ready"

controller=0
if [ -x "$LAB_BIN/ironlb-controller" ]; then
	lab_spawn node1 controller "$LAB_BIN/ironlb-controller" --kubeconfig "$LAB_KUBECONFIG" \
		--namespace $L2_NS --health-addr "$(lab_node_mgmt_addr node1):7480" >/dev/null
	controller=1
fi

step "kubectl apply: a LoadBalancer Service 'web' (port $L2_PORT) with endpoints on every node"
l2_service_create web
ip=""
if [ $controller = 1 ]; then
	for i in $(seq 1 50); do
		ip=$(lab_kubectl -n default get svc web -o jsonpath='{.status.loadBalancer.ingress[0].ip}' 2>/dev/null)
		[ -n "$ip" ] && break
		sleep 0.1
	done
fi
if [ -n "$ip" ]; then
	say "ironlb-controller assigned $ip from the pool"
else
	ip=192.0.2.200
	say "(ironlb-controller did not write the status within 5 s: the demo writes"
	say " status.loadBalancer.ingress itself, as the controller would: $ip)"
	lab_kubectl -n default patch svc web --subresource=status --type=merge \
		-p "{\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"$ip\"}]}}}" >/dev/null
fi
lab_kubectl -n default get svc web 2>/dev/null | sed 's/^/    /'

nodeport=$(lab_kubectl -n default get svc web -o jsonpath='{.spec.ports[0].nodePort}')
step "Each node: two pods and kube-proxy's rules for NodePort $nodeport (the stand-in, real iptables-nft)"
for nd in "${LAB_NODES[@]}"; do
	kp_pods_up "$nd" && kp_proxy_up "$nd" &&
		kp_service "$nd" default/web http tcp - "$L2_PORT" "$nodeport" "$KP_POD_PORT" ||
		die "cannot set up the pods and kube-proxy stand-in on $nd"
	say "$nd: pods $nd-pod1 $(kp_pod_addr "$nd" 1), $nd-pod2 $(kp_pod_addr "$nd" 2) (each answers its name and the client address it sees)"
done
say "node1's kube-proxy rules (iptables-save -t nat; ip6tables has the same for IPv6):"
lab_exec node1 iptables-save -t nat | grep '^-A KUBE-' | sed 's/^/      /'

owner=$(l2_wait_owner "$ip" 10) || die "the speakers do not agree on an owner"
step "Every speaker computes the same owner for $ip: $owner"
l2_ctl "$owner" status | sed 's/^/    /'

for i in $(seq 1 50); do
	[[ "$(kp_client_tcp "$ip" "$L2_PORT" 1 0.3)" == node*-pod* ]] && break
	sleep 0.1
done
step "The owner's datapath: nftables table inet ironlb (kube-proxy's tables untouched)"
lab_exec "$owner" nft list table inet ironlb | grep -E 'chain|hook|set|map|elements|@' | sed 's/^/    /'

step "The client opens 20 TCP connections to $ip:$L2_PORT"
kp_client_tcp "$ip" "$L2_PORT" 20 | sort | uniq -c | sed 's/^/    /'
say "(each line: how many connections, the pod that answered, the client address the pod saw)"
say "client's ARP table: $ip -> $(l2_client_neigh "$ip")  ($owner's MAC is $(lab_node_mac "$owner"))"
say "path: client -> $ip:$L2_PORT -> $owner (port rewritten to $nodeport before conntrack)"
say "      -> kube-proxy's KUBE-NODEPORTS / KUBE-SVC / KUBE-SEP DNAT -> pod;"
say "      replies leave as $ip:$L2_PORT; the pod sees the client's own address"

step "kill -9 the speaker on $owner (no goodbye: the peers must notice the silence)"
lab_exec client ping -c 1 -W 1 "$ip" >/dev/null
start=$(date +%s%N)
kill -KILL "${L2_SPK_PID[$owner]}"
unset "L2_SPK_PID[$owner]"
got=""
tries=0
for i in $(seq 1 100); do
	tries=$i
	got=$(kp_client_tcp "$ip" "$L2_PORT" 1 0.2)
	[[ $got == node*-pod* ]] && [[ $got != "$owner-pod"* ]] && break
	sleep 0.02
done
ms=$((($(date +%s%N) - start) / 1000000))
if [[ $got == node*-pod* ]] && [[ $got != "$owner-pod"* ]]; then
	say "the client reached ${got%% *} after ${B}${ms} ms${N} ($tries connection attempts,"
	say "client's ARP entry updated by the new owner's gratuitous ARP: $(l2_client_neigh "$ip"))"
else
	say "the client did not reach a new owner within ${ms} ms"
fi

others=()
for nd in "${LAB_NODES[@]}"; do [ "$nd" != "$owner" ] && others+=("$nd"); done
new=${got%%-pod*}
if [[ $new == node* ]]; then
	step "20 more connections, now through $new"
	kp_client_tcp "$ip" "$L2_PORT" 20 | sort | uniq -c | sed 's/^/    /'
fi
step "ironlbctl status on ${others[0]}"
l2_ctl "${others[0]}" status | sed 's/^/    /'

step "Tearing everything down"
lab_down
say "done: every namespace and process of the demo is gone"
