# L2 lab helpers on top of lab.sh: the objects of an L2 setup applied with
# kubectl, speakers on every node, a TCP server per node that names it, and
# the questions tests and the demo ask (who owns an address, what the
# client's neighbour table says). Sourced after lab.sh:
#
#   . tests/lab/lab.sh; . tests/lab/l2.sh
#   lab_init; lab_up 3; lab_api_start
#   l2_objects_apply            # CRDs, Nodes, pool, L2Advertisement
#   l2_service_create web 192.0.2.200 2001:db8:2::200
#   l2_speakers_start           # one speaker per node
#   l2_owner 192.0.2.200        # the node every speaker agrees owns it

L2_NS=ironlb-system
L2_PORT=8080

l2_objects_apply() {
	local n i
	lab_kubectl apply -f "$LAB_ROOT/deploy/crds/" >/dev/null || return 1
	# kube-sim registers CRD kinds at once; give discovery a moment.
	for i in $(seq 1 50); do
		lab_kubectl get ipaddresspools -A >/dev/null 2>&1 && break
		sleep 0.1
	done
	{
		echo "apiVersion: v1"
		echo "kind: Namespace"
		echo "metadata: {name: $L2_NS}"
		for n in "${LAB_NODES[@]}"; do
			echo "---"
			echo "apiVersion: v1"
			echo "kind: Node"
			echo "metadata: {name: $n, labels: {kubernetes.io/hostname: $n}}"
			echo "status: {addresses: [{type: InternalIP, address: $(lab_node_addr "$n")}]}"
		done
		echo "---"
		echo "apiVersion: ironlb.io/v1beta1"
		echo "kind: IPAddressPool"
		echo "metadata: {name: lab, namespace: $L2_NS}"
		echo "spec: {addresses: [$LAB_POOL4, $LAB_POOL6], allowExternalIPs: true}"
		echo "---"
		echo "apiVersion: ironlb.io/v1beta1"
		echo "kind: L2Advertisement"
		echo "metadata: {name: lab, namespace: $L2_NS}"
		echo "spec: {ipAddressPools: [lab]}"
	} >"$LAB_DIR/objects.yaml"
	lab_kubectl apply -f "$LAB_DIR/objects.yaml" >/dev/null
}

# l2_service_create NAME [IP4 [IP6]]: a LoadBalancer Service with endpoints
# on every node; with addresses, its status is written here, as the
# controller would.
l2_service_create() {
	local name=$1 ip4=${2:-} ip6=${3:-} n ing
	{
		echo "apiVersion: v1"
		echo "kind: Service"
		echo "metadata: {name: $name, namespace: default}"
		echo "spec: {type: LoadBalancer, selector: {app: $name}, ports: [{port: $L2_PORT, protocol: TCP}]}"
		echo "---"
		echo "apiVersion: discovery.k8s.io/v1"
		echo "kind: EndpointSlice"
		echo "metadata: {name: $name-1, namespace: default, labels: {kubernetes.io/service-name: $name}}"
		echo "addressType: IPv4"
		echo "ports: [{port: $L2_PORT, protocol: TCP}]"
		echo "endpoints:"
		for n in "${LAB_NODES[@]}"; do
			echo "- {addresses: [$(lab_node_addr "$n")], nodeName: $n, conditions: {ready: true}}"
		done
	} >"$LAB_DIR/svc-$name.yaml"
	lab_kubectl apply -f "$LAB_DIR/svc-$name.yaml" >/dev/null || return 1
	[ -n "$ip4" ] || return 0 # the controller writes the status
	ing="{\"ip\":\"$ip4\"}"
	[ -n "$ip6" ] && ing="$ing,{\"ip\":\"$ip6\"}"
	lab_kubectl -n default patch svc "$name" --subresource=status --type=merge \
		-p "{\"status\":{\"loadBalancer\":{\"ingress\":[$ing]}}}" >/dev/null
}

l2_key_write() {
	[ -s "$LAB_DIR/hb.key" ] || head -c 32 /dev/urandom | base64 >"$LAB_DIR/hb.key"
}

# l2_speaker_start NODE [FLAGS...]: (re)starts NODE's speaker; pid in
# L2_SPK_PID[NODE].
declare -gA L2_SPK_PID
l2_speaker_start() {
	local n=$1
	shift
	l2_key_write
	rm -f "$LAB_DIR/$n.sock"
	L2_SPK_PID[$n]=$(lab_spawn "$n" "speaker-$n" "$LAB_BIN/ironlb-speaker" \
		--kubeconfig "$LAB_KUBECONFIG" --namespace "$L2_NS" --node-name "$n" \
		--heartbeat-key-file "$LAB_DIR/hb.key" --control-socket "$LAB_DIR/$n.sock" \
		--bird-config "$LAB_DIR/bird-$n/bird.conf" --bird-socket "$LAB_DIR/bird-$n/bird.ctl" \
		--health-addr "$(lab_node_mgmt_addr "$n"):7481" "$@")
}

l2_speakers_start() {
	local n
	for n in "${LAB_NODES[@]}"; do
		l2_speaker_start "$n" "$@"
	done
}

l2_ctl() { local n=$1; shift; lab_exec "$n" "$LAB_BIN/ironlbctl" --socket "$LAB_DIR/$n.sock" "$@"; }

l2_ready() { lab_exec "$1" curl -fsS -m 1 "http://$(lab_node_mgmt_addr "$1"):7481/readyz" >/dev/null 2>&1; }

# l2_wait_ready [TIMEOUT_S]: every running speaker answers /readyz.
l2_wait_ready() {
	local t=${1:-15} i n all
	for i in $(seq 1 $((t * 10))); do
		all=1
		for n in "${!L2_SPK_PID[@]}"; do
			l2_ready "$n" || all=0
		done
		[ $all = 1 ] && return 0
		sleep 0.1
	done
	return 1
}

# l2_owner_seen_by NODE IP: the owner NODE's speaker reports for IP.
l2_owner_seen_by() {
	l2_ctl "$1" status --json 2>/dev/null | python3 -c '
import json, sys
st = json.load(sys.stdin)
for a in st["addresses"]:
    if a["address"] == sys.argv[1]:
        print(a["owner"]); break
' "$2"
}

# l2_owner IP [NODES...]: the owner all given (default: all) speakers agree
# on; empty when they disagree.
l2_owner() {
	local ip=$1 n o first=""
	shift
	local nodes=("$@")
	[ ${#nodes[@]} -eq 0 ] && nodes=("${LAB_NODES[@]}")
	for n in "${nodes[@]}"; do
		o=$(l2_owner_seen_by "$n" "$ip")
		[ -z "$first" ] && first=$o
		if [ -z "$o" ] || [ "$o" != "$first" ]; then
			echo ""
			return 1
		fi
	done
	echo "$first"
}

# l2_wait_owner IP [TIMEOUT_S] [NODES...]
l2_wait_owner() {
	local ip=$1 t=${2:-10} i o
	shift 2 2>/dev/null || shift $#
	for i in $(seq 1 $((t * 10))); do
		o=$(l2_owner "$ip" "$@") && [ -n "$o" ] && [ "$o" != "-" ] && {
			echo "$o"
			return 0
		}
		sleep 0.1
	done
	return 1
}

# l2_servers_start IP...: each node accepts the addresses (on lo, as
# kube-proxy's IPVS dummy device would) and runs a server that answers with
# its name.
l2_servers_start() {
	local n ip
	for n in "${LAB_NODES[@]}"; do
		for ip in "$@"; do
			if [[ $ip == *:* ]]; then
				lab_exec "$n" ip addr add "$ip/128" dev lo nodad 2>/dev/null
			else
				lab_exec "$n" ip addr add "$ip/32" dev lo 2>/dev/null
			fi
		done
		lab_spawn "$n" "server-$n" socat TCP6-LISTEN:$L2_PORT,ipv6only=0,reuseaddr,fork \
			SYSTEM:"echo $n" >/dev/null
	done
}

# l2_client_get IP [TIMEOUT_S]: what the server behind IP says (its node).
l2_client_get() {
	local ip=$1 t=${2:-1} host=$1
	[[ $ip == *:* ]] && host="[$ip]"
	lab_exec client timeout "$t" socat -T "$t" - "TCP:$host:$L2_PORT,connect-timeout=$t" \
		</dev/null 2>/dev/null
}

# l2_client_neigh IP: the MAC the client's kernel resolved IP to.
l2_client_neigh() {
	lab_exec client ip neigh show "$1" dev eth0 | awk '/lladdr/ {print $3}'
}

# l2_running PID: the process exists and is not a zombie (a speaker spawned
# by lab_spawn is reparented to PID 1, which may reap it late).
l2_running() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
