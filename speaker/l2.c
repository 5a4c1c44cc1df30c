/* L2 announcer: claims, interfaces, sockets and the wire (see l2.h).
 *
 * Claims live in a red-black tree keyed by address, so an ARP request or
 * Neighbor Solicitation is matched in O(log n) whatever the number of
 * claimed addresses. Each interface in use has one ARP and one IPv6 packet
 * socket, opened when the first claim needs it and closed with the last.
 * The ARP sockets' BPF filter passes only frames whose target or sender IP
 * is a claimed IPv4 address (arp_bpf_filter_claims), re-attached whenever
 * that set changes; with too many addresses for one program they pass
 * every ARP frame (arp_bpf_filter) and the tree lookup sorts them out.
 */
#include "l2.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arp.h"
#include "iface.h"
#include "ironlb/heap.h"
#include "ironlb/loop.h"
#include "ironlb/rbtree.h"
#include "ndp.h"
#include "packet.h"

#define L2_MAX_IF 4
/* Claims started, or ticks run, in one call or one wakeup at most: each
 * sends a frame, and the 10,000 claims a failover may hand over at once
 * would otherwise keep the loop from heartbeats and ARP answers for tens of
 * milliseconds. The rest wait in the due heap for the next wakeups: a claim
 * not started yet is IDLE with ann.next_us set to when it was queued
 * (announce_tick leaves IDLE alone; on_due_timer starts it). */
#define L2_BATCH 256
#define L2_MAX_GROUPS 4096
/* A claim probing ahead that drops out of the set lingers, silent, this
 * long: the Service status that names the address and the pool status that
 * moves on to the next one come by separate watches, in either order, and
 * the claim must still be there when the Service's arrives. It goes at the
 * first l2_set_claims() after that. At most L2_MAX_LINGER linger. */
#define L2_AHEAD_LINGER_US 5000000
#define L2_MAX_LINGER 256

struct l2_group {
	uint8_t mac[6];
	unsigned refs;
};

struct l2_if {
	struct l2 *l2;
	int ifindex;
	uint8_t mac[6];
	unsigned refs;
	struct packet_sock *arp;
	struct packet_sock *nd;
	struct l2_group *groups; /* solicited-node multicast groups joined */
	size_t n_groups;
	struct l2_if *next;
};

struct l2_entry {
	struct rb_node node;
	struct ip_addr addr;
	bool probe;
	bool ahead;
	uint8_t n_ifs;
	uint8_t n_ifnames; /* at most L2_MAX_IFNAMES, checked by l2_set_claims */
	uint32_t due_pos;  /* in l2->due; 0 when no tick is due */
	unsigned gen;
	struct announce ann;
	struct l2_if *ifs[L2_MAX_IF];
	const char *why_no_interface;
	char **ifnames;
};

struct l2 {
	struct loop *loop;
	struct iface_monitor *ifaces;
	struct announce_cfg cfg;
	struct l2_callbacks cb;
	void *userdata;
	struct rb_tree claims;
	struct l2_if *ifs;
	struct l2_stats stats;
	uint64_t closed_drops; /* kernel drops of packet sockets already closed */
	unsigned gen;
	/* The ARP sockets' filter for the current IPv4 claims (NULL: the
	 * generic arp_bpf_filter), and whether that set changed since. */
	struct sock_filter *arp_prog;
	size_t arp_prog_len;
	bool arp_dirty;
	/* Claims with a tick due (probe, burst, refresh), a min-heap on
	 * ann.next_us under one loop timer: a timer per claim would cost more
	 * than the claim. Room for every claim is reserved in advance, so
	 * scheduling never fails. */
	struct heap due;
	size_t n_entries;
	size_t n_ahead; /* entries probing ahead */
	/* Entries probing ahead that dropped out of the set (L2_AHEAD_LINGER_US). */
	struct l2_linger {
		struct l2_entry *e;
		uint64_t until_us;
	} linger[L2_MAX_LINGER];
	size_t n_linger;
	struct loop_timer *timer;
};

static int entry_cmp(const struct rb_node *a, const struct rb_node *b)
{
	return ip_cmp(&rb_entry(a, struct l2_entry, node)->addr,
		      &rb_entry(b, struct l2_entry, node)->addr);
}

static int entry_key_cmp(const void *key, const struct rb_node *n)
{
	return ip_cmp(key, &rb_entry(n, struct l2_entry, node)->addr);
}

static struct l2_entry *entry_find(const struct l2 *l2, const struct ip_addr *a)
{
	struct rb_node *n = rb_find(&l2->claims, a, entry_key_cmp);

	return n ? rb_entry(n, struct l2_entry, node) : NULL;
}

static bool entry_on_if(const struct l2_entry *e, const struct l2_if *lif)
{
	for (size_t i = 0; i < e->n_ifs; i++)
		if (e->ifs[i] == lif)
			return true;
	return false;
}

/* ---- interfaces and their sockets ---- */

static void on_arp_frame(void *userdata, int ifindex, const uint8_t *frame, size_t len,
			 bool truncated);
static void on_nd_frame(void *userdata, int ifindex, const uint8_t *frame, size_t len,
			bool truncated);

static uint64_t sock_drops(struct packet_sock *ps)
{
	struct packet_stats st;

	if (!ps)
		return 0;
	packet_sock_stats(ps, &st);
	return st.kernel_drops;
}

uint64_t l2_kernel_drops(const struct l2 *l2)
{
	uint64_t n = l2->closed_drops;

	for (const struct l2_if *lif = l2->ifs; lif; lif = lif->next)
		n += sock_drops(lif->arp) + sock_drops(lif->nd);
	return n;
}

static void if_close(struct l2_if *lif)
{
	struct l2_if **pp;

	for (pp = &lif->l2->ifs; *pp; pp = &(*pp)->next) {
		if (*pp == lif) {
			*pp = lif->next;
			break;
		}
	}
	lif->l2->closed_drops += sock_drops(lif->arp) + sock_drops(lif->nd);
	packet_sock_free(lif->arp);
	packet_sock_free(lif->nd); /* leaving the groups with it */
	free(lif->groups);
	free(lif);
}

static struct l2_if *if_get(struct l2 *l2, int ifindex)
{
	const struct iface_link *link = iface_monitor_link(l2->ifaces, ifindex);
	struct l2_if *lif;
	size_t flen;
	const struct sock_filter *f;

	for (lif = l2->ifs; lif; lif = lif->next)
		if (lif->ifindex == ifindex)
			return lif;
	if (!link)
		return NULL;
	lif = calloc(1, sizeof(*lif));
	if (!lif)
		return NULL;
	lif->l2 = l2;
	lif->ifindex = ifindex;
	memcpy(lif->mac, link->mac, 6);
	if (l2->arp_prog)
		lif->arp = packet_sock_new(l2->loop, ifindex, ARP_ETHERTYPE, l2->arp_prog,
					   l2->arp_prog_len, on_arp_frame, lif, NULL);
	if (!lif->arp) { /* or the kernel refused the claims' program */
		f = arp_bpf_filter(&flen);
		lif->arp = packet_sock_new(l2->loop, ifindex, ARP_ETHERTYPE, f, flen, on_arp_frame,
					   lif, NULL);
	}
	f = ndp_bpf_filter(&flen);
	lif->nd =
		packet_sock_new(l2->loop, ifindex, NDP_ETHERTYPE, f, flen, on_nd_frame, lif, NULL);
	if (!lif->arp || !lif->nd) {
		packet_sock_free(lif->arp);
		packet_sock_free(lif->nd);
		free(lif);
		return NULL;
	}
	lif->next = l2->ifs;
	l2->ifs = lif;
	return lif;
}

/* Rebuilds the ARP filter from the IPv4 claims and attaches it to every
 * ARP socket, before anything is sent for a new claim (its probes'
 * answers must pass). Any failure falls back to the generic filter, which
 * passes every ARP frame: more work, same behaviour. */
static void arp_filter_update(struct l2 *l2)
{
	struct sock_filter *prog = NULL;
	struct ip_addr *v4 = NULL;
	size_t n = 0, glen;
	const struct sock_filter *generic = arp_bpf_filter(&glen);
	int r = -ENOMEM;

	if (!l2->arp_dirty)
		return;
	l2->arp_dirty = false;
	for (struct rb_node *node = rb_first(&l2->claims); node; node = rb_next(node))
		n += rb_entry(node, struct l2_entry, node)->addr.family == AF_INET;
	if (n <= ARP_BPF_MAX_INSNS) {
		v4 = n ? malloc(n * sizeof(*v4)) : NULL;
		prog = malloc(ARP_BPF_MAX_INSNS * sizeof(*prog));
		if ((!n || v4) && prog) {
			size_t k = 0;

			/* The tree is sorted by ip_cmp: IPv4 ascending. */
			for (struct rb_node *node = rb_first(&l2->claims); node;
			     node = rb_next(node)) {
				const struct l2_entry *e = rb_entry(node, struct l2_entry, node);

				if (e->addr.family == AF_INET)
					v4[k++] = e->addr;
			}
			r = arp_bpf_filter_claims(v4, n, prog, ARP_BPF_MAX_INSNS);
		}
	}
	free(v4);
	free(l2->arp_prog);
	l2->arp_prog = NULL;
	l2->arp_prog_len = 0;
	if (r > 0) {
		struct sock_filter *fit = realloc(prog, (size_t)r * sizeof(*prog));

		l2->arp_prog = fit ? fit : prog;
		l2->arp_prog_len = (size_t)r;
	} else {
		free(prog);
	}
	for (struct l2_if *lif = l2->ifs; lif; lif = lif->next)
		packet_sock_set_filter(lif->arp, l2->arp_prog ? l2->arp_prog : generic,
				       l2->arp_prog ? l2->arp_prog_len : glen, generic, glen);
}

/* Joins (delta +1) or leaves (-1) the solicited-node group of an IPv6
 * address on an interface, counting users so that addresses sharing a
 * group (same low 24 bits) share the membership. */
static void if_group(struct l2_if *lif, const struct ip_addr *a, int delta)
{
	struct ip_addr group;
	uint8_t mac[6];
	size_t i;

	if (a->family != AF_INET6 || ndp_solicited_node(a, &group) < 0)
		return;
	ndp_multicast_mac(&group, mac);
	for (i = 0; i < lif->n_groups; i++)
		if (memcmp(lif->groups[i].mac, mac, 6) == 0)
			break;
	if (delta > 0) {
		if (i == lif->n_groups) {
			struct l2_group *g;

			if (lif->n_groups == L2_MAX_GROUPS)
				return;
			g = realloc(lif->groups, (lif->n_groups + 1) * sizeof(*g));
			if (!g)
				return;
			lif->groups = g;
			memcpy(g[i].mac, mac, 6);
			g[i].refs = 0;
			lif->n_groups++;
			packet_sock_mcast(lif->nd, mac, true);
		}
		lif->groups[i].refs++;
	} else if (i < lif->n_groups && --lif->groups[i].refs == 0) {
		packet_sock_mcast(lif->nd, mac, false);
		lif->groups[i] = lif->groups[--lif->n_groups];
	}
}

static void if_unref(struct l2_if *lif, const struct ip_addr *a)
{
	if_group(lif, a, -1);
	if (--lif->refs == 0)
		if_close(lif);
}

/* Re-chooses e's interfaces from the current view of links. */
static void entry_place(struct l2 *l2, struct l2_entry *e)
{
	const struct iface_link *links;
	const struct iface_prefix *prefixes;
	size_t n_links = iface_monitor_links(l2->ifaces, &links);
	size_t n_prefixes = iface_monitor_prefixes(l2->ifaces, &prefixes);
	int chosen[IFACE_MAX_CHOSEN];
	struct l2_if *next[L2_MAX_IF];
	size_t n, k = 0;

	e->why_no_interface = NULL;
	n = iface_choose(links, n_links, prefixes, n_prefixes, &e->addr,
			 (const char *const *)e->ifnames, e->n_ifnames, chosen,
			 &e->why_no_interface);
	for (size_t i = 0; i < n && k < L2_MAX_IF; i++) {
		struct l2_if *lif = if_get(l2, chosen[i]);

		if (!lif) {
			e->why_no_interface = "cannot open packet sockets on the interface";
			continue;
		}
		if (!entry_on_if(e, lif)) {
			lif->refs++;
			if_group(lif, &e->addr, +1);
		}
		next[k++] = lif;
	}
	for (size_t i = 0; i < e->n_ifs; i++) {
		bool kept = false;

		for (size_t j = 0; j < k; j++)
			kept |= next[j] == e->ifs[i];
		if (!kept)
			if_unref(e->ifs[i], &e->addr);
	}
	memcpy(e->ifs, next, k * sizeof(next[0]));
	e->n_ifs = k;
}

/* ---- actions ---- */

static void send_on(struct l2 *l2, struct l2_entry *e, bool probe)
{
	uint8_t frame[128];

	for (size_t i = 0; i < e->n_ifs; i++) {
		struct l2_if *lif = e->ifs[i];
		int len;

		if (e->addr.family == AF_INET)
			len = probe ? arp_build_probe(lif->mac, &e->addr, frame, sizeof(frame))
				    : arp_build_announce(lif->mac, &e->addr, frame, sizeof(frame));
		else
			len = probe ? ndp_build_dad_ns(lif->mac, &e->addr, frame, sizeof(frame))
				    : ndp_build_unsolicited_na(lif->mac, &e->addr, frame,
							       sizeof(frame));
		if (len < 0 || packet_sock_send(e->addr.family == AF_INET ? lif->arp : lif->nd,
						frame, (size_t)len) < 0) {
			l2->stats.send_errors++;
			continue;
		}
		if (probe)
			l2->stats.probes_sent++;
		else
			l2->stats.announcements_sent++;
	}
}

/* ---- the due heap ---- */

static void due_arm(struct l2 *l2)
{
	const struct l2_entry *first = heap_top(&l2->due);

	if (first)
		loop_timer_arm_at(l2->timer, first->ann.next_us);
	else
		loop_timer_disarm(l2->timer);
}

/* Puts e where its ann.next_us says (out when 0). Room is reserved. */
static void due_update(struct l2 *l2, struct l2_entry *e)
{
	if (!e->ann.next_us)
		heap_remove(&l2->due, e);
	else if (!heap_contains(&l2->due, e))
		heap_push(&l2->due, e); /* cannot fail: room reserved */
	else
		heap_fix(&l2->due, e);
}

static void entry_act(struct l2 *l2, struct l2_entry *e, unsigned acts)
{
	if (acts & ANNOUNCE_SEND_PROBE)
		send_on(l2, e, true);
	if (acts & ANNOUNCE_SEND_ANNOUNCE)
		send_on(l2, e, false);
	due_update(l2, e);
	due_arm(l2);
	if (acts & ANNOUNCE_REPORT_CONFLICT) {
		l2->stats.conflicts++;
		if (l2->cb.conflict)
			l2->cb.conflict(l2->userdata, &e->addr, e->ann.conflict_mac);
	}
	if ((acts & ANNOUNCE_REPORT_CLEAR) && l2->cb.ahead_clear)
		l2->cb.ahead_clear(l2->userdata, &e->addr);
}

/* Starts e's claim, or its probing ahead. Returns actions. */
static unsigned entry_start(struct l2 *l2, struct l2_entry *e, uint64_t now)
{
	if (e->ahead)
		return announce_probe_ahead(&e->ann, &l2->cfg, now);
	return announce_claim(&e->ann, &l2->cfg, e->probe, now);
}

static void on_due_timer(struct loop_timer *t, void *userdata)
{
	struct l2 *l2 = userdata;
	uint64_t now = loop_now_us();
	size_t budget = L2_BATCH;
	struct l2_entry *e;

	(void)t;
	while (budget && (e = heap_top(&l2->due)) && e->ann.next_us <= now) {
		budget--;
		if (e->ann.state == ANNOUNCE_IDLE)
			entry_act(l2, e, entry_start(l2, e, now));
		else
			entry_act(l2, e, announce_tick(&e->ann, &l2->cfg, now));
	}
	/* More due: come back after the loop has looked at its sockets (a
	 * deadline after this batch's start is not run in the same batch). */
	if ((e = heap_top(&l2->due)) && e->ann.next_us <= now)
		loop_timer_arm_at(l2->timer, loop_now_us() + 1);
	else
		due_arm(l2);
}

/* ---- receiving ---- */

static void holder_seen(struct l2 *l2, const struct ip_addr *a, const uint8_t mac[6], int ifindex)
{
	struct l2_entry *e = entry_find(l2, a);

	if (e && announce_claimed(&e->ann) && l2->cb.holder_seen)
		l2->cb.holder_seen(l2->userdata, a, mac, ifindex);
}

static void on_arp_frame(void *userdata, int ifindex, const uint8_t *frame, size_t len,
			 bool truncated)
{
	struct l2_if *lif = userdata;
	struct l2 *l2 = lif->l2;
	struct arp_packet p;
	struct ip_addr watched[2];
	struct l2_entry *target, *sender;
	struct arp_class c;
	size_t n = 0;
	uint8_t reply[64];
	int rlen;

	if (truncated || arp_parse(frame, len, &p, NULL) < 0) {
		l2->stats.malformed++;
		return;
	}
	target = entry_find(l2, &p.tpa);
	sender = entry_find(l2, &p.spa);
	if (target)
		watched[n++] = target->addr;
	if (sender && sender != target)
		watched[n++] = sender->addr;
	if (!n)
		return;
	c = arp_classify(&p, lif->mac, watched, n);
	switch (c.kind) {
	case ARP_KIND_REQUEST:
	case ARP_KIND_PROBE:
		/* Answer a probe too: the prober learns the address is taken. */
		if (target && announce_answering(&target->ann, &l2->cfg) &&
		    entry_on_if(target, lif)) {
			rlen = arp_build_reply(lif->mac, &target->addr, &p, reply, sizeof(reply));
			if (rlen > 0 && packet_sock_send(lif->arp, reply, (size_t)rlen) == 0)
				l2->stats.arp_answered++;
			else
				l2->stats.send_errors++;
		}
		if (c.kind == ARP_KIND_REQUEST && c.sender_index != ARP_NONE)
			holder_seen(l2, &watched[c.sender_index], p.sha, ifindex);
		break;
	case ARP_KIND_ANNOUNCEMENT:
	case ARP_KIND_REPLY:
	case ARP_KIND_SENDER:
		holder_seen(l2, &watched[c.index], p.sha, ifindex);
		break;
	case ARP_KIND_OWN:
	case ARP_KIND_IGNORE:
		break;
	}
}

static void on_nd_frame(void *userdata, int ifindex, const uint8_t *frame, size_t len,
			bool truncated)
{
	struct l2_if *lif = userdata;
	struct l2 *l2 = lif->l2;
	struct ndp_packet p;
	struct ip_addr watched[2];
	struct l2_entry *target, *sender;
	struct ndp_class c;
	const uint8_t *mac;
	size_t n = 0;
	uint8_t reply[128];
	int rlen;

	if (truncated || ndp_parse(frame, len, &p, NULL) < 0) {
		l2->stats.malformed++;
		return;
	}
	target = entry_find(l2, &p.target);
	sender = entry_find(l2, &p.src);
	if (target)
		watched[n++] = target->addr;
	if (sender && sender != target)
		watched[n++] = sender->addr;
	if (!n)
		return;
	c = ndp_classify(&p, lif->mac, watched, n);
	mac = p.has_lladdr ? p.lladdr : p.eth_src;
	switch (c.kind) {
	case NDP_KIND_REQUEST:
	case NDP_KIND_PROBE:
		/* A DAD probe for an address we answer for gets the NA that
		 * tells the prober it is taken (to all-nodes: it has no address
		 * to be answered at). */
		if (target && announce_answering(&target->ann, &l2->cfg) &&
		    entry_on_if(target, lif)) {
			rlen = ndp_build_solicited_na(lif->mac, &p, reply, sizeof(reply));
			if (rlen > 0 && packet_sock_send(lif->nd, reply, (size_t)rlen) == 0)
				l2->stats.ns_answered++;
			else
				l2->stats.send_errors++;
		}
		if (c.kind == NDP_KIND_REQUEST && c.sender_index != NDP_NONE)
			holder_seen(l2, &watched[c.sender_index], mac, ifindex);
		break;
	case NDP_KIND_ANNOUNCEMENT:
	case NDP_KIND_REPLY:
	case NDP_KIND_SENDER:
		holder_seen(l2, &watched[c.index], mac, ifindex);
		break;
	case NDP_KIND_OWN:
	case NDP_KIND_IGNORE:
		break;
	}
}

/* ---- claims ---- */

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void entry_free(struct l2 *l2, struct l2_entry *e)
{
	l2->n_ahead -= e->ahead;
	announce_release(&e->ann);
	for (size_t i = 0; i < e->n_ifs; i++)
		if_unref(e->ifs[i], &e->addr);
	heap_remove(&l2->due, e);
	free_names(e->ifnames, e->n_ifnames);
	free(e);
}

static bool same_names(char **a, size_t na, const char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

static int copy_names(const char *const *src, size_t n, char ***ret)
{
	char **names = n ? calloc(n, sizeof(char *)) : NULL;

	if (n && !names)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		names[i] = strdup(src[i]);
		if (!names[i]) {
			free_names(names, i);
			return -ENOMEM;
		}
	}
	*ret = names;
	return 0;
}

struct l2 *l2_new(struct loop *l, struct iface_monitor *ifaces, const struct announce_cfg *cfg,
		  const struct l2_callbacks *cb, void *userdata)
{
	struct l2 *l2 = calloc(1, sizeof(*l2));

	if (!l2)
		return NULL;
	l2->loop = l;
	l2->ifaces = ifaces;
	l2->cfg = *cfg;
	if (cb)
		l2->cb = *cb;
	l2->userdata = userdata;
	l2->arp_dirty = true; /* the first claims choose the ARP filter */
	l2->due = HEAP_INIT(struct l2_entry, ann.next_us, due_pos);
	rb_init(&l2->claims);
	l2->timer = loop_timer_new(l, on_due_timer, l2);
	if (!l2->timer) {
		free(l2);
		return NULL;
	}
	return l2;
}

static void clear_entry(struct rb_node *n, void *ctx)
{
	entry_free(ctx, rb_entry(n, struct l2_entry, node));
}

void l2_free(struct l2 *l2)
{
	if (!l2)
		return;
	rb_clear(&l2->claims, clear_entry, l2);
	while (l2->ifs)
		if_close(l2->ifs);
	free(l2->arp_prog);
	heap_free(&l2->due);
	loop_timer_free(l2->timer);
	free(l2);
}

/* Whether e, out of the set, is kept for now (see L2_AHEAD_LINGER_US);
 * false drops its record: it is to be freed. */
static bool lingers(struct l2 *l2, struct l2_entry *e, uint64_t now)
{
	size_t i;

	for (i = 0; i < l2->n_linger; i++)
		if (l2->linger[i].e == e)
			break;
	if (i == l2->n_linger) {
		if (!e->ahead || e->ann.state == ANNOUNCE_IDLE || i == L2_MAX_LINGER)
			return false;
		l2->linger[l2->n_linger++] = (struct l2_linger){ e, now + L2_AHEAD_LINGER_US };
		return true;
	}
	if (now < l2->linger[i].until_us)
		return true;
	l2->linger[i] = l2->linger[--l2->n_linger];
	return false;
}

/* Forgets the lingering of entries back in the set (generation gen). */
static void linger_revive(struct l2 *l2, unsigned gen)
{
	size_t k = 0;

	for (size_t i = 0; i < l2->n_linger; i++)
		if (l2->linger[i].e->gen != gen)
			l2->linger[k++] = l2->linger[i];
	l2->n_linger = k;
}

int l2_set_claims(struct l2 *l2, const struct l2_claim *claims, size_t n)
{
	/* ents[i]: the entry of claims[i]; fresh: those made by this call. */
	struct l2_entry **ents = n ? calloc(2 * n, sizeof(*ents)) : NULL;
	struct l2_entry **fresh = ents ? ents + n : NULL;
	size_t n_fresh = 0;
	unsigned gen = ++l2->gen;
	struct rb_node *node, *next;
	uint64_t now = loop_now_us();

	for (size_t i = 0; i < n; i++) {
		if (claims[i].n_ifnames > L2_MAX_IFNAMES) {
			free(ents);
			return -EINVAL;
		}
	}
	if (n && !ents)
		return -ENOMEM;
	/* Room in the due heap for every claim there may be after this call. */
	if (heap_reserve(&l2->due, l2->n_entries + n) < 0) {
		free(ents);
		return -ENOMEM;
	}
	/* First allocate everything new, so that failure changes nothing. */
	for (size_t i = 0; i < n; i++) {
		struct l2_entry *e = entry_find(l2, &claims[i].addr);

		if ((ents[i] = e))
			continue;
		e = calloc(1, sizeof(*e));
		if (!e || copy_names(claims[i].ifnames, claims[i].n_ifnames, &e->ifnames) < 0) {
			if (e)
				free_names(e->ifnames, claims[i].n_ifnames);
			free(e);
			for (size_t j = 0; j < n_fresh; j++) {
				rb_remove(&l2->claims, &fresh[j]->node);
				l2->n_entries--;
				entry_free(l2, fresh[j]);
			}
			free(ents);
			return -ENOMEM;
		}
		e->addr = claims[i].addr;
		e->n_ifnames = claims[i].n_ifnames;
		e->probe = claims[i].probe;
		e->ahead = claims[i].ahead;
		l2->n_ahead += e->ahead;
		announce_init(&e->ann);
		if (rb_insert(&l2->claims, &e->node, entry_cmp)) {
			/* The same address twice in claims: keep the first. */
			entry_free(l2, e);
			ents[i] = entry_find(l2, &claims[i].addr);
			continue;
		}
		ents[i] = e;
		l2->n_entries++;
		fresh[n_fresh++] = e;
		l2->arp_dirty |= e->addr.family == AF_INET;
	}
	for (size_t i = 0; i < n; i++) {
		struct l2_entry *e = ents[i];
		char **names;

		e->gen = gen;
		if (!same_names(e->ifnames, e->n_ifnames, claims[i].ifnames, claims[i].n_ifnames) &&
		    copy_names(claims[i].ifnames, claims[i].n_ifnames, &names) == 0) {
			free_names(e->ifnames, e->n_ifnames);
			e->ifnames = names;
			e->n_ifnames = claims[i].n_ifnames;
		}
	}
	linger_revive(l2, gen);
	/* Released claims stop being answered here, before anything is sent. */
	for (node = rb_first(&l2->claims); node; node = next) {
		struct l2_entry *e = rb_entry(node, struct l2_entry, node);

		next = rb_next(node);
		if (e->gen != gen && lingers(l2, e, now))
			continue;
		if (e->gen != gen) {
			l2->arp_dirty |= e->addr.family == AF_INET;
			rb_remove(&l2->claims, node);
			l2->n_entries--;
			entry_free(l2, e);
		}
	}
	arp_filter_update(l2);
	for (node = rb_first(&l2->claims); node; node = rb_next(node))
		entry_place(l2, rb_entry(node, struct l2_entry, node));
	/* Kept claims that start or stop probing ahead. */
	for (size_t i = 0; i < n; i++) {
		struct l2_entry *e = ents[i];

		if (e->ahead == claims[i].ahead)
			continue;
		e->ahead = claims[i].ahead;
		e->probe = claims[i].probe;
		if (e->ahead)
			l2->n_ahead++;
		else
			l2->n_ahead--;
		if (e->ann.state == ANNOUNCE_IDLE) /* not started: starts as it is now */
			continue;
		if (e->ahead) { /* a Service let go of it: silent at once */
			announce_release(&e->ann);
			entry_act(l2, e, announce_probe_ahead(&e->ann, &l2->cfg, now));
		} else {
			entry_act(l2, e, announce_take(&e->ann, &l2->cfg, e->probe, now));
		}
	}
	for (size_t i = 0; i < n_fresh; i++) {
		struct l2_entry *e = fresh[i];

		if (i < L2_BATCH) {
			entry_act(l2, e, entry_start(l2, e, now));
		} else {
			e->ann.next_us = now; /* started by on_due_timer */
			due_update(l2, e);
		}
	}
	due_arm(l2);
	free(ents);
	return 0;
}

void l2_foreign_holder(struct l2 *l2, const struct ip_addr *a, const uint8_t mac[6])
{
	struct l2_entry *e = entry_find(l2, a);

	if (e)
		entry_act(l2, e, announce_foreign_holder(&e->ann, &l2->cfg, mac, loop_now_us()));
}

void l2_links_changed(struct l2 *l2, const int *came_up, size_t n_came_up)
{
	uint64_t now = loop_now_us();

	for (struct rb_node *node = rb_first(&l2->claims); node; node = rb_next(node)) {
		struct l2_entry *e = rb_entry(node, struct l2_entry, node);
		bool up = false;

		entry_place(l2, e);
		for (size_t i = 0; i < e->n_ifs; i++)
			for (size_t j = 0; j < n_came_up; j++)
				up |= e->ifs[i]->ifindex == came_up[j];
		if (up)
			entry_act(l2, e, announce_link_up(&e->ann, &l2->cfg, now));
	}
}

bool l2_status(const struct l2 *l2, const struct ip_addr *a, struct l2_status *ret)
{
	const struct l2_entry *e = entry_find(l2, a);

	if (!e)
		return false;
	memset(ret, 0, sizeof(*ret));
	ret->state = e->ann.state;
	ret->answering = announce_answering(&e->ann, &l2->cfg);
	ret->since_us = ret->answering ? e->ann.since_us : 0;
	ret->conflicts = e->ann.conflicts;
	memcpy(ret->conflict_mac, e->ann.conflict_mac, 6);
	for (size_t i = 0; i < e->n_ifs && i < 4; i++)
		ret->ifindexes[ret->n_ifindexes++] = e->ifs[i]->ifindex;
	ret->why_no_interface = e->why_no_interface;
	ret->ahead = e->ahead;
	ret->clear_us = e->ann.clear_us;
	ret->in_use = announce_in_use(&e->ann);
	return true;
}

const struct l2_stats *l2_stats(const struct l2 *l2)
{
	return &l2->stats;
}

size_t l2_claim_count(const struct l2 *l2)
{
	return rb_count(&l2->claims) - l2->n_ahead;
}

size_t l2_ahead_count(const struct l2 *l2)
{
	return l2->n_ahead;
}

size_t l2_ahead_in_use(const struct l2 *l2, struct ip_addr *ret, size_t max)
{
	size_t n = 0, seen = 0;

	/* Asked after every pass: stop once every claim probing ahead (few,
	 * RECONCILE_MAX_AHEAD plus lingering ones) was looked at. */
	for (struct rb_node *node = rb_first(&l2->claims); node && seen < l2->n_ahead;
	     node = rb_next(node)) {
		const struct l2_entry *e = rb_entry(node, struct l2_entry, node);

		if (!e->ahead)
			continue;
		seen++;
		if (!announce_in_use(&e->ann))
			continue;
		if (n < max)
			ret[n] = e->addr;
		n++;
	}
	return n;
}

size_t l2_answering(const struct l2 *l2, struct ip_addr *ret, size_t max)
{
	size_t n = 0;

	for (struct rb_node *node = rb_first(&l2->claims); node; node = rb_next(node)) {
		const struct l2_entry *e = rb_entry(node, struct l2_entry, node);

		if (!announce_answering(&e->ann, &l2->cfg))
			continue;
		if (n < max)
			ret[n] = e->addr;
		n++;
	}
	return n;
}
