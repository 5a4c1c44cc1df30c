#!/bin/bash
# Installs, with apt-get and only when missing, the Debian 12 packages that
# ironlb's build, tests, benchmarks and demo need. A second run installs
# nothing. See docs/dependencies.md for why each one is here.
set -euo pipefail

PACKAGES=(
	# build
	build-essential pkg-config clang libclang-rt-14-dev golang-go
	libcurl4-gnutls-dev libjansson-dev libnl-3-dev libnl-route-3-dev libpcap-dev
	libnftables-dev nettle-dev libssh2-1-dev libmicrohttpd-dev libyaml-dev libcmocka-dev
	# tests: network lab, peers, captures, parsers
	iproute2 iputils-ping procps psmisc curl socat python3 python3-prometheus-client python3-yaml valgrind
	tcpdump tshark arping ndisc6 nftables iptables
	bird2 frr gobgpd kubernetes-client
)

missing=()
for p in "${PACKAGES[@]}"; do
	# kubectl may come with the machine image rather than the package.
	if [ "$p" = kubernetes-client ] && command -v kubectl >/dev/null; then
		continue
	fi
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#PACKAGES[@]} packages present"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]} (run as root to install them)" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# tshark asks whether non-root users may capture; the answer does not matter
# here (tests run as root), so keep the default without a prompt.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed ${#missing[@]} packages"
