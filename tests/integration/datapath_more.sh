#!/bin/bash
# The datapath (--datapath=nodeport) beyond IPv4 NodePorts, end to end in the
# lab with the kube-proxy stand-in and two pods per node:
#   - IPv6: TCP and UDP to [2001:db8:2::200]:80 reach the owner's pods
#     through NodePort 30080, the pod sees the client's IPv6 address, a
#     direct connection to the NodePort is dropped;
#   - Services without NodePorts go to their ClusterIP: a LoadBalancer with
#     allocateLoadBalancerNodePorts: false (dual-stack, TCP and UDP, both
#     families) and a ClusterIP Service with spec.externalIPs;
#   - a NodePort served by a plain listening socket on the node (no
#     kube-proxy rule for it);
#   - every reply on the wire comes from the announced address and Service
#     port, with valid checksums; ironlbctl names the ClusterIP rules;
#   - SIGTERM leaves no ironlb table and no ironlb route.
#
# Run as root from the repository root with IRONLB_BUILD set.
set -uo pipefail

. tests/lab/lab.sh
. tests/lab/l2.sh
. tests/lab/l2_test.sh
. tests/lab/kubeproxy.sh

V6=2001:db8:2::200
NONP4=192.0.2.201
NONP6=2001:db8:2::201
EXT4=192.0.2.202
SOCK4=192.0.2.203
SOCK6=2001:db8:2::203
C6=2001:db8:2::100

lab_init
lab_up 2 || { not_ok "lab up"; finish; }
lab_api_start || { not_ok "kube-sim starts"; finish; }
l2_objects_apply && kp_api_service web "" $V6 &&
	kp_api_service nonp $NONP4 $NONP6 \
		"type: LoadBalancer, allocateLoadBalancerNodePorts: false, ipFamilyPolicy: RequireDualStack, ipFamilies: [IPv4, IPv6]" \
		"[{name: http, port: 80, protocol: TCP, targetPort: $KP_POD_PORT}, {name: dns, port: 80, protocol: UDP, targetPort: $KP_POD_PORT}]" &&
	kp_api_service ext "" "" "type: ClusterIP, externalIPs: [$EXT4]" \
		"[{name: https, port: 8443, protocol: TCP, targetPort: $KP_POD_PORT}]" &&
	kp_api_service sock $SOCK4 $SOCK6 "type: LoadBalancer, ipFamilyPolicy: PreferDualStack" \
		"[{name: http, port: 80, protocol: TCP, targetPort: 9999, nodePort: 30090}]"
check "Services applied: web (IPv6, NodePort 30080), nonp (no NodePorts, dual-stack), ext (ClusterIP + externalIPs), sock (NodePort 30090)" $?
nonp4=$(kp_cluster_ip nonp 0)
nonp6=$(kp_cluster_ip nonp 1)
ext4=$(kp_cluster_ip ext 0)
[[ $nonp4 == 203.0.113.* ]] && [[ $nonp6 == 2001:db8:c1:* ]] && [[ $ext4 == 203.0.113.* ]]
check "kube-sim allocated the ClusterIPs ($nonp4, $nonp6, $ext4)" $?
kp_csum_off client eth0
for nd in "${LAB_NODES[@]}"; do
	kp_pods_up "$nd" && kp_proxy_up "$nd" &&
		kp_service "$nd" default/web http tcp - 80 30080 $KP_POD_PORT &&
		kp_service "$nd" default/web dns udp - 80 30080 $KP_POD_PORT &&
		kp_service "$nd" default/nonp http tcp "$nonp4" 80 0 $KP_POD_PORT &&
		kp_service "$nd" default/nonp dns udp "$nonp4" 80 0 $KP_POD_PORT &&
		kp_service "$nd" default/nonp http tcp "$nonp6" 80 0 $KP_POD_PORT &&
		kp_service "$nd" default/nonp dns udp "$nonp6" 80 0 $KP_POD_PORT &&
		kp_service "$nd" default/ext https tcp "$ext4" 8443 0 $KP_POD_PORT || {
		not_ok "pods and kube-proxy stand-in on $nd"
		finish
	}
	# NodePort 30090 of Service sock: a plain socket on the node.
	kp_csum_off "$nd" eth0
	lab_spawn "$nd" "$nd-socket" python3 "$LAB_DIR/podserver.py" "$nd-socket" 30090 >/dev/null
done
ok "pods, kube-proxy stand-in and a NodePort socket on every node"

l2_speakers_start --datapath=nodeport
l2_wait_ready 20
check "every speaker becomes ready" $?
declare -A own
for a in $V6 $NONP4 $NONP6 $EXT4 $SOCK4 $SOCK6; do
	own[$a]=$(l2_wait_owner "$a" 10)
done
[ -n "${own[$V6]}" ] && [ -n "${own[$NONP4]}" ] && [ -n "${own[$EXT4]}" ] && [ -n "${own[$SOCK6]}" ]
check "the speakers agree on an owner for every address" $? "$(declare -p own)"
# Until the owners' tables are in.
for i in $(seq 1 50); do
	[[ "$(kp_client_tcp $SOCK4 80 1 0.3)" == *socket* ]] && break
	sleep 0.1
done

CAP=$LAB_DIR/client.pcap
ip netns exec "$(lab_ns client)" tcpdump -i eth0 -U -w "$CAP" "host $V6 or host $NONP4 or host $NONP6 or host $EXT4 or host $SOCK4 or host $SOCK6" 2>/dev/null &
TCPDUMP=$!
sleep 0.5

# assert_pods NAME ADDR OUT OWNER PEER: every line from OWNER's pods with PEER, both pods seen.
assert_pods() {
	local name=$1 out=$3 o=$4 peer=$5 cnt good
	cnt=$(grep -c . <<<"$out")
	good=$(grep -cE "^$o-pod[12] $peer\$" <<<"$out")
	[ "$cnt" -gt 0 ] && [ "$good" = "$cnt" ] && grep -q "^$o-pod1 " <<<"$out" &&
		grep -q "^$o-pod2 " <<<"$out"
	check "$name" $? "$(sort <<<"$out" | uniq -c | tr '\n' ';')"
}

assert_pods "IPv6: 30 TCP connections to [$V6]:80 reach both pods of ${own[$V6]}, which see $C6" \
	$V6 "$(kp_client_tcp $V6 80 30)" "${own[$V6]}" "$C6"
assert_pods "IPv6: 20 UDP exchanges with [$V6]:80 reach both pods of ${own[$V6]}" \
	$V6 "$(kp_client_udp $V6 80 20)" "${own[$V6]}" "$C6"
got=$(kp_client_tcp $V6 30080 1 1)
[[ $got == ERR* ]]
check "IPv6: a connection straight to [$V6]:30080 is dropped ($got)" $?

assert_pods "no NodePort: 30 TCP connections to $NONP4:80 go through ClusterIP $nonp4 to both pods of ${own[$NONP4]}" \
	$NONP4 "$(kp_client_tcp $NONP4 80 30)" "${own[$NONP4]}" 192.0.2.100
assert_pods "no NodePort: 20 UDP exchanges with $NONP4:80 go through the ClusterIP" \
	$NONP4 "$(kp_client_udp $NONP4 80 20)" "${own[$NONP4]}" 192.0.2.100
assert_pods "no NodePort, IPv6: 30 TCP connections to [$NONP6]:80 go through ClusterIP $nonp6" \
	$NONP6 "$(kp_client_tcp $NONP6 80 30)" "${own[$NONP6]}" "$C6"
assert_pods "externalIPs of a ClusterIP Service: 30 TCP connections to $EXT4:8443 go through ClusterIP $ext4" \
	$EXT4 "$(kp_client_tcp $EXT4 8443 30)" "${own[$EXT4]}" 192.0.2.100

out=$(kp_client_tcp $SOCK4 80 10)
[ "$(grep -c "^${own[$SOCK4]}-socket 192.0.2.100\$" <<<"$out")" = 10 ]
check "a NodePort served by a plain socket: 10 connections to $SOCK4:80 reach ${own[$SOCK4]}'s socket" $? \
	"$(sort <<<"$out" | uniq -c | tr '\n' ';')"
out=$(kp_client_tcp $SOCK6 80 10)
[ "$(grep -c "^${own[$SOCK6]}-socket $C6\$" <<<"$out")" = 10 ]
check "and over IPv6 to [$SOCK6]:80" $? "$(sort <<<"$out" | uniq -c | tr '\n' ';')"

sleep 0.3
kill "$TCPDUMP" 2>/dev/null
wait "$TCPDUMP" 2>/dev/null
filter="(tcp || udp) && (ip.src == $NONP4 || ip.src == $SOCK4 || ipv6.src == $V6 || ipv6.src == $NONP6 || ipv6.src == $SOCK6) && !(tcp.srcport == 80 || udp.srcport == 80)"
bad=$(tshark -r "$CAP" -Y "($filter) || (ip.src == $EXT4 && tcp.srcport != 8443)" 2>/dev/null)
all=$(tshark -r "$CAP" -Y "ip.src == $NONP4 || ip.src == $EXT4 || ip.src == $SOCK4 || ipv6.src == $V6 || ipv6.src == $NONP6 || ipv6.src == $SOCK6" 2>/dev/null | grep -c .)
[ -z "$bad" ] && [ "$all" -ge 300 ]
check "every TCP/UDP reply on the wire comes from the announced address and the Service port ($all packets)" $? \
	"$bad"
# A TCP checksum of 0xffff where the sum comes to 0x0000 is valid (both are
# zero in ones' complement) though tshark flags it: nft's incremental update
# after the port rewrite writes it for about one packet in 65536 (see
# datapath_l2.sh). Any other wrong value fails.
csum_bad="(tcp.checksum.status == 0 && !(tcp.checksum == 0xffff && tcp.checksum_calculated == 0x0000)) || udp.checksum.status == 0"
csum=$(tshark -r "$CAP" -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE \
	-Y "$csum_bad" 2>/dev/null | grep -c .)
[ "$csum" = 0 ]
check "no packet on the client's wire has a bad TCP or UDP checksum" $? "$csum bad" \
	"$(tshark -r "$CAP" -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE -Y "$csum_bad" \
		-T fields -e frame.number -e ip.src -e ipv6.src -e tcp.srcport -e tcp.dstport -e tcp.flags.str \
		-e tcp.checksum -e tcp.checksum_calculated -e udp.srcport -e udp.checksum 2>/dev/null | head -n 20)"

st=$(l2_ctl "${own[$NONP6]}" status)
grep -q "datapath: tcp \[$NONP6\]:80 -> ClusterIP \[$nonp6\]:80" <<<"$st" &&
	grep -q "datapath: udp \[$NONP6\]:80 -> ClusterIP \[$nonp6\]:80" <<<"$st"
check "ironlbctl status names the ClusterIP rules" $? "$(grep datapath <<<"$st")"
st=$(l2_ctl "${own[$EXT4]}" status --json)
python3 -c '
import json, sys
st = json.load(sys.stdin)
for a in st["datapath"]["addresses"]:
    if a["address"] == sys.argv[1]:
        assert a["packets"] > 0 and a["bytes"] > 0, a
        assert a["rules"] == ["tcp %s:8443 -> ClusterIP %s:8443" % (sys.argv[1], sys.argv[2])], a
        sys.exit(0)
sys.exit(1)' $EXT4 "$ext4" <<<"$st"
check "status --json counts packets and bytes for $EXT4 and lists its rule" $?

# A change re-creates the table (and its counters): the totals go on.
ext_packets() {
	l2_ctl "${own[$EXT4]}" status --json | python3 -c '
import json, sys
for a in json.load(sys.stdin)["datapath"]["addresses"]:
    if a["address"] == sys.argv[1]: print(a["packets"], len(a["rules"]))' $EXT4
}
read -r before _ < <(ext_packets)
lab_kubectl -n default patch svc ext --type=json -p \
	"[{\"op\":\"add\",\"path\":\"/spec/ports/-\",\"value\":{\"name\":\"alt\",\"port\":8444,\"protocol\":\"TCP\",\"targetPort\":$KP_POD_PORT}}]" >/dev/null
after="" rules=""
for i in $(seq 1 50); do
	read -r after rules < <(ext_packets)
	[ "$rules" = 2 ] && break
	sleep 0.1
done
[ "$rules" = 2 ] && [ "${after:-0}" -ge "${before:-1}" ] && [ "${before:-0}" -gt 0 ]
check "after a new port re-creates the table, $EXT4's packet count goes on ($before -> $after)" $?

for nd in "${!L2_SPK_PID[@]}"; do kill -TERM "${L2_SPK_PID[$nd]}"; done
for nd in "${!L2_SPK_PID[@]}"; do
	for i in $(seq 1 50); do l2_running "${L2_SPK_PID[$nd]}" || break; sleep 0.05; done
done
left=""
for nd in "${LAB_NODES[@]}"; do
	[ -n "$(kp_ironlb_state "$nd" 2>/dev/null)" ] && left="$left $nd"
done
[ -z "$left" ]
check "after SIGTERM no node holds an ironlb table or route" $? "$left"
finish
