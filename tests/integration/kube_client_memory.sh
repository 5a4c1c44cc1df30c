#!/bin/bash
# kube_client_memory.sh - what an informer costs in memory: 10,000
# Services in kube-sim, cached by an informer with a compact decode (as the
# daemons do) and, for comparison, one that keeps the JSON. kubetool is
# built here WITHOUT sanitizers (ASan's shadow memory would swamp the
# figures), from the same sources. Checks the controller's budget (10,000
# Services in < 32 MiB RSS) and that the informer's own anonymous memory
# for them stays small; prints the figures as TAP comments.
#
# Run from the repo root as root with IRONLB_BUILD=<repo>/build; prints
# TAP; exit 0 when every check passed. Uses only 127.0.0.1.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/kube_client_lib.sh
[ -x "$SIM" ] || bail "kube-sim is built ($SIM)" "run make kube-sim"

PKGS="libcurl libssh2 jansson yaml-0.1"
if ${CC:-cc} -std=gnu11 -D_GNU_SOURCE -O2 -Iinclude $(pkg-config --cflags $PKGS) \
	tests/tools/kubetool.c lib/kube_*.c lib/watch.c lib/informer.c lib/leader.c lib/loop.c lib/heap.c \
	lib/log.c lib/parse.c lib/metrics.c $(pkg-config --libs $PKGS) -lm \
	-o "$TMP/kubetool" 2>"$TMP/cc.log"; then
	ok "kubetool built without sanitizers"
else
	bail "kubetool built without sanitizers" "$(cat "$TMP/cc.log")"
fi
KT=$TMP/kubetool

start_sim 0 || bail "kube-sim starts" "$(cat "$TMP/sim.log")"
ok "kube-sim starts on 127.0.0.1:$PORT"
out=$(kt create-services 10000 default)
grep -q '^created=10000 failed=0' <<<"$out" && ok "10,000 Services created" || bail "10,000 Services created" "$out"

field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$2" | head -1; }
kt informer nodes --duration 1s >"$TMP/base.out" 2>&1
kt informer services --decode --duration 2s >"$TMP/dec.out" 2>&1
kt informer services --duration 2s >"$TMP/json.out" 2>&1
base_rss=$(field rss_kb "$TMP/base.out")
base_anon=$(field anon_kb "$TMP/base.out")
dec_rss=$(field rss_kb "$TMP/dec.out")
dec_anon=$(field anon_kb "$TMP/dec.out")
json_anon=$(field anon_kb "$TMP/json.out")
echo "# client baseline (libcurl with GnuTLS, an empty informer): RSS ${base_rss} kB, anonymous ${base_anon} kB"
echo "# 10,000 Services, compact decode: RSS ${dec_rss} kB, anonymous ${dec_anon} kB"
echo "# 10,000 Services, JSON kept:      anonymous ${json_anon} kB"
if grep -q '^synced count=10001 ' "$TMP/dec.out" && grep -q '^synced count=10001 ' "$TMP/json.out"; then
	ok "both informers cache all 10,001 Services"
else
	not_ok "both informers cache all 10,001 Services" "$(cat "$TMP/dec.out" "$TMP/json.out")"
fi
if [ -n "$dec_rss" ] && [ "$dec_rss" -lt 32768 ]; then
	ok "10,000 Services in an informer with decode: RSS ${dec_rss} kB < 32 MiB"
else
	not_ok "10,000 Services in < 32 MiB RSS" "rss=${dec_rss:-?} kB"
fi
grow=$((${dec_anon:-0} - ${base_anon:-0}))
if [ -n "$dec_anon" ] && [ "$grow" -lt 4096 ]; then
	ok "the informer's own memory for 10,000 decoded Services: ${grow} kB (< 4 MiB)"
else
	not_ok "the informer's own memory for 10,000 decoded Services < 4 MiB" "${grow} kB"
fi
if [ -n "$json_anon" ] && [ $((json_anon - base_anon)) -gt $((5 * grow)) ]; then
	ok "decode stores over 5 times less than keeping the JSON ($((json_anon - base_anon)) kB)"
else
	not_ok "decode stores far less than keeping the JSON" "json ${json_anon:-?} kB, decode ${dec_anon:-?} kB"
fi
finish
