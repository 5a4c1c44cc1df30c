# A kube-proxy stand-in and "pods" for the datapath lab, on top of lab.sh
# (and l2.sh for the speakers). Sourced:
#
#   . tests/lab/lab.sh; . tests/lab/l2.sh; . tests/lab/kubeproxy.sh
#   kp_pods_up node1            # two pod namespaces behind node1's bridge
#   kp_proxy_up node1           # KUBE-SERVICES / KUBE-NODEPORTS skeleton
#   kp_service node1 default/web http tcp 203.0.113.130 80 30080 8080
#   kp_client_tcp 192.0.2.200 80 50     # one "POD PEER" line per connection
#
# The stand-in is built from kube-proxy's iptables mode, as the real one
# writes it (iptables here is iptables-nft, so these are nftables tables
# ip/ip6 nat that ironlb must never touch):
#   PREROUTING / OUTPUT -> KUBE-SERVICES
#   KUBE-SERVICES: -d CLUSTER_IP -p P --dport PORT -j KUBE-SVC-X, and last
#     -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
#   KUBE-NODEPORTS: -p P --dport NODE_PORT [-j KUBE-MARK-MASQ] -j KUBE-SVC-X
#   KUBE-SVC-X: -m statistic --mode random --probability 0.5 -j KUBE-SEP-A,
#     then -j KUBE-SEP-B
#   KUBE-SEP-A: -p P -j DNAT --to-destination POD:TARGET_PORT
#   POSTROUTING -> KUBE-POSTROUTING: marked 0x4000 -> MASQUERADE
# NodePorts are served as with externalTrafficPolicy: Local (no masquerade:
# the pod sees the client) unless KP_MASQ=1 (policy Cluster: kube-proxy
# itself hides the client behind the node's address, for NodePorts too).
#
# Pods: node N has a bridge cbr0 with 198.51.100.N0/24 and 2001:db8:3::N0/64,
# and two namespaces nodeN-pod1/2 at 198.51.100.N1/.N2 and 2001:db8:3::N1/N2,
# each running a server on TCP and UDP 8080 (both families) that answers
# "NODE-PODk PEER_ADDRESS" and, after a TCP request line "bytes N", sends N
# bytes (for the benchmark).

KP_POD_PORT=8080
KP_MASQ=${KP_MASQ:-0}

kp_pod_addr() { echo "198.51.100.${1#node}$2"; }     # NODE K
kp_pod_addr6() { echo "2001:db8:3::${1#node}$2"; }   # NODE K
kp_bridge_addr() { echo "198.51.100.${1#node}0"; }
kp_bridge_addr6() { echo "2001:db8:3::${1#node}0"; }

kp_write_tools() {
	[ -s "$LAB_DIR/podserver.py" ] && return 0
	cat >"$LAB_DIR/podserver.py" <<'EOF'
# A pod's server: TCP and UDP on PORT, IPv4 and IPv6; answers its name and
# the peer's address; "bytes N" on TCP streams N bytes.
import asyncio, ipaddress, socket, sys

NAME, PORT = sys.argv[1], int(sys.argv[2])

def peer(a):
    ip = ipaddress.ip_address(a[0].split("%")[0])
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return str(ip)

async def handle(r, w):
    try:
        w.write(f"{NAME} {peer(w.get_extra_info('peername'))}\n".encode())
        await w.drain()
        line = await asyncio.wait_for(r.readline(), 10)
        if line.startswith(b"bytes "):
            n = min(int(line.split()[1]), 1 << 34)
            chunk = b"x" * 262144
            while n > 0:
                w.write(chunk[: min(n, len(chunk))])
                n -= len(chunk)
                await w.drain()
    except (Exception, asyncio.TimeoutError):
        pass
    finally:
        w.close()

class Udp(asyncio.DatagramProtocol):
    def connection_made(self, t):
        self.t = t
    def datagram_received(self, d, a):
        self.t.sendto(f"{NAME} {peer(a)}\n".encode(), a)

def udp_sock(fam, host):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((host, PORT))
    return s

async def main():
    loop = asyncio.get_running_loop()
    srv = await asyncio.start_server(handle, host=["0.0.0.0", "::"], port=PORT, backlog=1024)
    for fam, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        await loop.create_datagram_endpoint(Udp, sock=udp_sock(fam, host))
    print("ready", flush=True)
    await srv.serve_forever()

asyncio.run(main())
EOF
	cat >"$LAB_DIR/txcsum_off.py" <<'EOF'
# txcsum_off.py IFNAME: ETHTOOL_STXCSUM 0 (what `ethtool -K IFNAME tx off`
# does), so the kernel finishes every checksum before the packet leaves.
import ctypes, fcntl, socket, struct, sys
ev = ctypes.create_string_buffer(struct.pack("II", 0x17, 0))
ifr = struct.pack("16sP", sys.argv[1].encode(), ctypes.addressof(ev)) + b"\0" * 16
fcntl.ioctl(socket.socket(), 0x8946, ifr)
EOF
	cat >"$LAB_DIR/kpclient.py" <<'EOF'
# The client: kpclient.py tcp|udp HOST PORT COUNT [TIMEOUT]: one line per
# attempt, the server's answer or "ERR <why>"; every attempt is a new
# connection (UDP: a new socket, connected, so only an answer from
# HOST:PORT is received).
import socket, sys

proto, host, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 1.0
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
for _ in range(count):
    try:
        if proto == "tcp":
            s = socket.create_connection((host, port), timeout=timeout)
            s.settimeout(timeout)
            data = b""
            while not data.endswith(b"\n"):
                b = s.recv(256)
                if not b:
                    break
                data += b
            s.close()
        else:
            s = socket.socket(fam, socket.SOCK_DGRAM)
            s.settimeout(timeout)
            s.connect((host, port))
            s.send(b"hello\n")
            data = s.recv(256)
            s.close()
        line = data.decode(errors="replace").strip()
        print(line if line else "ERR empty", flush=True)
    except Exception as e:
        print(f"ERR {type(e).__name__}", flush=True)
EOF
}

# kp_csum_off WHO IFNAME: a veth hands packets on with their checksum not
# yet computed (and the receiver trusts it); with tx checksumming off the
# sender computes it, so a capture after ironlb's rewrites shows the real,
# incrementally updated value for tshark to check.
kp_csum_off() {
	kp_write_tools
	lab_exec "$1" python3 "$LAB_DIR/txcsum_off.py" "$2"
}

# kp_pods_up NODE: the bridge, two pods and their servers.
kp_pods_up() {
	local node=$1 k pod i
	kp_write_tools
	lab_exec "$node" ip link add cbr0 type bridge || return 1
	lab_exec "$node" ip link set cbr0 type bridge forward_delay 0 stp_state 0
	lab_exec "$node" ip addr add "$(kp_bridge_addr "$node")/24" dev cbr0
	lab_exec "$node" ip addr add "$(kp_bridge_addr6 "$node")/64" dev cbr0 nodad
	lab_exec "$node" ip link set cbr0 up
	lab_exec "$node" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	for k in 1 2; do
		pod=$node-pod$k
		lab_add_ns "$pod" || return 1
		lab_exec "$node" ip link add "veth$k" type veth peer name eth0 \
			netns "$(lab_ns "$pod")" || return 1
		lab_exec "$node" ip link set "veth$k" master cbr0 up
		lab_exec "$pod" ip addr add "$(kp_pod_addr "$node" $k)/24" dev eth0
		lab_exec "$pod" ip addr add "$(kp_pod_addr6 "$node" $k)/64" dev eth0 nodad
		lab_exec "$pod" ip link set eth0 up
		kp_csum_off "$pod" eth0
		lab_exec "$pod" ip route add default via "$(kp_bridge_addr "$node")"
		lab_exec "$pod" ip -6 route add default via "$(kp_bridge_addr6 "$node")"
		lab_spawn "$pod" "$pod" python3 "$LAB_DIR/podserver.py" "$pod" $KP_POD_PORT >/dev/null
	done
	for i in $(seq 1 50); do
		grep -q ready "$LAB_DIR/$node-pod1.log" 2>/dev/null &&
			grep -q ready "$LAB_DIR/$node-pod2.log" 2>/dev/null && return 0
		sleep 0.1
	done
	lab_log "the pod servers on $node did not start"
	return 1
}

# kp_proxy_up NODE: kube-proxy's skeleton in both families.
kp_proxy_up() {
	local node=$1 ipt
	for ipt in iptables ip6tables; do
		lab_exec "$node" "$ipt" -w -t nat -N KUBE-SERVICES || return 1
		lab_exec "$node" "$ipt" -w -t nat -N KUBE-NODEPORTS
		lab_exec "$node" "$ipt" -w -t nat -N KUBE-MARK-MASQ
		lab_exec "$node" "$ipt" -w -t nat -N KUBE-POSTROUTING
		lab_exec "$node" "$ipt" -w -t nat -A PREROUTING -m comment \
			--comment "kubernetes service portals" -j KUBE-SERVICES
		lab_exec "$node" "$ipt" -w -t nat -A OUTPUT -m comment \
			--comment "kubernetes service portals" -j KUBE-SERVICES
		lab_exec "$node" "$ipt" -w -t nat -A POSTROUTING -m comment \
			--comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
		lab_exec "$node" "$ipt" -w -t nat -A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
		lab_exec "$node" "$ipt" -w -t nat -A KUBE-POSTROUTING -m mark --mark 0x4000/0x4000 \
			-j MASQUERADE
		lab_exec "$node" "$ipt" -w -t nat -A KUBE-SERVICES -m comment \
			--comment "kubernetes service nodeports" -m addrtype --dst-type LOCAL \
			-j KUBE-NODEPORTS
	done
}

# kp_service NODE NS/NAME PORTNAME PROTO CLUSTER_IP PORT NODE_PORT|0 TARGET_PORT:
# one Service port, load-balanced over NODE's two pods. CLUSTER_IP "-" for
# none; the family of CLUSTER_IP decides iptables or ip6tables, and with
# "-" both get the NodePort.
kp_service() {
	local node=$1 svc=$2 pname=$3 proto=$4 cip=$5 port=$6 np=$7 tport=$8
	local fam ipt h chain sep a b comment="$svc:$pname"
	local fams=(4 6)
	[ "$cip" != - ] && { [[ $cip == *:* ]] && fams=(6) || fams=(4); }
	for fam in "${fams[@]}"; do
		if [ "$fam" = 6 ]; then
			ipt=ip6tables
			a="[$(kp_pod_addr6 "$node" 1)]:$tport"
			b="[$(kp_pod_addr6 "$node" 2)]:$tport"
		else
			ipt=iptables
			a="$(kp_pod_addr "$node" 1):$tport"
			b="$(kp_pod_addr "$node" 2):$tport"
		fi
		h=$(printf '%s' "$comment/$proto/$fam" | sha256sum | tr a-f A-F | head -c 16)
		chain=KUBE-SVC-$h
		lab_exec "$node" "$ipt" -w -t nat -N "$chain" 2>/dev/null
		for sep in A B; do
			lab_exec "$node" "$ipt" -w -t nat -N "KUBE-SEP-$h$sep" 2>/dev/null
		done
		lab_exec "$node" "$ipt" -w -t nat -A "$chain" -m comment --comment "$comment" \
			-m statistic --mode random --probability 0.50000000000 -j "KUBE-SEP-${h}A"
		lab_exec "$node" "$ipt" -w -t nat -A "$chain" -m comment --comment "$comment" \
			-j "KUBE-SEP-${h}B"
		lab_exec "$node" "$ipt" -w -t nat -A "KUBE-SEP-${h}A" -p "$proto" -m comment \
			--comment "$comment" -m "$proto" -j DNAT --to-destination "$a"
		lab_exec "$node" "$ipt" -w -t nat -A "KUBE-SEP-${h}B" -p "$proto" -m comment \
			--comment "$comment" -m "$proto" -j DNAT --to-destination "$b"
		if [ "$cip" != - ]; then
			# Before the nodeports rule, which must stay last.
			lab_exec "$node" "$ipt" -w -t nat -I KUBE-SERVICES 1 -d "$cip" -p "$proto" \
				-m comment --comment "$comment cluster IP" -m "$proto" --dport "$port" \
				-j "$chain"
		fi
		if [ "$np" != 0 ]; then
			if [ "$KP_MASQ" = 1 ]; then
				lab_exec "$node" "$ipt" -w -t nat -A KUBE-NODEPORTS -p "$proto" \
					-m comment --comment "$comment" -m "$proto" --dport "$np" \
					-j KUBE-MARK-MASQ
			fi
			lab_exec "$node" "$ipt" -w -t nat -A KUBE-NODEPORTS -p "$proto" -m comment \
				--comment "$comment" -m "$proto" --dport "$np" -j "$chain"
		fi
	done
}

# kp_client_tcp|kp_client_udp HOST PORT COUNT [TIMEOUT]: from the client.
kp_client_tcp() { lab_exec client python3 "$LAB_DIR/kpclient.py" tcp "$@"; }
kp_client_udp() { lab_exec client python3 "$LAB_DIR/kpclient.py" udp "$@"; }

# kp_nat_rules NODE: kube-proxy's rules as iptables-save prints them (both
# families), to show that ironlb leaves them alone.
kp_nat_rules() {
	lab_exec "$1" iptables-save -t nat | grep -E '^-A KUBE-'
	lab_exec "$1" ip6tables-save -t nat | grep -E '^-A KUBE-'
}

# kp_api_service NAME [IP4 [IP6]] [SPEC_EXTRA [PORTS]]: a Service in the
# API (kube-sim), with TCP and UDP port 80 -> target 8080 by default and
# NodePorts as PORTS gives them; with addresses, status.loadBalancer.ingress
# is written as the controller would; an EndpointSlice names the pods of
# every node as ready endpoints. Prints nothing; 0 on success.
# Example: kp_api_service web 192.0.2.200 2001:db8:2::200 \
#   "type: LoadBalancer, ipFamilyPolicy: PreferDualStack" \
#   "[{name: http, port: 80, protocol: TCP, targetPort: 8080, nodePort: 30080}]"
kp_api_service() {
	local name=$1 ip4=${2:-} ip6=${3:-} extra=${4:-"type: LoadBalancer"} ports=${5:-}
	local ing n k
	[ -n "$ports" ] || ports="[{name: http, port: 80, protocol: TCP, targetPort: $KP_POD_PORT, nodePort: 30080}, {name: dns, port: 80, protocol: UDP, targetPort: $KP_POD_PORT, nodePort: 30080}]"
	{
		echo "apiVersion: v1"
		echo "kind: Service"
		echo "metadata: {name: $name, namespace: default}"
		echo "spec: {$extra, selector: {app: $name}, ports: $ports}"
		echo "---"
		echo "apiVersion: discovery.k8s.io/v1"
		echo "kind: EndpointSlice"
		echo "metadata: {name: $name-1, namespace: default, labels: {kubernetes.io/service-name: $name}}"
		echo "addressType: IPv4"
		echo "ports: [{name: http, port: $KP_POD_PORT, protocol: TCP}]"
		echo "endpoints:"
		for n in "${LAB_NODES[@]}"; do
			for k in 1 2; do
				echo "- {addresses: [$(kp_pod_addr "$n" $k)], nodeName: $n, conditions: {ready: true}}"
			done
		done
	} >"$LAB_DIR/svc-$name.yaml"
	lab_kubectl apply -f "$LAB_DIR/svc-$name.yaml" >/dev/null || return 1
	[ -n "$ip4$ip6" ] || return 0
	ing=""
	[ -n "$ip4" ] && ing="{\"ip\":\"$ip4\"}"
	[ -n "$ip6" ] && ing="$ing${ing:+,}{\"ip\":\"$ip6\"}"
	lab_kubectl -n default patch svc "$name" --subresource=status --type=merge \
		-p "{\"status\":{\"loadBalancer\":{\"ingress\":[$ing]}}}" >/dev/null
}

# kp_cluster_ip NAME [FAMILY_INDEX]: the Service's spec.clusterIPs[i].
kp_cluster_ip() {
	lab_kubectl -n default get svc "$1" -o jsonpath="{.spec.clusterIPs[${2:-0}]}"
}

# kp_ironlb_state NODE: what ironlb left in NODE's kernel: its table (if
# any) and its local routes (protocol 74). Empty when nothing.
kp_ironlb_state() {
	lab_exec "$1" nft list tables | grep -w ironlb
	lab_exec "$1" ip -4 route show table local proto 74
	lab_exec "$1" ip -6 route show table local proto 74
}
