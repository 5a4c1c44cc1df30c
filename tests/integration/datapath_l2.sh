#!/bin/bash
# The datapath (--datapath=nodeport) with L2 ownership, IPv4, end to end:
# three nodes, each with a kube-proxy stand-in (real iptables-nft rules:
# KUBE-SERVICES, KUBE-NODEPORTS, KUBE-SVC with statistic random 0.5,
# KUBE-SEP DNAT) and two pods. A client on the segment connects over TCP and
# UDP to the announced address and port 80; the owner steers to NodePort
# 30080 and kube-proxy's rules take it to a pod. Checks: both pods reached
# over many connections, only the owner's pods; the pod sees the client's
# address; every reply comes from the announced address and port 80 (a
# capture on the client, field by field); direct access to address:NodePort
# is dropped; an SCTP packet is rewritten with a valid CRC32c (captured
# between the rewrite and conntrack); ironlbctl and metrics report the rules
# and counts; the table
# is put back after someone deletes it; kube-proxy's rules are untouched;
# after SIGKILL of the owner's speaker the client gets through the new
# owner; withdrawal removes every rule and route; SIGTERM leaves no ironlb
# table; a speaker started with --datapath=off removes a leftover table.
#
# Run as root from the repository root with IRONLB_BUILD set.
set -uo pipefail

. tests/lab/lab.sh
. tests/lab/l2.sh
. tests/lab/l2_test.sh
. tests/lab/kubeproxy.sh

IP4=192.0.2.200
N_CONN=50

lab_init
lab_up 3 || { not_ok "lab up"; finish; }
lab_api_start || { not_ok "kube-sim starts"; finish; }
l2_objects_apply && kp_api_service web $IP4 "" "type: LoadBalancer" \
	"[{name: http, port: 80, protocol: TCP, targetPort: $KP_POD_PORT, nodePort: 30080}, {name: dns, port: 80, protocol: UDP, targetPort: $KP_POD_PORT, nodePort: 30080}, {name: sctp, port: 80, protocol: SCTP, targetPort: $KP_POD_PORT, nodePort: 30080}]"
check "objects applied (pool, L2Advertisement, Service web with nodePort 30080 for TCP, UDP and SCTP)" $?
for nd in "${LAB_NODES[@]}"; do
	kp_pods_up "$nd" && kp_proxy_up "$nd" &&
		kp_service "$nd" default/web http tcp - 80 30080 $KP_POD_PORT &&
		kp_service "$nd" default/web dns udp - 80 30080 $KP_POD_PORT &&
		kp_service "$nd" default/web sctp sctp - 80 30080 $KP_POD_PORT || {
		not_ok "pods and kube-proxy stand-in on $nd"
		finish
	}
done
declare -A kp_before
for nd in "${LAB_NODES[@]}"; do kp_before[$nd]=$(kp_nat_rules "$nd" | sort); done
kp_csum_off client eth0
ok "pods and the kube-proxy stand-in run on every node"

got=$(kp_client_tcp "$(lab_node_addr node1)" 30080 1)
[[ $got == "node1-pod"?" 192.0.2.100" ]]
check "the stand-in serves node1's NodePort directly ($got)" $?

l2_speakers_start --datapath=nodeport
l2_wait_ready 20
check "every speaker becomes ready" $?
owner=$(l2_wait_owner $IP4 10)
check "the speakers agree on the owner of $IP4 ($owner)" $?
[ -n "$owner" ] || finish

# Wait for the owner's table (the first reconcile waits for its peers).
for i in $(seq 1 50); do
	lab_exec "$owner" nft list table inet ironlb >/dev/null 2>&1 && break
	sleep 0.1
done

# The captures run under `ip netns exec` itself, not through the lab_exec
# function: a backgrounded function is a subshell, so $! would be that
# subshell, and killing it would leave tcpdump writing the file while tshark
# reads it.
CAP=$LAB_DIR/client.pcap
ip netns exec "$(lab_ns client)" tcpdump -i eth0 -U -w "$CAP" "host $IP4" 2>/dev/null &
TCPDUMP=$!
sleep 0.5

out=$(kp_client_tcp $IP4 80 $N_CONN)
total=$(grep -c . <<<"$out")
good=$(grep -cE "^$owner-pod[12] 192\.0\.2\.100\$" <<<"$out")
[ "$total" = $N_CONN ] && [ "$good" = $N_CONN ]
check "$N_CONN TCP connections to $IP4:80 all reach a pod of the owner $owner, which sees the client's address" $? \
	"$(sort <<<"$out" | uniq -c | tr '\n' ';')"
p1=$(grep -c "^$owner-pod1 " <<<"$out")
p2=$(grep -c "^$owner-pod2 " <<<"$out")
[ "$p1" -gt 0 ] && [ "$p2" -gt 0 ]
check "kube-proxy's statistic rule spreads them over both pods ($p1 / $p2)" $?

out=$(kp_client_udp $IP4 80 20)
good=$(grep -cE "^$owner-pod[12] 192\.0\.2\.100\$" <<<"$out")
[ "$good" = 20 ] && grep -q "^$owner-pod1 " <<<"$out" && grep -q "^$owner-pod2 " <<<"$out"
check "20 UDP exchanges with $IP4:80 (connected sockets) reach both pods of the owner, client address kept" $? \
	"$(sort <<<"$out" | uniq -c | tr '\n' ';')"

got=$(kp_client_tcp $IP4 30080 1 1)
[[ $got == ERR* ]]
check "a connection straight to $IP4:30080 (the NodePort) is dropped ($got)" $?

sleep 0.3
kill "$TCPDUMP" 2>/dev/null
wait "$TCPDUMP" 2>/dev/null
from=$(tshark -r "$CAP" -Y "ip.src == $IP4" -T fields -e ip.src -e _ws.col.Protocol -e tcp.srcport \
	-e udp.srcport 2>/dev/null | sort | uniq -c)
bad=$(tshark -r "$CAP" -Y "ip.src == $IP4 && !(tcp.srcport == 80 || udp.srcport == 80)" 2>/dev/null |
	grep -c .)
nfrom=$(tshark -r "$CAP" -Y "ip.src == $IP4 && (tcp.srcport == 80 || udp.srcport == 80)" 2>/dev/null |
	grep -c .)
[ "$bad" = 0 ] && [ "$nfrom" -ge $((N_CONN * 3)) ]
check "every reply on the wire comes from $IP4 port 80 ($nfrom packets, none from another port)" $? \
	"$from"
# A TCP checksum of 0xffff where the sum comes to 0x0000 is not bad: 0xffff
# and 0x0000 are the two encodings of zero in ones' complement, and every
# receiver, which sums the segment with its checksum field, accepts both.
# tshark nevertheless marks it bad ("should be 0x0000, see RFC 1624": a
# checksum computed from scratch is never 0xffff). The kernel writes it: nft's
# payload statement (ironlb's `tcp sport set`) updates the checksum
# incrementally and turns a result of 0 into 0xffff for every protocol (as
# UDP needs, where 0 means "no checksum"), so about one reply in 65536 leaves
# a real wire that way too. Only that exact pair is let through; any other
# wrong value still fails.
CSUM_NEG0="ip.src == $IP4 && tcp.checksum == 0xffff && tcp.checksum_calculated == 0x0000"
CSUM_BAD="ip.src == $IP4 && ((tcp.checksum.status == 0 && !($CSUM_NEG0)) || udp.checksum.status == 0)"
csum_tshark() { tshark -r "$CAP" -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE "$@" 2>/dev/null; }
# csum_explain: the offending frames, one line each, then decoded (IP, TCP,
# UDP, ICMP only), then every frame of their TCP streams / UDP flows, so
# that a failure shows what the packet was (flags, retransmission, RST ...).
csum_explain() {
	local f=(-T fields -E separator='|' -e frame.number -e frame.time_relative -e ip.src
		-e ip.dst -e ip.id -e ip.ttl -e ip.len -e _ws.col.Protocol -e tcp.srcport -e tcp.dstport
		-e tcp.flags.str -e tcp.seq_raw -e tcp.ack_raw -e tcp.len -e tcp.checksum
		-e tcp.checksum.status -e udp.srcport -e udp.dstport -e udp.length -e udp.checksum
		-e udp.checksum.status -e _ws.col.Info)
	local streams udps
	echo "frame|time|src|dst|ip.id|ttl|ip.len|proto|tcp.sport|tcp.dport|flags|seq|ack|tcp.len|tcp.csum|status|udp.sport|udp.dport|udp.len|udp.csum|status|info"
	csum_tshark -Y "$CSUM_BAD" "${f[@]}" | head -n 20
	csum_tshark -Y "$CSUM_BAD" -V -O ip,tcp,udp,icmp |
		grep -vE 'Expert Info|Severity level|Group: |Reserved|Differentiated|Codepoint|Congestion Notification' |
		head -n 240
	streams=$(csum_tshark -Y "$CSUM_BAD && tcp" -T fields -e tcp.stream | sort -u | head -n 5 |
		sed 's/^/tcp.stream == /' | paste -sd '|' | sed 's/|/ || /g')
	udps=$(csum_tshark -Y "$CSUM_BAD && udp" -T fields -e udp.stream | sort -u | head -n 5 |
		sed 's/^/udp.stream == /' | paste -sd '|' | sed 's/|/ || /g')
	[ -n "$streams$udps" ] || return 0
	echo "--- every frame of those streams/flows:"
	csum_tshark -Y "${streams:-}${streams:+${udps:+ || }}${udps:-}" "${f[@]}" | head -n 60
}
csum=$(csum_tshark -Y "$CSUM_BAD" | grep -c .)
neg0=$(csum_tshark -Y "$CSUM_NEG0" -T fields -e frame.number | paste -sd ' ')
[ -z "$neg0" ] || echo "# TCP checksum 0xffff for 0x0000 (valid: both are zero in ones' complement) in frame(s) $neg0"
if [ "$csum" = 0 ]; then
	ok "no reply carries a bad TCP or UDP checksum after the port rewrite"
else
	mapfile -t csum_why < <(csum_explain)
	not_ok "no reply carries a bad TCP or UDP checksum after the port rewrite" "$csum bad" \
		"${csum_why[@]}"
fi

# SCTP: this kernel has no SCTP sockets, so the check is on the packet
# itself. INITs from a raw socket on the client to $IP4:80, one with a valid
# CRC32c and one with a wrong one, are logged (NFLOG) by a table of the
# test's own before ironlb's rewrite (-350) and after it (-250, before
# conntrack): before, port 80 and one bad CRC32c (so tshark does check it);
# after, port 30080 and both valid (the kernel recomputes the CRC32c of a
# rewritten SCTP packet, as its SCTP NAT does).
sctp_init() { # DST_PORT GOOD(1|0)
	lab_exec client python3 - "$IP4" "$1" "$2" <<'EOF'
import socket, struct, sys
def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF
chunk = struct.pack("!BBHIIHHI", 1, 0, 20, 0x1234567, 65535, 1, 1, 1)
pkt = struct.pack("!HHII", 40000 + int(sys.argv[3]), int(sys.argv[2]), 0, 0) + chunk
c = crc32c(pkt) ^ (0 if sys.argv[3] == "1" else 0x5A5A)
pkt = pkt[:8] + struct.pack("<I", c) + pkt[12:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 132)
s.sendto(pkt, (sys.argv[1], 0))
EOF
}
# queue-threshold 1: without it NFLOG batches packets and hands them to
# tcpdump only after 1 s (or 100 packets).
lab_exec "$owner" nft -f - <<EOF
table inet ilbtest {
	chain seen { type filter hook prerouting priority -250; policy accept;
		ip daddr $IP4 meta l4proto sctp log group 7 queue-threshold 1
	}
	chain before { type filter hook prerouting priority -350; policy accept;
		ip daddr $IP4 meta l4proto sctp log group 6 queue-threshold 1
	}
}
EOF
ip netns exec "$(lab_ns "$owner")" tcpdump -i nflog:6 -U -w "$LAB_DIR/sctp-before.pcap" 2>/dev/null &
TCPDUMP=$!
ip netns exec "$(lab_ns "$owner")" tcpdump -i nflog:7 -U -w "$LAB_DIR/sctp-after.pcap" 2>/dev/null &
TCPDUMP2=$!
sleep 0.5
sctp_init 80 0
sctp_init 80 1
for i in $(seq 1 30); do
	[ "$(tcpdump -r "$LAB_DIR/sctp-before.pcap" 2>/dev/null | grep -c .)" -ge 2 ] &&
		[ "$(tcpdump -r "$LAB_DIR/sctp-after.pcap" 2>/dev/null | grep -c .)" -ge 2 ] && break
	sleep 0.1
done
sleep 0.2
kill "$TCPDUMP" "$TCPDUMP2" 2>/dev/null
wait "$TCPDUMP" "$TCPDUMP2" 2>/dev/null
lab_exec "$owner" nft delete table inet ilbtest
sctp_seen() {
	tshark -r "$1" -o sctp.checksum:CRC-32C -T fields -e sctp.srcport -e sctp.dstport \
		-e sctp.checksum.status 2>/dev/null | sort | tr '\n\t' '; '
}
before=$(sctp_seen "$LAB_DIR/sctp-before.pcap")
after=$(sctp_seen "$LAB_DIR/sctp-after.pcap")
[ "$before" = "40000 80 0;40001 80 1;" ] && [ "$after" = "40000 30080 1;40001 30080 1;" ]
check "SCTP: ironlb rewrites an INIT to $IP4:80 to port 30080 with a valid CRC32c" $? \
	"before: $before" "after: $after"

st=$(l2_ctl "$owner" status)
grep -q "datapath: tcp $IP4:80 -> NodePort 30080" <<<"$st" &&
	grep -q "datapath: udp $IP4:80 -> NodePort 30080" <<<"$st" &&
	grep -q "datapath: sctp $IP4:80 -> NodePort 30080" <<<"$st" &&
	grep -q "^DATAPATH  nodeport" <<<"$st"
check "ironlbctl status on the owner shows the rules in words" $? "$(grep -i datapath <<<"$st")"
metrics=$(lab_exec "$owner" curl -fsS -m 2 "http://$(lab_node_mgmt_addr "$owner"):7481/metrics")
grep -qE "^ironlb_speaker_datapath_packets_total\{address=\"$IP4\"\} [1-9]" <<<"$metrics" &&
	grep -qE "^ironlb_speaker_datapath_bytes_total\{address=\"$IP4\"\} [1-9]" <<<"$metrics" &&
	grep -qE '^ironlb_speaker_datapath_rules [1-9]' <<<"$metrics" &&
	grep -qE '^ironlb_speaker_datapath_applies_total\{result="ok"\} [1-9]' <<<"$metrics"
check "the owner's metrics count packets and bytes steered for $IP4, rules and applies" $? \
	"$(grep datapath <<<"$metrics" | tr '\n' ';')"
others=0
for nd in "${LAB_NODES[@]}"; do
	[ "$nd" = "$owner" ] && continue
	[ -z "$(kp_ironlb_state "$nd")" ] || others=1
done
[ $others = 0 ]
check "nodes that do not own $IP4 hold no ironlb table and no ironlb route" $?
[ "$(kp_nat_rules "$owner" | sort)" = "${kp_before[$owner]}" ] &&
	[ "$(kp_nat_rules "$owner" | grep -c .)" -ge 10 ]
check "kube-proxy's rules on the owner are exactly as before, next to ironlb's table" $?

# Someone deletes the table by hand: the speaker puts it back.
lab_exec "$owner" nft delete table inet ironlb
back=1
for i in $(seq 1 80); do
	lab_exec "$owner" nft list table inet ironlb >/dev/null 2>&1 && { back=0; break; }
	sleep 0.1
done
got=$(kp_client_tcp $IP4 80 1)
[ $back = 0 ] && [[ $got == "$owner-pod"* ]]
check "after 'nft delete table inet ironlb' the speaker re-applies it within 8 s and traffic flows" $? \
	"got '$got'"
metrics=$(lab_exec "$owner" curl -fsS -m 2 "http://$(lab_node_mgmt_addr "$owner"):7481/metrics")
grep -qE '^ironlb_speaker_datapath_repairs_total [1-9]' <<<"$metrics"
check "the repair is counted" $? "$(grep repairs <<<"$metrics")"

# Failover: SIGKILL the owner's speaker; the client reconnects through the
# new owner (its table; the old node's rules stay until its speaker returns,
# but no traffic reaches it any more).
kill -KILL "${L2_SPK_PID[$owner]}"
unset "L2_SPK_PID[$owner]"
new=""
for i in $(seq 1 40); do
	got=$(kp_client_tcp $IP4 80 1 0.5)
	new=${got%%-pod*}
	[[ $got == node*-pod* ]] && [ "$new" != "$owner" ] && break
	sleep 0.05
done
[ -n "$new" ] && [ "$new" != "$owner" ] && [[ $got == *" 192.0.2.100" ]]
check "after SIGKILL of $owner's speaker the client reaches the pods of the new owner $new" $? "got '$got'"
out=$(kp_client_tcp $IP4 80 20)
[ "$(grep -cE "^$new-pod[12] 192\.0\.2\.100\$" <<<"$out")" = 20 ]
check "20 further connections all go through $new" $? "$(sort <<<"$out" | uniq -c | tr '\n' ';')"

# A speaker started with --datapath=off on the old owner removes the
# table and routes its killed predecessor left.
[ -n "$(kp_ironlb_state "$owner")" ]
left=$?
l2_speaker_start "$owner"
gone=1
for i in $(seq 1 50); do
	[ -z "$(kp_ironlb_state "$owner")" ] && { gone=0; break; }
	sleep 0.1
done
[ $left = 0 ] && [ $gone = 0 ]
check "a speaker started with --datapath=off on $owner removes the table and routes left by the killed one" $?
# It would take the address back without steering it: stop it again.
kill -TERM "${L2_SPK_PID[$owner]}"
for i in $(seq 1 50); do l2_running "${L2_SPK_PID[$owner]}" || break; sleep 0.05; done
unset "L2_SPK_PID[$owner]"

# Withdrawal: the Service loses its address; the owner removes everything.
lab_kubectl -n default patch svc web --subresource=status --type=merge \
	-p '{"status":{"loadBalancer":{"ingress":null}}}' >/dev/null
gone=1
for i in $(seq 1 50); do
	[ -z "$(kp_ironlb_state "$new")" ] && { gone=0; break; }
	sleep 0.1
done
[ $gone = 0 ]
check "withdrawing $IP4 removes $new's table and local route" $? "$(kp_ironlb_state "$new")"
got=$(kp_client_tcp $IP4 80 1 0.5)
[[ $got == ERR* ]]
check "and $IP4:80 no longer answers ($got)" $?

# Announce again, then SIGTERM every speaker: no ironlb table anywhere.
lab_kubectl -n default patch svc web --subresource=status --type=merge \
	-p "{\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"$IP4\"}]}}}" >/dev/null
for i in $(seq 1 50); do
	got=$(kp_client_tcp $IP4 80 1 0.5)
	[[ $got == node*-pod* ]] && break
	sleep 0.1
done
[[ $got == node*-pod* ]]
check "announced again, $IP4:80 reaches a pod ($got)" $?
for nd in "${!L2_SPK_PID[@]}"; do
	kill -TERM "${L2_SPK_PID[$nd]}"
done
for nd in "${!L2_SPK_PID[@]}"; do
	for i in $(seq 1 50); do l2_running "${L2_SPK_PID[$nd]}" || break; sleep 0.05; done
done
left=""
for nd in "${LAB_NODES[@]}"; do
	lab_exec "$nd" nft list ruleset | grep -q 'table inet ironlb' && left="$left $nd"
	[ -n "$(kp_ironlb_state "$nd")" ] && left="$left $nd(routes)"
done
[ -z "$left" ]
check "after SIGTERM 'nft list ruleset' shows no ironlb table and no ironlb route on any node" $? "$left"
same=1
for nd in "${LAB_NODES[@]}"; do
	[ "$(kp_nat_rules "$nd" | sort)" = "${kp_before[$nd]}" ] || same=0
done
[ $same = 1 ]
check "kube-proxy's rules on every node are exactly as before ironlb started" $?
finish
