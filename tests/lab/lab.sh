# The lab: a cluster of network namespaces on this machine. Sourced by the
# demo, integration tests and benchmarks:
#
#   . tests/lab/lab.sh
#   lab_init            # names, temp dir, cleanup trap (on every exit path)
#   lab_up 3            # switch, API, client and 3 node namespaces
#   lab_api_start       # kube-sim in the API namespace, kubeconfig written
#   lab_exec node1 CMD  # run in a namespace
#   lab_down            # also run by the trap
#
# Topology (every address from the documentation ranges):
#
#   ns SW (switch): bridges br-data and br-mgmt, nothing else
#   data segment 192.0.2.0/24, 2001:db8:2::/64 (the L2 segment the speakers
#     announce on): nodeN eth0 = 192.0.2.(10+N), client eth0 = 192.0.2.100;
#     LoadBalancer pool 192.0.2.200-192.0.2.239 and 2001:db8:2::200-2001:db8:2::23f
#   management segment 203.0.113.0/24 (API traffic, heartbeats are on data):
#     api = 203.0.113.1 (kube-sim on :6443), nodeN mgmt0 = 203.0.113.(10+N)
#
# Namespaces are named ilb<PID>-<role> so that runs never collide, and
# lab_down removes exactly the ones this run made, killing every process
# inside them first.

LAB_ROOT=${LAB_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
LAB_BIN=${IRONLB_BUILD:-$LAB_ROOT/build}/bin

LAB_DATA4_PREFIX=192.0.2
LAB_DATA6_PREFIX=2001:db8:2
LAB_MGMT_PREFIX=203.0.113
LAB_POOL4="192.0.2.200-192.0.2.239"
LAB_POOL6="2001:db8:2::200-2001:db8:2::23f"
LAB_API_ADDR=$LAB_MGMT_PREFIX.1
LAB_API_PORT=6443
# Functions lab_down runs after the namespaces are gone, before the temp
# dir is removed; helpers sourced after this file append to it.
LAB_CLEANUP_HOOKS=()

lab_log() { echo "lab: $*" >&2; }

lab_init() {
	LAB_ID=ilb$$
	LAB_PLUG_N=0
	LAB_DIR=$(mktemp -d /tmp/ironlb-lab.XXXXXX)
	LAB_NODES=()
	LAB_NS=()
	LAB_PIDS=()
	trap 'lab_down' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

lab_ns() { echo "$LAB_ID-$1"; }

lab_exec() {
	local who=$1
	shift
	ip netns exec "$(lab_ns "$who")" "$@"
}

# Starts a long-running process in a namespace, logging to $LAB_DIR/NAME.log,
# and remembers its pid. Usage: lab_spawn WHO NAME CMD...
lab_spawn() {
	local who=$1 name=$2
	shift 2
	ip netns exec "$(lab_ns "$who")" "$@" >"$LAB_DIR/$name.log" 2>&1 &
	LAB_PIDS+=($!)
	echo $!
}

lab_add_ns() {
	local ns
	ns=$(lab_ns "$1")
	ip netns add "$ns" || return 1
	LAB_NS+=("$ns")
	ip netns exec "$ns" ip link set lo up
}

# Connects namespace WHO to bridge BR in the switch namespace with a veth
# pair; the WHO end is named IFNAME. The pair's names are unique on the
# machine: this lab's id, a separator (so that lab 1386's 11th pair is not
# lab 13861's 1st), and a count.
lab_plug() {
	local who=$1 br=$2 ifname=$3 a b
	LAB_PLUG_N=$((${LAB_PLUG_N:-0} + 1))
	a=v${LAB_ID#ilb}x$LAB_PLUG_N
	b=p${LAB_ID#ilb}x$LAB_PLUG_N
	ip link add "$a" type veth peer name "$b" || return 1
	ip link set "$a" netns "$(lab_ns "$who")" &&
		ip link set "$b" netns "$(lab_ns sw)" &&
		lab_exec "$who" ip link set "$a" name "$ifname" &&
		lab_exec sw ip link set "$b" master "$br" up &&
		lab_exec "$who" ip link set "$ifname" up && return 0
	# A pair left in this namespace would outlive the lab.
	ip link del "$a" 2>/dev/null
	return 1
}

lab_up() {
	local n=${1:-3} i
	lab_add_ns sw || return 1
	lab_exec sw ip link add br-data type bridge
	lab_exec sw ip link add br-mgmt type bridge
	# No STP delay: ports forward at once.
	lab_exec sw ip link set br-data type bridge forward_delay 0 stp_state 0
	lab_exec sw ip link set br-mgmt type bridge forward_delay 0 stp_state 0
	lab_exec sw ip link set br-data up
	lab_exec sw ip link set br-mgmt up

	lab_add_ns api || return 1
	lab_plug api br-mgmt mgmt0 || return 1
	lab_exec api ip addr add "$LAB_API_ADDR/24" dev mgmt0

	lab_add_ns client || return 1
	lab_plug client br-data eth0 || return 1
	lab_exec client ip addr add "$LAB_DATA4_PREFIX.100/24" dev eth0
	lab_exec client ip addr add "$LAB_DATA6_PREFIX::100/64" dev eth0 nodad

	for i in $(seq 1 "$n"); do
		lab_add_node "node$i" "$((10 + i))" || return 1
	done
}

# lab_add_node NAME HOSTPART: a node on both segments. Its kernel never
# answers ARP for addresses that are not on the asking interface
# (arp_ignore=1), as on nodes whose service proxy binds load-balancer
# addresses to a local device: announcing is the speaker's job.
lab_add_node() {
	local name=$1 host=$2
	lab_add_ns "$name" || return 1
	lab_plug "$name" br-data eth0 || return 1
	lab_plug "$name" br-mgmt mgmt0 || return 1
	lab_exec "$name" ip addr add "$LAB_DATA4_PREFIX.$host/24" dev eth0
	lab_exec "$name" ip addr add "$LAB_DATA6_PREFIX::$host/64" dev eth0 nodad
	lab_exec "$name" ip addr add "$LAB_MGMT_PREFIX.$host/24" dev mgmt0
	lab_exec "$name" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
	LAB_NODES+=("$name")
}

lab_node_addr() { echo "$LAB_DATA4_PREFIX.$((10 + ${1#node}))"; }
lab_node_mgmt_addr() { echo "$LAB_MGMT_PREFIX.$((10 + ${1#node}))"; }

lab_node_mac() { lab_exec "$1" cat /sys/class/net/eth0/address; }

# kube-sim in the API namespace; sets LAB_KUBECONFIG. The kubeconfig names
# the management address, reachable from every node and from the API
# namespace itself (kubectl runs there: lab_kubectl).
lab_api_start() {
	LAB_KUBECONFIG=$LAB_DIR/kubeconfig
	lab_spawn api kube-sim "$LAB_BIN/kube-sim" --listen "$LAB_API_ADDR:$LAB_API_PORT" \
		--kubeconfig-out "$LAB_KUBECONFIG" --state "$LAB_DIR/kube-sim.state" "$@" >/dev/null
	local i
	for i in $(seq 1 100); do
		[ -s "$LAB_KUBECONFIG" ] && return 0
		sleep 0.1
	done
	lab_log "kube-sim did not start; its log:"
	cat "$LAB_DIR/kube-sim.log" >&2
	return 1
}

lab_kubectl() { lab_exec api kubectl --kubeconfig "$LAB_KUBECONFIG" "$@"; }

# Kills every process in the namespaces this run made, then removes them.
lab_down() {
	local ns pid hook
	trap - EXIT INT TERM
	[ -n "${LAB_ID:-}" ] || return 0
	for pid in "${LAB_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for ns in "${LAB_NS[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill "$pid" 2>/dev/null
		done
	done
	sleep 0.2
	for ns in "${LAB_NS[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -9 "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	wait 2>/dev/null
	for hook in "${LAB_CLEANUP_HOOKS[@]}"; do
		"$hook"
	done
	if [ -n "${LAB_KEEP_LOGS:-}" ]; then
		lab_log "logs kept in $LAB_DIR"
	else
		rm -rf "$LAB_DIR"
	fi
	LAB_NS=()
	LAB_ID=
}
