# BGP routers for the lab: FRR and GoBGP in namespaces of their own on the
# data segment, and BIRD in node namespaces, for tests of the speaker in BGP
# mode against real routers. Sourced after lab.sh:
#
#   . tests/lab/lab.sh; . tests/lab/bgp.sh
#   lab_init; lab_up 2
#   bgp_router_add frr 1            # ns ilb<PID>-frr, 192.0.2.1, 2001:db8:2::1
#   frr_start frr 64500 "192.0.2.11@64512 192.0.2.12@64512" password=s3cret bfd \
#       multipath=8 both-families
#   bgp_router_add gobgp 2
#   gobgp_start gobgp 64501 "192.0.2.11@64512 2001:db8:2::11@64512" password=s3cret
#   bird_start node1 CONF           # BIRD 2 in a node; bird_ctl node1 show protocols
#   bgp_wait 15 frr_neighbor_up frr 192.0.2.11
#   bgp_wait 15 frr_path_check frr 198.51.100.10/32 paths=2 community=64500:100 \
#       large=64500:1:2
#   frr_routes frr v4; frr_route frr 198.51.100.10/32; frr_kernel_nexthops frr PREFIX
#   gobgp_routes gobgp v6; gobgp_path_check gobgp 2001:db8:5::10/128 from=192.0.2.11
#
# Everything lives in $LAB_DIR/bgp-NAME and in FRR's private path space
# /var/run/frr/ilb<PID>-NAME; lab_down kills the daemons with everything in
# the namespaces and then runs bgp_cleanup (LAB_CLEANUP_HOOKS).
#
# What each implementation needed (found by running them here: FRR 8.4.4,
# GoBGP 3.10, BIRD 2.0.12):
#
# FRR
#   - zebra, bfdd and bgpd each started with `-N PATHSPACE -u root -g frrvty
#     -P 0 --log stdout -f frr.conf` (each daemon takes its own part of the
#     integrated file): -N puts the vty sockets, pid files and the zserv
#     socket in /var/run/frr/PATHSPACE/ (created beforehand), so several
#     instances coexist. `-g root` is refused ("user(root) is not part of
#     vty group specified(frrvty)": the Debian build checks the vty group
#     against -u/-g), and only bgpd has -S. vtysh needs `-N PATHSPACE` and
#     `--config_dir DIR` with an (empty) DIR/PATHSPACE/vtysh.conf. zebra is
#     needed twice over: bgpd reaches bfdd only through it, and it puts the
#     best paths (ECMP with `maximum-paths`) in the router's kernel; without
#     it bgpd also rejected the nodes' IPv6 updates here ("MP_REACH_NLRI,
#     parse error - treating as withdrawal").
#   - `no bgp ebgp-requires-policy` (on by default in FRR 8: without it,
#     eBGP routes are neither accepted nor sent unless route-maps allow them), `no bgp network import-check`,
#     `bgp bestpath as-path multipath-relax` (ECMP across neighbors of
#     different ASNs), `maximum-paths N` in each address family.
#   - per neighbor: `timers 1 3`, `timers connect 1`, `password`, `bfd` and
#     `bfd profile NAME`; the profile (intervals 100 ms, multiplier 3) is
#     defined in bfdd's `bfd` node. IPv6 neighbors need `address-family
#     ipv6 unicast` / `neighbor X activate`; IPv4 neighbors are active in
#     ipv4 unicast by default (no `no bgp default ipv4-unicast`).
#   - `show bgp ipv4 unicast json` lists prefixes and next hops only; the
#     communities and local preference of a prefix are in `show bgp ipv4
#     unicast PREFIX json` (frr_route).
# GoBGP
#   - gobgpd -f FILE -t toml --api-hosts 127.0.0.1:50051 --pprof-disable,
#     inside the router's namespace (the gRPC port is private to it, so the
#     same port in every router; the gobgp CLI runs in the namespace too).
#   - neighbors: `auth-password` for TCP MD5, timers hold-time 3,
#     keepalive-interval 1, connect-retry 1; afi-safis ipv4-unicast or
#     ipv6-unicast by the neighbor's family. Default policy accepts all.
#   - GoBGP has no BFD: BIRD's sessions to it run without (hold timer only).
# BIRD (see tests/integration/bgp_lab.sh for a whole configuration)
#   - kernel protocols (one per family) with `kernel table 74800; learn;`
#     and an import filter `if krt_source != 74 then reject;` (learn also
#     takes a `proto static` route in that table: without the filter it is
#     advertised) that also sets the policy's attributes:
#     `bgp_community.add((64500, 100)); bgp_large_community.add((64500, 1,
#     2));` reach both routers. `scan time 10` is enough: BIRD learns new and
#     deleted routes from netlink notifications at once.
#   - pipes from that table into one table per peer; BGP channels `import
#     none; export all; next hop self;` (the routes are blackholes: the next
#     hop must be the node). Both shapes work with FRR and GoBGP: a session
#     per family (IPv6 over an IPv6 neighbor), and one IPv4 session carrying
#     ipv4 and ipv6 channels, whose IPv6 next hop BIRD takes from the
#     interface (global + link-local on a direct session; FRR installs the
#     link-local). The peer must activate IPv6 on that session
#     (frr_start/gobgp_start both-families=ADDR).
#   - BFD: `bfd on` with intervals per interface in `protocol bfd {
#     interface "eth0" { min rx interval 100 ms; min tx interval 100 ms;
#     multiplier 3; }; }`, or a bare `protocol bfd {}` with `bfd { min rx
#     interval 100 ms; min tx interval 100 ms; multiplier 3; };` inside the
#     bgp protocol: both come up with FRR's bfdd.
#   - `password` (TCP MD5, matching FRR's and GoBGP's), and `hold time 3;
#     keepalive time 1; connect delay time 1; connect retry time 1; error
#     wait time 1, 3` so that sessions come up and come back quickly (BIRD's
#     defaults wait 5 s to connect and 120 s to retry).

BGP_GOBGP_API=127.0.0.1:50051
# The system's python3: a version manager's shim in PATH may cost seconds a
# call, and the checks below poll.
BGP_PY=${BGP_PY:-$(command -v /usr/bin/python3 || command -v python3)}
BGP_ROUTERS=()
LAB_CLEANUP_HOOKS+=(bgp_cleanup)

bgp_dir() { echo "$LAB_DIR/bgp-$1"; }

# bgp_router_add NAME HOSTPART: namespace ilb<PID>-NAME on the data segment
# with 192.0.2.HOSTPART/24 and 2001:db8:2::HOSTPART/64.
bgp_router_add() {
	local name=$1 host=$2
	lab_add_ns "$name" || return 1
	lab_plug "$name" br-data eth0 || return 1
	lab_exec "$name" ip addr add "$LAB_DATA4_PREFIX.$host/24" dev eth0
	lab_exec "$name" ip addr add "$LAB_DATA6_PREFIX::$host/64" dev eth0 nodad
	lab_exec "$name" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	mkdir -p "$(bgp_dir "$name")"
	BGP_ROUTERS+=("$name")
}

bgp_router_addr() { lab_exec "$1" ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1; }

# Neighbor list entries are ADDR or ADDR@ASN ("external"/"internal" allowed
# for FRR); without @ the peer is eBGP ("external"), or iBGP with option ibgp.
bgp_nb_addr() { echo "${1%@*}"; }
bgp_nb_asn() {
	case "$1" in
	*@*) echo "${1#*@}" ;;
	*) echo "${2:-external}" ;;
	esac
}
bgp_is_v6() { case "$1" in *:*) return 0 ;; *) return 1 ;; esac }
# bgp_both SPEC ADDR: SPEC (0, all or ,ADDR,ADDR,) makes ADDR carry both
# families.
bgp_both() { [ "$1" = all ] || case "$1" in *,"$2",*) return 0 ;; *) return 1 ;; esac }

# ---- FRR ----

frr_pathspace() { lab_ns "$1"; }

# vtysh NAME CMD...: one vtysh command per argument.
frr_vtysh() {
	local name=$1 a args=()
	shift
	for a in "$@"; do args+=(-c "$a"); done
	lab_exec "$name" vtysh -N "$(frr_pathspace "$name")" --config_dir "$(bgp_dir "$name")" \
		"${args[@]}"
}

# frr_start NAME ASN "NEIGHBORS..." [password=SECRET] [bfd] [ibgp]
#   [multipath=N] [router-id=ADDR] [both-families[=ADDR,...]]
# Each neighbor carries the unicast family of its address; with
# both-families (all neighbors, or those listed) IPv4 and IPv6 unicast over
# the one session.
# Writes frr.conf (and the per-daemon files made from it) in $LAB_DIR/bgp-NAME
# and starts zebra, bfdd (with bfd) and bgpd; returns once bgpd answers vtysh.
frr_start() {
	local name=$1 asn=$2 nbs=$3 opt password="" bfd=0 ibgp=0 mp=8 rid nb a r dir ps i d af both=0
	shift 3
	rid=$(bgp_router_addr "$name")
	for opt in "$@"; do
		case "$opt" in
		password=*) password=${opt#password=} ;;
		bfd) bfd=1 ;;
		ibgp) ibgp=1 ;;
		ebgp) ibgp=0 ;;
		multipath=*) mp=${opt#multipath=} ;;
		router-id=*) rid=${opt#router-id=} ;;
		both-families) both=all ;;
		both-families=*) both=,${opt#both-families=}, ;;
		*) lab_log "frr_start: unknown option $opt"; return 1 ;;
		esac
	done
	dir=$(bgp_dir "$name")
	ps=$(frr_pathspace "$name")
	{
		echo "frr defaults traditional"
		echo "hostname $name"
		echo "log stdout informational"
		echo "!"
		if [ $bfd = 1 ]; then
			echo "bfd"
			echo " profile lab"
			echo "  receive-interval 100"
			echo "  transmit-interval 100"
			echo "  detect-multiplier 3"
			echo " !"
			echo "!"
		fi
		echo "router bgp $asn"
		echo " bgp router-id $rid"
		echo " no bgp ebgp-requires-policy"
		echo " no bgp network import-check"
		echo " bgp bestpath as-path multipath-relax"
		for nb in $nbs; do
			a=$(bgp_nb_addr "$nb")
			r=$(bgp_nb_asn "$nb" "$([ $ibgp = 1 ] && echo internal || echo external)")
			echo " neighbor $a remote-as $r"
			echo " neighbor $a timers 1 3"
			echo " neighbor $a timers connect 1"
			[ -n "$password" ] && echo " neighbor $a password $password"
			if [ $bfd = 1 ]; then
				echo " neighbor $a bfd"
				echo " neighbor $a bfd profile lab"
			fi
		done
		for af in ipv4 ipv6; do
			echo " address-family $af unicast"
			echo "  maximum-paths $mp"
			echo "  maximum-paths ibgp $mp"
			for nb in $nbs; do
				a=$(bgp_nb_addr "$nb")
				if bgp_both "$both" "$a" || { [ $af = ipv6 ] && bgp_is_v6 "$a"; }; then
					echo "  neighbor $a activate"
				elif [ $af = ipv4 ] && bgp_is_v6 "$a"; then
					echo "  no neighbor $a activate"
				fi
			done
			echo " exit-address-family"
		done
		echo "!"
	} >"$dir/frr.conf"
	# vtysh -N reads CONFIG_DIR/PATHSPACE/vtysh.conf.
	mkdir -p "$dir/$ps"
	: >"$dir/$ps/vtysh.conf"
	mkdir -p "/var/run/frr/$ps"
	for d in zebra bfdd bgpd; do
		[ $d = bfdd ] && [ $bfd = 0 ] && continue
		lab_spawn "$name" "frr-$name-$d" /usr/lib/frr/$d -N "$ps" -u root -g frrvty -P 0 \
			--log stdout -f "$dir/frr.conf" >/dev/null
		# bgpd and bfdd connect to zebra's socket: wait for it.
		if [ $d = zebra ]; then
			for i in $(seq 1 50); do
				[ -S "/var/run/frr/$ps/zserv.api" ] && break
				sleep 0.1
			done
		fi
	done
	for i in $(seq 1 50); do
		frr_vtysh "$name" "show bgp summary" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	lab_log "FRR in $name did not start; its logs:"
	tail -n 20 "$LAB_DIR"/frr-"$name"-*.log >&2
	return 1
}

# frr_routes NAME [v4|v6]: JSON of the BGP table (prefixes, paths, next hops).
frr_routes() {
	local af=ipv4
	[ "${2:-v4}" = v6 ] && af=ipv6
	frr_vtysh "$1" "show bgp $af unicast json"
}

# frr_route NAME PREFIX: JSON of one prefix with every path in detail
# (communities, large communities, local preference, AS path, next hops).
frr_route() {
	local af=ipv4
	bgp_is_v6 "$2" && af=ipv6
	frr_vtysh "$1" "show bgp $af unicast $2 json"
}

# frr_kernel_nexthops NAME PREFIX: the gateways of PREFIX in the router's
# kernel (what zebra installed), one per line, sorted.
frr_kernel_nexthops() {
	local fam=-4
	bgp_is_v6 "$2" && fam=-6
	lab_exec "$1" ip -j "$fam" route show "$2" | "$BGP_PY" -c '
import json, sys
gws = set()
for r in json.load(sys.stdin):
    if r.get("gateway"):
        gws.add(r["gateway"])
    for nh in r.get("nexthops", []):
        if nh.get("gateway"):
            gws.add(nh["gateway"])
print("\n".join(sorted(gws)))'
}

# frr_bfd_peers NAME: JSON of FRR's BFD sessions.
frr_bfd_peers() { frr_vtysh "$1" "show bfd peers json"; }

# frr_bfd_up NAME PEER: success if FRR's BFD session with PEER is up.
frr_bfd_up() {
	frr_bfd_peers "$1" | "$BGP_PY" -c '
import json, sys
peer = sys.argv[1]
sys.exit(0 if any(p.get("peer") == peer and p.get("status") == "up"
                  for p in json.load(sys.stdin)) else 1)' "$2"
}

# frr_neighbor_up NAME PEER: success if the BGP session with PEER is
# Established.
frr_neighbor_up() {
	frr_vtysh "$1" "show bgp neighbors $2 json" | "$BGP_PY" -c '
import json, sys
d = json.load(sys.stdin).get(sys.argv[1], {})
sys.exit(0 if d.get("bgpState") == "Established" else 1)' "$2"
}

# frr_path_check NAME PREFIX [from=ADDR] [community=C] [large=C] [localpref=N]
#   [paths=N]: success if FRR has PREFIX, with exactly N paths if asked, and
# if from= is given a path learned from ADDR carrying the given attributes
# (else every path must carry them). Prints what it found on failure.
frr_path_check() {
	local name=$1 prefix=$2
	shift 2
	frr_route "$name" "$prefix" | bgp_py_check frr "$@"
}

# ---- GoBGP ----

# gobgp_start NAME ASN "NEIGHBORS..." [password=SECRET] [router-id=ADDR]
#   [both-families[=ADDR,...]]
gobgp_start() {
	local name=$1 asn=$2 nbs=$3 opt password="" rid nb a dir i both=0 af
	shift 3
	rid=$(bgp_router_addr "$name")
	for opt in "$@"; do
		case "$opt" in
		password=*) password=${opt#password=} ;;
		router-id=*) rid=${opt#router-id=} ;;
		both-families) both=all ;;
		both-families=*) both=,${opt#both-families=}, ;;
		*) lab_log "gobgp_start: unknown option $opt"; return 1 ;;
		esac
	done
	dir=$(bgp_dir "$name")
	{
		echo "[global.config]"
		echo "  as = $asn"
		echo "  router-id = \"$rid\""
		for nb in $nbs; do
			a=$(bgp_nb_addr "$nb")
			echo "[[neighbors]]"
			echo "  [neighbors.config]"
			echo "    neighbor-address = \"$a\""
			echo "    peer-as = $(bgp_nb_asn "$nb" "$asn")"
			[ -n "$password" ] && echo "    auth-password = \"$password\""
			echo "  [neighbors.timers.config]"
			echo "    hold-time = 3"
			echo "    keepalive-interval = 1"
			echo "    connect-retry = 1"
			for af in ipv4 ipv6; do
				if ! bgp_both "$both" "$a"; then
					if bgp_is_v6 "$a"; then [ $af = ipv6 ]; else [ $af = ipv4 ]; fi ||
						continue
				fi
				echo "  [[neighbors.afi-safis]]"
				echo "    [neighbors.afi-safis.config]"
				echo "      afi-safi-name = \"$af-unicast\""
			done
		done
	} >"$dir/gobgpd.toml"
	lab_spawn "$name" "gobgp-$name" gobgpd -f "$dir/gobgpd.toml" -t toml \
		--api-hosts "$BGP_GOBGP_API" --pprof-disable -p >/dev/null
	for i in $(seq 1 50); do
		gobgp_cli "$name" global >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	lab_log "GoBGP in $name did not start; its log:"
	tail -n 20 "$LAB_DIR/gobgp-$name.log" >&2
	return 1
}

gobgp_cli() {
	local name=$1
	shift
	lab_exec "$name" gobgp -u "${BGP_GOBGP_API%:*}" -p "${BGP_GOBGP_API##*:}" "$@"
}

# gobgp_routes NAME [v4|v6]: JSON of GoBGP's global RIB (prefix -> paths).
gobgp_routes() {
	local af=ipv4
	[ "${2:-v4}" = v6 ] && af=ipv6
	gobgp_cli "$1" global rib -a "$af" -j
}

# gobgp_path_check NAME PREFIX [from=ADDR] [community=C] [large=C] [paths=N]
gobgp_path_check() {
	local name=$1 prefix=$2 af=v4
	shift 2
	bgp_is_v6 "$prefix" && af=v6
	gobgp_routes "$name" "$af" | bgp_py_check gobgp --prefix="$prefix" "$@"
}

# gobgp_neighbor_up NAME PEER
gobgp_neighbor_up() {
	gobgp_cli "$1" neighbor "$2" -j | "$BGP_PY" -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if d.get("state", {}).get("session_state") == 6 else 1)'
}

# ---- checks on JSON, in python3 (jq is not guaranteed) ----

# bgp_py_check frr|gobgp [--prefix=P] [from=ADDR] [community=C] [large=C]
#   [localpref=N] [paths=N] [absent]: reads the JSON of frr_route or
# gobgp_routes on stdin; exit 0 if it matches.
bgp_py_check() {
	"$BGP_PY" -c '
import json, sys

kind, args = sys.argv[1], sys.argv[2:]
want = {}
prefix = None
for a in args:
    if a.startswith("--prefix="):
        prefix = a.split("=", 1)[1]
    elif "=" in a:
        k, v = a.split("=", 1)
        want[k] = v
    else:
        want[a] = True
raw = sys.stdin.read()
try:
    doc = json.loads(raw) if raw.strip() else {}
except ValueError:
    print("# not JSON: %r" % raw[:200])
    sys.exit(2)

paths = []  # (from, communities, large, localpref, nexthops)
if kind == "frr":
    for p in doc.get("paths", []):
        paths.append({
            "from": p.get("peer", {}).get("peerId"),
            "community": p.get("community", {}).get("string", "").split(),
            "large": p.get("largeCommunity", {}).get("string", "").split(),
            "localpref": str(p.get("locPrf", p.get("localpref", ""))),
            "nexthops": [n.get("ip") for n in p.get("nexthops", [])],
        })
else:
    for key, lst in doc.items():
        if key != prefix:
            continue
        for p in lst:
            comm, large = [], []
            for at in p.get("attrs", []):
                if at.get("type") == 8:
                    comm = ["%d:%d" % (c >> 16, c & 0xffff) for c in at.get("communities", [])]
                if at.get("type") == 32:
                    large = ["%s:%s:%s" % (v.get("ASN"), v.get("LocalData1"), v.get("LocalData2"))
                             for v in at.get("value", [])]
            paths.append({"from": p.get("neighbor-ip"), "community": comm, "large": large,
                          "localpref": "", "nexthops": []})

def fail(why):
    print("# %s; paths: %s" % (why, json.dumps(paths)))
    sys.exit(1)

if want.get("absent"):
    if paths:
        fail("present")
    sys.exit(0)
if not paths:
    fail("absent")
if "paths" in want and len(paths) != int(want["paths"]):
    fail("%d paths, want %s" % (len(paths), want["paths"]))
sel = [p for p in paths if "from" not in want or p["from"] == want["from"]]
if not sel:
    fail("no path from %s" % want["from"])
for p in sel:
    if "community" in want and want["community"] not in p["community"]:
        fail("community %s missing" % want["community"])
    if "large" in want and want["large"] not in p["large"]:
        fail("large community %s missing" % want["large"])
    if "localpref" in want and p["localpref"] != want["localpref"]:
        fail("local preference %s, want %s" % (p["localpref"], want["localpref"]))
' "$@"
}

# bgp_wait SECONDS CMD...: polls CMD every 0.2 s until it succeeds; its
# last output is shown when it never does.
bgp_wait() {
	local secs=$1 i out
	shift
	for i in $(seq 1 $((secs * 5))); do
		out=$("$@" 2>&1) && return 0
		sleep 0.2
	done
	[ -n "$out" ] && echo "$out" | sed 's/^/# /' | head -n 20
	return 1
}

# ---- BIRD in a node ----

bird_sock() { echo "$(bgp_dir "$1")/bird.ctl"; }

# bird_start NODE CONF: BIRD 2 in the foreground in NODE's namespace.
bird_start() {
	local node=$1 conf=$2 i
	mkdir -p "$(bgp_dir "$node")"
	lab_exec "$node" bird -p -c "$conf" || return 1
	lab_spawn "$node" "bird-$node" bird -f -c "$conf" -s "$(bird_sock "$node")" \
		-P "$(bgp_dir "$node")/bird.pid" >"$(bgp_dir "$node")/spawn.pid"
	for i in $(seq 1 50); do
		bird_ctl "$node" show status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	lab_log "BIRD in $node did not start; its log:"
	tail -n 20 "$LAB_DIR/bird-$node.log" >&2
	return 1
}

bird_ctl() {
	local node=$1
	shift
	lab_exec "$node" birdc -s "$(bird_sock "$node")" "$@"
}

# bird_stop NODE [SIGNAL]: kills BIRD in NODE (SIGKILL by default: no BGP
# notification, but the kernel still closes its TCP sessions).
bird_stop() {
	local pidf spawned
	pidf="$(bgp_dir "$1")/bird.pid"
	spawned=$(cat "$(bgp_dir "$1")/spawn.pid" 2>/dev/null)
	[ -s "$pidf" ] && kill "-${2:-KILL}" "$(cat "$pidf")" 2>/dev/null
	# Reaped here, so that the shell does not report the kill.
	[ -n "$spawned" ] && wait "$spawned" 2>/dev/null
	return 0
}

# bird_freeze NODE: stops BIRD in NODE with SIGSTOP, as a node that hangs or
# loses power: its sessions stay open and fall silent, so peers notice only
# through BFD or the hold timer. lab_down still kills it.
bird_freeze() {
	local pidf
	pidf="$(bgp_dir "$1")/bird.pid"
	[ -s "$pidf" ] && kill -STOP "$(cat "$pidf")"
}

# Run by lab_down after every process in the namespaces is gone.
bgp_cleanup() {
	local r
	for r in "${BGP_ROUTERS[@]}"; do
		[ -n "$r" ] && rm -rf "/var/run/frr/$(lab_ns "$r")"
	done
	BGP_ROUTERS=()
}
