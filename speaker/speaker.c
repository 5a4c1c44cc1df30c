/* The L2 speaker's runtime (see speaker.h).
 *
 * Data flow: informers (compact items from objects.c) and the heartbeat
 * mesh feed reconcile_run() (pure); its claims go to l2_set_claims(). Any
 * change schedules one reconcile on the next loop iteration (a zero-delay
 * timer), so a burst of watch events costs one pass; a heartbeat liveness
 * change does the same, which gives sub-second failover. A 1 s timer
 * re-runs it as well, because Lease expiry is a matter of time, not events.
 */
#include "speaker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <malloc.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "datapath.h"
#include "speaker_bgp.h"
#include "election.h"
#include "heartbeat.h"
#include "iface.h"
#include "ironlb/informer.h"
#include "ironlb/kube.h"
#include "ironlb/kube_event.h"
#include "ironlb/log.h"
#include "ironlb/loop.h"
#include "ironlb/metrics.h"
#include "l2.h"
#include "objects.h"
#include "reconcile.h"

#define LEASE_DURATION_S 10
#define LEASE_RENEW_US 2000000
/* A pass follows every event that changes an input. Without events the
 * next pass comes when a time-based input changes (a step-down hold ends, a
 * peer's Lease goes stale), at the latest RESYNC_MAX_US after the last one;
 * RESYNC_RETRY_US after a pass that could not run. */
#define RESYNC_MAX_US 10000000
#define RESYNC_RETRY_US 1000000
/* The step-down hold without owner refreshes (docs/l2.md). */
#define STEP_DOWN_HOLD_US 10000000
#define DEFEND_MIN_US 1000000
#define MAX_HOLDS 256
#define MAX_CONFLICTS 256
#define HB_DEFAULT_PORT 7482
#define STARTUP_GRACE_US 1000000

enum { INF_SVC, INF_SLICE, INF_NODE, INF_POOL, INF_ADV, INF_LEASE, INF_MAX };

struct hold {
	struct ip_addr addr;
	uint64_t until_us;
};

struct conflict_rec {
	struct ip_addr addr;
	uint8_t mac[6];
};

/* The names status and the L2 callbacks need of an address in the last
 * result. That result outlives the pass, while a watch event may free the
 * informer items it borrowed: it holds each Service it names
 * (obj_service_hold()), and its owners point into the speaker's interned
 * node names (owners). */
struct last_info {
	const char *ns, *name, *uid;
};

struct speaker {
	/* First member: the informers hand the speaker to the Service decoder
	 * as its struct obj_decode_ctx. */
	struct obj_decode_ctx dctx;
	struct speaker_opts o;
	struct loop *loop;
	struct metrics *metrics;
	struct kube_client *client;
	struct kube_event_recorder *events;
	struct informer *inf[INF_MAX];
	struct iface_monitor *ifaces;
	struct l2 *l2;
	struct heartbeat *hb;
	struct heartbeat_key key;
	struct sockaddr_storage hb_addr;
	socklen_t hb_addr_len;
	char hb_addr_str[IP_STRLEN + 8];
	struct loop_timer *reconcile_timer, *resync_timer, *lease_timer;
	bool synced, applied, first_done, lease_exists;
	struct reconcile_result last; /* svc held, owner into owners, no ifnames */
	char **owners;		      /* node names last names, sorted, distinct */
	size_t n_owners, cap_owners;
	uint64_t owned_since_start;
	struct hold holds[MAX_HOLDS];
	size_t n_holds;
	struct conflict_rec conflicts[MAX_CONFLICTS];
	size_t n_conflicts;
	/* scratch arrays of the caches, rebuilt for each reconcile */
	const void **arr[INF_MAX];
	size_t n_arr[INF_MAX];
	/* metrics */
	struct metric *m_drops;
	struct metric *m_owned, *m_announce, *m_arp, *m_ns, *m_hb_sent, *m_hb_recv, *m_hb_rej,
		*m_peers, *m_conflicts, *m_failovers, *m_pass;
	uint64_t failovers, conflict_count, stepdowns, defences, ahead_conflicts;
	struct metric *m_ahead, *m_ahead_conflicts, *m_ahead_in_use;
	/* Addresses probing ahead found held by a host outside ironlb, as this
	 * node's Lease publishes them ("inUse"): the controller skips them. */
	struct ip_addr in_use[RECONCILE_MAX_AHEAD];
	size_t n_in_use;
	/* The result being applied, during l2_set_claims (its Services are
	 * not in s->last yet). */
	const struct reconcile_result *pass;
	uint64_t last_defend_us;
	struct metric *m_stepdowns, *m_defences;
	struct log_ratelimit rl_decode;
	/* The connected prefixes of this node's usable links, sorted: what its
	 * Lease publishes and what it may announce in (prefixes_over: more than
	 * a Lease carries, so peers know nothing and take it as able). */
	struct ip_prefix prefixes[OBJ_MAX_PREFIXES];
	size_t n_prefixes;
	bool prefixes_over, prefixes_known;
	/* A link that matters came up since the last pass (see on_links). */
	bool rejoining;
	/* Speaker Leases sorted by holder, for can_announce during a pass. */
	const struct obj_lease **lease_idx;
	size_t n_lease_idx;
	/* BGP mode: its informers, decision and BIRD actuator */
	struct speaker_bgp *bgp;
	/* the datapath (NULL with --datapath=off) */
	struct datapath *dp;
	struct loop_timer *dp_timer;
	struct metric *m_dp_packets, *m_dp_bytes, *m_dp_rules, *m_dp_applies, *m_dp_repairs;
	struct log_ratelimit rl_dp;
};

static void schedule(struct speaker *s)
{
	if (s->synced && s->reconcile_timer && !loop_timer_armed(s->reconcile_timer))
		loop_timer_arm(s->reconcile_timer, 0);
}

/* ---- liveness ---- */

static const struct obj_lease *lease_of(struct speaker *s, const char *node)
{
	const struct obj_lease *found = NULL;

	for (size_t i = 0; i < s->n_arr[INF_LEASE]; i++) {
		const struct obj_lease *l = s->arr[INF_LEASE][i];

		if (strcmp(l->holder, node) == 0)
			found = l;
	}
	return found;
}

/* When l stops being fresh, on the wall clock (renewTime + duration). */
static uint64_t lease_expiry_wall_us(const struct obj_lease *l)
{
	return l->renew_wall_us + (uint64_t)l->duration_s * 1000000;
}

static bool lease_fresh(const struct obj_lease *l)
{
	return l && lease_expiry_wall_us(l) > loop_wall_us();
}

/* A peer is alive by heartbeat; DEAD by heartbeat is dead whatever the
 * Lease says; never heard yet: its Lease decides (the slow fallback, and
 * what keeps a starting speaker from grabbing every address). */
static bool peer_alive(void *ud, const char *node)
{
	struct speaker *s = ud;
	enum heartbeat_liveness lv;

	if (strcmp(node, s->o.node_name) == 0)
		return true;
	lv = s->hb ? heartbeat_liveness(s->hb, node) : HEARTBEAT_PEER_UNKNOWN;
	if (lv == HEARTBEAT_PEER_ALIVE)
		return true;
	if (lv == HEARTBEAT_PEER_DEAD)
		return false;
	return lease_fresh(lease_of(s, node));
}

/* ---- reconcile ---- */

static int collect(const char *key, void *item, void *ud)
{
	struct speaker *s = ((void **)ud)[0];
	size_t k = (size_t)((void **)ud)[1];

	(void)key;
	s->arr[k][s->n_arr[k]++] = item;
	return 0;
}

static int collect_all(struct speaker *s)
{
	for (size_t k = 0; k < INF_MAX; k++) {
		size_t n = informer_count(s->inf[k]);
		const void **a = realloc(s->arr[k], (n ? n : 1) * sizeof(*a));
		void *ud[2] = { s, (void *)k };

		if (!a)
			return -ENOMEM;
		s->arr[k] = a;
		s->n_arr[k] = 0;
		if (k == INF_SLICE)
			continue; /* read through the index */
		informer_foreach(s->inf[k], collect, ud);
	}
	return 0;
}

struct slice_walk {
	void (*fn)(const struct obj_slice *sl, void *arg);
	void *arg;
};

static int slice_each(const char *key, void *item, void *ud)
{
	struct slice_walk *w = ud;

	(void)key;
	w->fn(item, w->arg);
	return 0;
}

static void foreach_slice(void *ud, const char *ns, const char *name,
			  void (*fn)(const struct obj_slice *sl, void *arg), void *arg)
{
	struct speaker *s = ud;
	struct slice_walk w = { fn, arg };
	char key[512];

	snprintf(key, sizeof(key), "%s/%s", ns, name);
	informer_index_foreach(s->inf[INF_SLICE], "svc", key, slice_each, &w);
}

static bool iface_ok(void *ud, const char *ifname)
{
	struct speaker *s = ud;
	const struct iface_link *links;
	size_t n = iface_monitor_links(s->ifaces, &links);

	for (size_t i = 0; i < n; i++)
		if (strcmp(links[i].name, ifname) == 0)
			return iface_usable(&links[i]) == IFACE_USABLE;
	return false;
}

static int prefix_cmp(const struct ip_prefix *x, const struct ip_prefix *y)
{
	int c = ip_cmp(&x->addr, &y->addr);

	return c ? c : (int)x->len - (int)y->len;
}

/* Recomputes s->prefixes from the interface view: the connected prefixes
 * of usable links (up with carrier; not loopback, NOARP or enslaved),
 * without IPv6 link-local ones. Returns whether the set changed. */
static bool prefixes_update(struct speaker *s)
{
	const struct iface_link *links;
	const struct iface_prefix *pfx;
	struct ip_prefix cur[OBJ_MAX_PREFIXES];
	size_t n_links, n_pfx, n = 0;
	bool over = false, changed;

	if (!s->ifaces)
		return false;
	n_links = iface_monitor_links(s->ifaces, &links);
	n_pfx = iface_monitor_prefixes(s->ifaces, &pfx);
	for (size_t i = 0; i < n_pfx; i++) {
		const struct ip_prefix *p = &pfx[i].prefix;
		bool usable = false, dup = false;
		size_t j;

		if (p->addr.family == AF_INET6 && p->addr.bytes[0] == 0xfe &&
		    (p->addr.bytes[1] & 0xc0) == 0x80 && p->len >= 10)
			continue; /* fe80::/10: on every link, holds no Service address */
		for (j = 0; j < n_links; j++)
			if (links[j].ifindex == pfx[i].ifindex) {
				usable = iface_usable(&links[j]) == IFACE_USABLE;
				break;
			}
		if (!usable)
			continue;
		/* insertion into the sorted set, without duplicates */
		for (j = 0; j < n && !dup; j++)
			dup = prefix_cmp(&cur[j], p) == 0;
		if (dup)
			continue;
		if (n == OBJ_MAX_PREFIXES) {
			over = true;
			continue;
		}
		j = n++;
		while (j > 0 && prefix_cmp(&cur[j - 1], p) > 0) {
			cur[j] = cur[j - 1];
			j--;
		}
		cur[j] = *p;
	}
	changed = !s->prefixes_known || n != s->n_prefixes || over != s->prefixes_over;
	for (size_t i = 0; !changed && i < n; i++)
		changed = prefix_cmp(&cur[i], &s->prefixes[i]) != 0;
	memcpy(s->prefixes, cur, n * sizeof(cur[0]));
	s->n_prefixes = n;
	s->prefixes_over = over;
	s->prefixes_known = true;
	return changed;
}

static int lease_holder_cmp(const void *x, const void *y)
{
	const struct obj_lease *a = *(const struct obj_lease *const *)x;
	const struct obj_lease *b = *(const struct obj_lease *const *)y;
	int c = strcmp(a->holder, b->holder);

	return c ? c : strcmp(a->name, b->name);
}

/* s->lease_idx from the Leases collected for this pass. */
static void lease_index(struct speaker *s)
{
	size_t n = s->n_arr[INF_LEASE];
	const struct obj_lease **idx = realloc(s->lease_idx, (n ? n : 1) * sizeof(*idx));

	if (!idx) {
		s->n_lease_idx = 0; /* can_announce then knows nothing: able */
		return;
	}
	memcpy(idx, s->arr[INF_LEASE], n * sizeof(*idx));
	qsort(idx, n, sizeof(*idx), lease_holder_cmp);
	s->lease_idx = idx;
	s->n_lease_idx = n;
}

/* Whether node can announce a on the link whose subnet holds it: this node
 * from its own usable links, another from the prefixes its Lease
 * publishes (nothing published or readable: able). This node answers from
 * the same set it publishes, so that every speaker decides alike. */
static bool can_announce(void *ud, const char *node, const struct ip_addr *a)
{
	struct speaker *s = ud;
	size_t lo = 0, hi = s->n_lease_idx;
	const struct obj_lease *l = NULL;

	if (strcmp(node, s->o.node_name) == 0) {
		if (s->prefixes_over)
			return true;
		for (size_t i = 0; i < s->n_prefixes; i++)
			if (prefix_contains(&s->prefixes[i], a))
				return true;
		return false;
	}
	/* The last of the holder's Leases (by name) if it has several. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->lease_idx[mid]->holder, node);

		if (c <= 0) {
			if (c == 0)
				l = s->lease_idx[mid];
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return obj_lease_can_announce(l, a);
}

/* Some speaker announced a already, as far as this node knows: it had an
 * owner in the previous pass (then the new owner takes over without
 * probing, which would only delay failover), or, on the first pass and on
 * the first after this node's link came back (its previous passes saw
 * nobody), other speakers are alive (they may be announcing it). */
static bool announced(void *ud, const struct ip_addr *a)
{
	struct speaker *s = ud;
	const struct reconcile_addr *prev;

	if (!s->first_done || s->rejoining) {
		for (size_t i = 0; i < s->n_arr[INF_LEASE]; i++) {
			const struct obj_lease *l = s->arr[INF_LEASE][i];

			if (strcmp(l->holder, s->o.node_name) && peer_alive(s, l->holder))
				return true;
		}
		return false;
	}
	prev = reconcile_find(&s->last, a);
	return prev && prev->owner;
}

static bool held_down(struct speaker *s, const struct ip_addr *a, uint64_t now)
{
	for (size_t i = 0; i < s->n_holds; i++)
		if (ip_equal(&s->holds[i].addr, a) && s->holds[i].until_us > now)
			return true;
	return false;
}

static void holds_expire(struct speaker *s, uint64_t now)
{
	size_t k = 0;

	for (size_t i = 0; i < s->n_holds; i++)
		if (s->holds[i].until_us > now)
			s->holds[k++] = s->holds[i];
	s->n_holds = k;
}

/* When a pass must run though no event comes (see RESYNC_MAX_US): the end
 * of the earliest step-down hold, or the moment a peer's Lease stops being
 * fresh (a peer not heard by heartbeat is alive by its Lease). Leases are
 * in s->arr, collected for this pass. */
static uint64_t resync_deadline(struct speaker *s, uint64_t now)
{
	uint64_t next = now + RESYNC_MAX_US, wall = loop_wall_us();

	for (size_t i = 0; i < s->n_holds; i++)
		if (s->holds[i].until_us > now && s->holds[i].until_us < next)
			next = s->holds[i].until_us;
	for (size_t i = 0; i < s->n_arr[INF_LEASE]; i++) {
		const struct obj_lease *l = s->arr[INF_LEASE][i];
		uint64_t expiry = lease_expiry_wall_us(l), stale;

		if (strcmp(l->holder, s->o.node_name) == 0 || expiry <= wall)
			continue; /* ours, or stale already */
		/* 1 ms past the instant lease_fresh turns false. */
		stale = expiry - wall + 1000;
		if (stale < next - now)
			next = now + stale;
	}
	return next;
}

/* A conflict is shown while this node still claims the address; once the
 * claim is gone (released, moved, withdrawn) so is the record. */
static void conflicts_forget_unclaimed(struct speaker *s, const struct ip_addr *owned, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < s->n_conflicts; i++) {
		size_t lo = 0, hi = n;

		while (lo < hi) { /* owned is sorted */
			size_t mid = lo + (hi - lo) / 2;
			int c = ip_cmp(&owned[mid], &s->conflicts[i].addr);

			if (c == 0) {
				s->conflicts[k++] = s->conflicts[i];
				break;
			}
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	s->n_conflicts = k;
}

#define MAC_STRLEN 18

/* "02:aa:bb:cc:dd:ee" into buf; returns buf. */
static char *mac_format(const uint8_t m[6], char buf[MAC_STRLEN])
{
	snprintf(buf, MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
		 m[5]);
	return buf;
}

static void service_key(const struct obj_service *svc, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", svc->ns, svc->name);
}

static struct last_info last_info(const struct reconcile_addr *ra)
{
	if (!ra->svc)
		return (struct last_info){ .ns = "", .name = "", .uid = "" };
	return (struct last_info){ .ns = ra->svc->ns, .name = ra->svc->name, .uid = ra->svc->uid };
}

/* Index of name in s->owners, or of where it would go (*found false). */
static size_t owner_pos(const struct speaker *s, const char *name, bool *found)
{
	size_t lo = 0, hi = s->n_owners;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->owners[mid], name);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The interned copy of node name name. -ENOMEM. */
static int owner_intern(struct speaker *s, const char *name, const char **ret)
{
	bool found;
	size_t pos = owner_pos(s, name, &found);
	char *copy;

	if (!found) {
		if (s->n_owners == s->cap_owners) {
			size_t cap = s->cap_owners ? s->cap_owners * 2 : 8;
			char **v = realloc(s->owners, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			s->owners = v;
			s->cap_owners = cap;
		}
		copy = strdup(name);
		if (!copy)
			return -ENOMEM;
		memmove(&s->owners[pos + 1], &s->owners[pos],
			(s->n_owners - pos) * sizeof(*s->owners));
		s->owners[pos] = copy;
		s->n_owners++;
	}
	*ret = s->owners[pos];
	return 0;
}

/* Frees the interned names the last result no longer names. */
static void owners_gc(struct speaker *s)
{
	bool *used = calloc(s->n_owners ? s->n_owners : 1, sizeof(*used));
	size_t i, j;

	if (!used)
		return; /* kept until a pass has the memory */
	for (i = 0; i < s->last.n; i++) {
		bool found;
		size_t pos;

		if (!s->last.addrs[i].owner)
			continue;
		pos = owner_pos(s, s->last.addrs[i].owner, &found);
		if (found)
			used[pos] = true;
	}
	for (i = 0, j = 0; i < s->n_owners; i++) {
		if (used[i])
			s->owners[j++] = s->owners[i];
		else
			free(s->owners[i]);
	}
	s->n_owners = j;
	free(used);
}

/* Makes res outlive the informer items it borrows (see struct last_info).
 * -ENOMEM: res still borrows. */
static int last_take(struct speaker *s, struct reconcile_result *res)
{
	size_t i;

	for (i = 0; i < res->n; i++) {
		struct reconcile_addr *ra = &res->addrs[i];

		if (ra->owner && owner_intern(s, ra->owner, &ra->owner) < 0)
			return -ENOMEM;
	}
	for (i = 0; i < res->n; i++) {
		if (res->addrs[i].svc)
			obj_service_hold(res->addrs[i].svc);
		res->addrs[i].n_ifnames = 0;
	}
	for (i = 0; i < res->n_ahead; i++) {
		res->ahead[i].owner = NULL; /* this node; borrowed */
		res->ahead[i].n_ifnames = 0;
	}
	free(res->ifnames); /* borrowed from adverts a watch event may free */
	res->ifnames = NULL;
	res->n_ifnames = 0;
	return 0;
}

/* Drops the last result and its holds on Services. */
static void last_release(struct speaker *s)
{
	for (size_t i = 0; i < s->last.n; i++) {
		if (s->last.addrs[i].svc)
			obj_service_free((void *)s->last.addrs[i].svc, NULL);
	}
	reconcile_result_clear(&s->last);
}

/* The last result's names for a, false when it had no a. */
static bool last_info_of(struct speaker *s, const struct ip_addr *a, struct last_info *ret)
{
	const struct reconcile_addr *ra = reconcile_find(&s->last, a);

	if (ra)
		*ret = last_info(ra);
	return ra != NULL;
}

static void leases_refresh(struct speaker *s)
{
	size_t n = informer_count(s->inf[INF_LEASE]);
	const void **a = realloc(s->arr[INF_LEASE], (n ? n : 1) * sizeof(*a));
	void *ud[2] = { s, (void *)(size_t)INF_LEASE };

	if (!a) {
		s->n_arr[INF_LEASE] = 0;
		return;
	}
	s->arr[INF_LEASE] = a;
	s->n_arr[INF_LEASE] = 0;
	informer_foreach(s->inf[INF_LEASE], collect, ud);
}

static void lease_send(struct speaker *s);
static void in_use_refresh(struct speaker *s);
static void datapath_apply_announced(struct speaker *s, const struct ip_addr *addrs, size_t n);
static void announce_other_modes(struct speaker *s, const struct ip_addr *l2_owned, size_t n_l2);

/* Whether pools' next addresses are probed ahead (--probe-ahead-interval). */
static bool ahead_on(const struct speaker *s)
{
	return s->o.announce.ahead_interval_us && s->o.announce.probe_count;
}

static bool ahead_in(const struct reconcile_result *r, const struct ip_addr *a)
{
	for (size_t i = 0; i < r->n_ahead; i++)
		if (ip_equal(&r->ahead[i].addr, a))
			return true;
	return false;
}

static void do_reconcile(struct speaker *s)
{
	struct reconcile_input in = {
		.self = s->o.node_name,
		.ignore_exclude_lb = s->o.ignore_exclude_lb,
		.foreach_slice = foreach_slice,
		.alive = peer_alive,
		.iface_ok = iface_ok,
		.can_announce = can_announce,
		.announced = announced,
		.keep_ahead = s->in_use,
		.n_keep_ahead = s->n_in_use,
		.ud = s,
	};
	struct reconcile_result res;
	struct l2_claim *claims;
	struct ip_addr *owned;
	uint64_t now = loop_now_us();
	size_t i, n = 0, n_claims, walk;
	int r;

	if (collect_all(s) < 0) {
		log_error("reconcile", "out of memory");
		return;
	}
	in.services = (const struct obj_service *const *)s->arr[INF_SVC];
	in.n_services = s->n_arr[INF_SVC];
	in.nodes = (const struct obj_node *const *)s->arr[INF_NODE];
	in.n_nodes = s->n_arr[INF_NODE];
	in.pools = (const struct obj_pool *const *)s->arr[INF_POOL];
	in.n_pools = s->n_arr[INF_POOL];
	in.adverts = (const struct obj_l2adv *const *)s->arr[INF_ADV];
	in.n_adverts = s->n_arr[INF_ADV];
	/* Normally current already (on_links); publish a change at once. */
	if (prefixes_update(s) && s->hb)
		lease_send(s);
	lease_index(s);
	r = reconcile_run(&in, &res);
	if (r < 0) {
		log_error("reconcile", "out of memory", LF_ERR(r));
		return;
	}
	s->rejoining = false;
	holds_expire(s, now);
	claims = calloc(res.n_owned + res.n_ahead + 1, sizeof(*claims));
	owned = calloc(res.n_owned ? res.n_owned : 1, sizeof(*owned));
	if (!claims || !owned) {
		free(claims);
		free(owned);
		reconcile_result_clear(&res);
		return;
	}
	/* Both results are sorted: walk them side by side. */
	for (i = 0, walk = 0; i < res.n; i++) {
		const struct reconcile_addr *ra = &res.addrs[i];
		const struct reconcile_addr *prev = reconcile_walk(&s->last, &walk, &ra->addr);
		char ip[IP_STRLEN], svc[300];

		if (ra->role != RECONCILE_OWNER || held_down(s, &ra->addr, now))
			continue;
		claims[n] = (struct l2_claim){ .addr = ra->addr,
					       .probe = ra->probe,
					       .ifnames = reconcile_ifnames(&res, ra),
					       .n_ifnames = ra->n_ifnames };
		owned[n++] = ra->addr;
		if (!prev || prev->role != RECONCILE_OWNER) {
			ip_format(&ra->addr, ip, sizeof(ip));
			service_key(ra->svc, svc, sizeof(svc));
			if (prev && prev->owner && strcmp(prev->owner, s->o.node_name) != 0) {
				s->failovers++;
				log_info("l2", "taking over address", LF_STR("ip", ip),
					 LF_STR("service", svc), LF_STR("from", prev->owner));
			} else {
				log_info("l2", "claiming address", LF_STR("ip", ip),
					 LF_STR("service", svc), LF_INT("probe", ra->probe));
			}
		}
	}
	for (i = 0, walk = 0; i < s->last.n; i++) {
		const struct reconcile_addr *pa = &s->last.addrs[i];
		const struct reconcile_addr *now_a = reconcile_walk(&res, &walk, &pa->addr);
		char ip[IP_STRLEN];

		if (pa->role == RECONCILE_OWNER && (!now_a || now_a->role != RECONCILE_OWNER)) {
			ip_format(&pa->addr, ip, sizeof(ip));
			log_info("l2", "releasing address", LF_STR("ip", ip),
				 LF_STR("owner", now_a && now_a->owner ? now_a->owner : "-"));
		}
	}
	n_claims = n;
	for (i = 0; ahead_on(s) && i < res.n_ahead; i++) {
		const struct reconcile_addr *ra = &res.ahead[i];
		char ip[IP_STRLEN];

		claims[n_claims++] = (struct l2_claim){ .addr = ra->addr,
							.probe = true,
							.ahead = true,
							.ifnames = reconcile_ifnames(&res, ra),
							.n_ifnames = ra->n_ifnames };
		if (!ahead_in(&s->last, &ra->addr)) {
			ip_format(&ra->addr, ip, sizeof(ip));
			log_info("l2", "probing a pool's next address ahead", LF_STR("ip", ip));
		}
	}
	loop_timer_arm_at(s->resync_timer, resync_deadline(s, now));
	s->pass = &res;
	r = l2_set_claims(s->l2, claims, n_claims);
	s->pass = NULL;
	if (r < 0)
		log_error("l2", "cannot apply claims", LF_ERR(r));
	if (s->hb)
		heartbeat_set_owned(s->hb, owned, n); /* res is sorted, so owned is too */
	conflicts_forget_unclaimed(s, owned, n);
	in_use_refresh(s); /* claims probing ahead may have gone */
	announce_other_modes(s, owned, n);
	free(claims);
	free(owned);
	if (last_take(s, &res) < 0) {
		log_error("reconcile", "out of memory");
		reconcile_result_clear(&res);
		return;
	}
	last_release(s);
	s->last = res;
	owners_gc(s);
	s->first_done = true;
	if (s->m_pass)
		metric_observe(s->m_pass, (double)(loop_now_us() - now) / 1e6);
	if (r == 0 && !s->applied) {
		s->applied = true;
		/* The initial lists parsed megabytes of JSON that the informers
		 * dropped at once; give the freed heap back to the system. */
		malloc_trim(0);
		log_info("main", "first reconcile applied", LF_UINT("addresses", res.n),
			 LF_UINT("owned", n));
	}
}

static void on_reconcile_timer(struct loop_timer *t, void *ud)
{
	(void)t;
	do_reconcile(ud);
}

static void on_resync_timer(struct loop_timer *t, void *ud)
{
	struct speaker *s = ud;

	/* do_reconcile sets the real deadline; this stands if it cannot. */
	loop_timer_arm(t, RESYNC_RETRY_US);
	schedule(s);
}

/* ---- BGP, and the datapath for every announced address ---- */

/* BGP's pass over the same caches, then the datapath for the union of the
 * addresses L2 owns (l2_owned, sorted) and those BGP advertises. */
static void announce_other_modes(struct speaker *s, const struct ip_addr *l2_owned, size_t n_l2)
{
	struct speaker_bgp_facts f = {
		.self = s->o.node_name,
		.services = (const struct obj_service *const *)s->arr[INF_SVC],
		.n_services = s->n_arr[INF_SVC],
		.nodes = (const struct obj_node *const *)s->arr[INF_NODE],
		.n_nodes = s->n_arr[INF_NODE],
		.pools = (const struct obj_pool *const *)s->arr[INF_POOL],
		.n_pools = s->n_arr[INF_POOL],
		.ignore_exclude_lb = s->o.ignore_exclude_lb,
		.foreach_slice = foreach_slice,
		.ud = s,
	};
	struct ip_addr *bgp = NULL, *all = NULL;
	size_t n_bgp = 0, n = 0, i = 0, j = 0;
	int r;

	r = speaker_bgp_reconcile(s->bgp, &f, &bgp, &n_bgp);
	if (r < 0)
		log_error("bgp", "reconcile failed", LF_ERR(r));
	if (!n_bgp) {
		datapath_apply_announced(s, l2_owned, n_l2);
		free(bgp);
		return;
	}
	all = calloc(n_l2 + n_bgp, sizeof(*all));
	if (!all) {
		log_error("reconcile", "out of memory");
		free(bgp);
		return;
	}
	while (i < n_l2 || j < n_bgp) { /* merge two sorted lists */
		int c = i == n_l2 ? 1 : j == n_bgp ? -1 : ip_cmp(&l2_owned[i], &bgp[j]);

		all[n++] = c <= 0 ? l2_owned[i] : bgp[j];
		i += c <= 0;
		j += c >= 0;
	}
	datapath_apply_announced(s, all, n);
	free(all);
	free(bgp);
}

/* ---- the datapath (--datapath=nodeport) ---- */

/* Steers the Service ports of the addresses this node announces (addrs,
 * any order) to their NodePorts or ClusterIPs; every other address loses
 * its rules. The one entry point for announcers: L2 passes the addresses
 * it owns; another announcer passes the union of its own and L2's. Reads
 * the Service and pool caches as collected for this pass. */
static void datapath_apply_announced(struct speaker *s, const struct ip_addr *addrs, size_t n)
{
	struct datapath_set set = { 0 };
	const char *why = NULL;
	size_t before;
	unsigned sup = 0;
	int r;

	if (!s->dp)
		return;
	before = datapath_stats(s->dp)->applies_ok;
	r = datapath_entries_for((const struct obj_service *const *)s->arr[INF_SVC],
				 s->n_arr[INF_SVC],
				 (const struct obj_pool *const *)s->arr[INF_POOL],
				 s->n_arr[INF_POOL], addrs, n, &set);
	if (r == 0)
		r = datapath_update(s->dp, set.v, set.n, &why);
	datapath_set_clear(&set);
	if (r < 0) {
		if (log_ratelimit_ok(&s->rl_dp, loop_now_us(), &sup))
			log_error("datapath", "cannot apply the nftables table and local routes",
				  LF_STR("table", "inet " DATAPATH_TABLE),
				  LF_STR("why", why ? why : ""), LF_ERR(r),
				  LF_UINT("suppressed", sup));
		return;
	}
	if (datapath_stats(s->dp)->applies_ok != before) {
		const struct datapath_entry *e;
		size_t ne = datapath_entries(s->dp, &e);

		log_info("datapath", "applied", LF_STR("table", "inet " DATAPATH_TABLE),
			 LF_UINT("entries", ne), LF_UINT("rules", datapath_stats(s->dp)->rules),
			 LF_UINT("conflicts", datapath_stats(s->dp)->conflicts));
		for (size_t i = 0; i < ne; i++) {
			char d[160];

			datapath_entry_describe(&e[i], d, sizeof(d));
			log_debug("datapath", "steering", LF_STR("rule", d));
		}
	}
}

/* Every DATAPATH_CHECK_US: puts the table and routes back if someone
 * removed or changed them, or retries a failed apply. */
static void on_datapath_timer(struct loop_timer *t, void *ud)
{
	struct speaker *s = ud;
	const char *why = NULL;
	bool repaired;
	unsigned sup = 0;
	int r;

	loop_timer_arm(t, DATAPATH_CHECK_US);
	r = datapath_check(s->dp, &repaired, &why);
	if (r < 0) {
		if (log_ratelimit_ok(&s->rl_dp, loop_now_us(), &sup))
			log_error("datapath", "cannot re-apply the nftables table and local routes",
				  LF_STR("table", "inet " DATAPATH_TABLE),
				  LF_STR("why", why ? why : ""), LF_ERR(r),
				  LF_UINT("suppressed", sup));
	} else if (repaired) {
		log_warn("datapath", "table or local routes changed outside ironlb: re-applied",
			 LF_STR("table", "inet " DATAPATH_TABLE),
			 LF_UINT("repairs", datapath_stats(s->dp)->repairs));
	}
}

/* With --datapath=nodeport: opens the actuator and starts the check timer.
 * With off: removes what an earlier run with nodeport may have left (the
 * table and ironlb's local routes), so switching the flag off cleans up. */
static int datapath_start(struct speaker *s)
{
	struct datapath *d;
	const char *why = NULL;
	int r = datapath_open(&d);

	if (s->o.datapath == DATAPATH_OFF) {
		if (r < 0)
			return 0;
		r = datapath_remove_all(d, &why);
		if (r < 0)
			log_debug("datapath", "cannot remove leftovers of an earlier run",
				  LF_STR("why", why ? why : ""), LF_ERR(r));
		datapath_free(d);
		return 0;
	}
	if (r < 0) {
		log_error("datapath", "cannot open rtnetlink", LF_ERR(r));
		return r;
	}
	r = datapath_prepare(d, &why);
	if (r < 0) {
		log_error("datapath", "cannot use nftables", LF_STR("why", why), LF_ERR(r));
		datapath_free(d);
		return r;
	}
	s->dp = d;
	s->dp_timer = loop_timer_new(s->loop, on_datapath_timer, s);
	if (!s->dp_timer)
		return -ENOMEM;
	loop_timer_arm(s->dp_timer, DATAPATH_CHECK_US);
	log_info("datapath", "steering announced addresses to NodePorts",
		 LF_STR("table", "inet " DATAPATH_TABLE));
	return 0;
}

/* Clean shutdown: the table and the local routes go. */
static void datapath_stop(struct speaker *s)
{
	const char *why = NULL;
	int r;

	loop_timer_free(s->dp_timer);
	s->dp_timer = NULL;
	if (!s->dp)
		return;
	r = datapath_remove_all(s->dp, &why);
	if (r < 0)
		log_error("datapath", "cannot remove the nftables table and local routes",
			  LF_STR("why", why ? why : ""), LF_ERR(r));
	else
		log_info("datapath", "removed", LF_STR("table", "inet " DATAPATH_TABLE));
	datapath_free(s->dp);
	s->dp = NULL;
}

/* The per-address rules in words, for status. NULL when there are none. */
static json_t *datapath_rules_json(struct speaker *s, const struct ip_addr *a)
{
	const struct datapath_entry *e;
	size_t n = s->dp ? datapath_entries_of(s->dp, a, &e) : 0;
	json_t *arr = NULL;

	for (size_t i = 0; i < n; i++) {
		char d[160];

		if (!arr && !(arr = json_array()))
			return NULL;
		datapath_entry_describe(&e[i], d, sizeof(d));
		json_array_append_new(arr, json_string(d));
	}
	return arr;
}

/* status: {"datapath": {"mode", "table", "applied", "rules", "repairs",
 * "addresses": [{"address", "rules": [...], "packets", "bytes"}]}} */
static void datapath_status(struct speaker *s, json_t *reply)
{
	json_t *dp, *addrs;
	struct datapath_count *c = NULL;
	size_t nc = 0;

	dp = json_pack("{s:s}", "mode", s->dp ? "nodeport" : "off"); /* new */
	if (!dp)
		return;
	if (s->dp) {
		const struct datapath_stats *st = datapath_stats(s->dp);

		json_object_set_new(dp, "table", json_string("inet " DATAPATH_TABLE));
		json_object_set_new(dp, "applied", json_boolean(st->applied));
		json_object_set_new(dp, "rules", json_integer((json_int_t)st->rules));
		json_object_set_new(dp, "repairs", json_integer((json_int_t)st->repairs));
		json_object_set_new(dp, "conflicts", json_integer((json_int_t)st->conflicts));
		addrs = json_array();
		datapath_counts(s->dp, &c, &nc);
		for (size_t i = 0; addrs && i < nc; i++) {
			char ip[IP_STRLEN];
			json_t *v = json_pack("{s:s, s:o*, s:I, s:I}", "address",
					      ip_format(&c[i].addr, ip, sizeof(ip)), "rules",
					      datapath_rules_json(s, &c[i].addr), "packets",
					      (json_int_t)c[i].packets, "bytes",
					      (json_int_t)c[i].bytes);

			json_array_append_new(addrs, v);
		}
		free(c);
		json_object_set_new(dp, "addresses", addrs);
	}
	json_object_set_new(reply, "datapath", dp);
}

static void datapath_collect_metrics(struct speaker *s)
{
	const struct datapath_stats *st;
	struct datapath_count *c;
	size_t n;

	if (!s->dp)
		return;
	st = datapath_stats(s->dp);
	metric_set(s->m_dp_rules, (double)st->rules);
	metric_set(s->m_dp_applies, (double)st->applies_ok, "ok");
	metric_set(s->m_dp_applies, (double)st->applies_failed, "error");
	metric_set(s->m_dp_repairs, (double)st->repairs);
	/* Addresses no longer steered drop out of the series. */
	metric_clear(s->m_dp_packets);
	metric_clear(s->m_dp_bytes);
	if (datapath_counts(s->dp, &c, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char ip[IP_STRLEN];

		ip_format(&c[i].addr, ip, sizeof(ip));
		metric_set(s->m_dp_packets, (double)c[i].packets, ip);
		metric_set(s->m_dp_bytes, (double)c[i].bytes, ip);
	}
	free(c);
}

static int datapath_setup_metrics(struct speaker *s)
{
	struct metrics *m = s->metrics;

	s->m_dp_packets = metrics_counter(
		m, "ironlb_speaker_datapath_packets_total",
		"Packets steered to a NodePort or ClusterIP and their replies, per address.",
		"address");
	s->m_dp_bytes = metrics_counter(
		m, "ironlb_speaker_datapath_bytes_total",
		"Bytes of the packets in ironlb_speaker_datapath_packets_total.", "address");
	s->m_dp_rules = metrics_gauge(m, "ironlb_speaker_datapath_rules",
				      "Rules in ironlb's nftables table.", NULL);
	s->m_dp_applies =
		metrics_counter(m, "ironlb_speaker_datapath_applies_total",
				"Transactions that replaced ironlb's nftables table.", "result");
	s->m_dp_repairs = metrics_counter(
		m, "ironlb_speaker_datapath_repairs_total",
		"Times the table or local routes were found removed or changed by someone else "
		"and re-applied.",
		NULL);
	if (!s->m_dp_packets || !s->m_dp_bytes || !s->m_dp_rules || !s->m_dp_applies ||
	    !s->m_dp_repairs)
		return -ENOMEM;
	return 0;
}

/* ---- the heartbeat mesh ---- */

static void on_liveness(void *ud, const char *peer, enum heartbeat_liveness now)
{
	struct speaker *s = ud;

	log_info("heartbeat", "peer liveness changed", LF_STR("peer", peer),
		 LF_STR("now", heartbeat_liveness_str(now)));
	if (s->first_done)
		do_reconcile(s); /* at once: failover time is what this is about */
}

static void update_peers(struct speaker *s)
{
	struct heartbeat_peer_addr *p;
	size_t n = 0, cnt = informer_count(s->inf[INF_LEASE]);

	if (!s->hb || collect_all(s) < 0)
		return;
	p = calloc(cnt ? cnt : 1, sizeof(*p));
	if (!p)
		return;
	for (size_t i = 0; i < s->n_arr[INF_LEASE]; i++) {
		const struct obj_lease *l = s->arr[INF_LEASE][i];

		if (!l->has_hb || strcmp(l->holder, s->o.node_name) == 0)
			continue;
		p[n].name = l->holder;
		p[n].addr = l->hb;
		p[n].addr_len = l->hb_len;
		n++;
	}
	if (heartbeat_set_peers(s->hb, p, n) < 0)
		log_error("heartbeat", "cannot update peers");
	free(p);
}

/* The heartbeat address when --heartbeat-addr is not given: the Node's
 * InternalIP, else the first global address of the interface holding the
 * default route, else the first global IPv4 address of an up interface. */
static int default_route_ifname(char *buf, size_t len)
{
	FILE *f = fopen("/proc/net/route", "re");
	char line[256], ifn[IF_NAMESIZE + 1];
	unsigned long dst;
	int found = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%16s %lx", ifn, &dst) == 2 && dst == 0) {
			snprintf(buf, len, "%s", ifn);
			found = 0;
			break;
		}
	fclose(f);
	return found;
}

static int pick_hb_addr(struct speaker *s)
{
	const struct obj_node *self = informer_get(s->inf[INF_NODE], NULL, s->o.node_name);
	struct ifaddrs *ifa, *i;
	char defif[IF_NAMESIZE + 1] = "";
	struct ip_addr a;
	bool have = false;

	if (s->o.hb_addr)
		return obj_parse_hostport(s->o.hb_addr, HB_DEFAULT_PORT, &s->hb_addr,
					  &s->hb_addr_len);
	if (self && self->has_addr) {
		a = self->addr;
		have = true;
	}
	if (!have && getifaddrs(&ifa) == 0) {
		default_route_ifname(defif, sizeof(defif));
		for (int pass = 0; pass < 2 && !have; pass++)
			for (i = ifa; i && !have; i = i->ifa_next) {
				if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) ||
				    (i->ifa_flags & IFF_LOOPBACK))
					continue;
				if (pass == 0 && strcmp(i->ifa_name, defif) != 0)
					continue;
				if (i->ifa_addr->sa_family == AF_INET) {
					ip_from_bytes(
						AF_INET,
						&((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4,
						&a);
					have = true;
				} else if (pass == 0 && i->ifa_addr->sa_family == AF_INET6) {
					const struct in6_addr *x =
						&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;

					if (IN6_IS_ADDR_LINKLOCAL(x))
						continue;
					ip_from_bytes(AF_INET6, x, 16, &a);
					have = true;
				}
			}
		freeifaddrs(ifa);
	}
	if (!have)
		return -EADDRNOTAVAIL;
	{
		char txt[IP_STRLEN + 8], ip[IP_STRLEN];

		ip_format(&a, ip, sizeof(ip));
		snprintf(txt, sizeof(txt), a.family == AF_INET6 ? "[%s]" : "%s", ip);
		return obj_parse_hostport(txt, HB_DEFAULT_PORT, &s->hb_addr, &s->hb_addr_len);
	}
}

static void format_sockaddr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(sin->sin_port));
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(sin6->sin6_port));
	}
}

static int start_heartbeat(struct speaker *s)
{
	struct heartbeat_cfg cfg = {
		.node = s->o.node_name,
		.key = &s->key,
		.interval_us = s->o.hb_interval_us,
		.misses = s->o.hb_misses,
	};
	int r = pick_hb_addr(s);

	if (r < 0) {
		log_error("heartbeat", "no heartbeat address: set --heartbeat-addr", LF_ERR(r));
		return r;
	}
	format_sockaddr(&s->hb_addr, s->hb_addr_str, sizeof(s->hb_addr_str));
	cfg.listen = s->hb_addr;
	cfg.listen_len = s->hb_addr_len;
	s->hb = heartbeat_new(s->loop, &cfg, on_liveness, s, &r);
	if (!s->hb) {
		log_error("heartbeat", "cannot start the heartbeat mesh",
			  LF_STR("addr", s->hb_addr_str), LF_ERR(r));
		return r;
	}
	log_info("heartbeat", "listening", LF_STR("addr", s->hb_addr_str));
	update_peers(s);
	return 0;
}

/* ---- our own Lease ---- */

static json_t *lease_annotation(struct speaker *s)
{
	const struct iface_link *links;
	size_t n = iface_monitor_links(s->ifaces, &links);
	json_t *macs = json_array(), *pfx = json_array(), *ann; /* new */
	char *txt;

	for (size_t i = 0; i < n && json_array_size(macs) < OBJ_MAX_MACS; i++) {
		char m[MAC_STRLEN];

		enum iface_unusable u = iface_usable(&links[i]);

		/* Down links too (or without carrier): a MAC that left the
		 * Lease while its link was down would make peers take this
		 * node's announcements for a foreign host's when the link comes
		 * back. */
		if (u != IFACE_USABLE && u != IFACE_DOWN && u != IFACE_NO_CARRIER)
			continue;
		json_array_append_new(macs, json_string(mac_format(links[i].mac, m)));
	}
	prefixes_update(s);
	for (size_t i = 0; i < s->n_prefixes && pfx; i++) {
		char p[IP_RANGE_STRLEN];

		prefix_format(&s->prefixes[i], p, sizeof(p));
		json_array_append_new(pfx, json_string(p));
	}
	/* Past OBJ_MAX_PREFIXES readers would drop the list: publish none, so
	 * that peers know nothing (able), as this node assumes of itself. */
	ann = s->prefixes_over ? json_pack("{s:s, s:o}", "heartbeat", s->hb_addr_str, "macs", macs)
			       : json_pack("{s:s, s:o, s:o}", "heartbeat", s->hb_addr_str, "macs",
					   macs, "prefixes", pfx); /* steal macs and pfx */
	if (s->prefixes_over)
		json_decref(pfx);
	/* What probing ahead found in use: the controller skips these. */
	if (ann && s->n_in_use) {
		json_t *use = json_array(); /* new */

		for (size_t i = 0; use && i < s->n_in_use; i++) {
			char ip[IP_STRLEN];

			json_array_append_new(
				use, json_string(ip_format(&s->in_use[i], ip, sizeof(ip))));
		}
		if (use)
			json_object_set_new(ann, "inUse", use);
	}
	txt = ann ? json_dumps(ann, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(ann);
	ann = txt ? json_string(txt) : NULL;
	free(txt);
	return ann;
}

static void now_microtime(char *buf, size_t len)
{
	uint64_t us = loop_wall_us();
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	char sec[32];

	gmtime_r(&t, &tm);
	strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%.20s.%06uZ", sec, (unsigned)(us % 1000000));
}

static void lease_send(struct speaker *s);

static void on_lease_done(const struct kube_result *res, void *ud)
{
	struct speaker *s = ud;

	if (res->err == -ENOENT && s->lease_exists) {
		s->lease_exists = false;
		lease_send(s);
		return;
	}
	if (res->err < 0 && res->err != -EEXIST) {
		log_warn("lease", "cannot renew this speaker's Lease", LF_STR("verb", res->verb),
			 LF_INT("code", res->code), LF_STR("message", res->message),
			 LF_ERR(res->err));
		s->lease_exists = false;
		return;
	}
	s->lease_exists = true;
}

static void lease_send(struct speaker *s)
{
	char name[300], now[64];
	json_t *obj, *ann = lease_annotation(s); /* new */
	int r;

	if (!ann)
		return;
	snprintf(name, sizeof(name), OBJ_SPEAKER_LEASE_PREFIX "%s", s->o.node_name);
	now_microtime(now, sizeof(now));
	obj = json_pack("{s:{s:s, s:s, s:{s:s}, s:{s:o}}, s:{s:s, s:i, s:s}}", "metadata", "name",
			name, "namespace", s->o.common.namespace, "labels",
			OBJ_SPEAKER_COMPONENT_LABEL, "speaker", "annotations",
			OBJ_SPEAKER_ANNOTATION, ann, "spec", "holderIdentity", s->o.node_name,
			"leaseDurationSeconds", LEASE_DURATION_S, "renewTime", now); /* new */
	if (!obj)
		return;
	if (s->lease_exists)
		r = kube_patch(s->client, &KUBE_LEASES, s->o.common.namespace, name, NULL, obj,
			       NULL, on_lease_done, s, NULL);
	else
		r = kube_create(s->client, &KUBE_LEASES, s->o.common.namespace, obj, on_lease_done,
				s, NULL);
	if (r < 0)
		log_warn("lease", "cannot send the Lease", LF_ERR(r));
	/* After a create that found it existing, the next tick patches. */
	if (!s->lease_exists)
		s->lease_exists = true;
	json_decref(obj);
}

static void on_lease_timer(struct loop_timer *t, void *ud)
{
	struct speaker *s = ud;

	loop_timer_arm(t, LEASE_RENEW_US);
	if (s->hb)
		lease_send(s);
}

/* ---- L2 callbacks ---- */

static void on_holder_seen(void *ud, const struct ip_addr *a, const uint8_t mac[6], int ifindex)
{
	struct speaker *s = ud;
	struct l2_status st;
	bool ahead = l2_status(s->l2, a, &st) && st.ahead;
	char ip[IP_STRLEN];

	ip_format(a, ip, sizeof(ip));
	leases_refresh(s);
	for (size_t i = 0; i < s->n_arr[INF_LEASE]; i++) {
		const struct obj_lease *l = s->arr[INF_LEASE][i];

		for (size_t k = 0; k < l->n_macs; k++) {
			if (memcmp(l->macs[k], mac, 6) != 0 ||
			    strcmp(l->holder, s->o.node_name) == 0)
				continue;
			/* Probing ahead, we claim nothing: a speaker announcing it
			 * saw its Service before we did. */
			if (ahead)
				return;
			if (election_outranks(a, l->holder, s->o.node_name)) {
				uint64_t hold = s->o.announce.refresh_us
							? 3 * s->o.announce.refresh_us
							: STEP_DOWN_HOLD_US;
				size_t h;

				log_warn("l2",
					 "another speaker announces this address and outranks us: "
					 "stepping down",
					 LF_STR("ip", ip), LF_STR("peer", l->holder),
					 LF_UINT("hold_ms", hold / 1000));
				s->stepdowns++;
				/* Further claims by the peer extend the hold. */
				for (h = 0; h < s->n_holds; h++)
					if (ip_equal(&s->holds[h].addr, a))
						break;
				if (h == s->n_holds && s->n_holds < MAX_HOLDS)
					s->n_holds++;
				if (h < MAX_HOLDS)
					s->holds[h] =
						(struct hold){ .addr = *a,
							       .until_us = loop_now_us() + hold };
				schedule(s);
			} else if (loop_now_us() - s->last_defend_us >= DEFEND_MIN_US) {
				log_info("l2",
					 "a lower-ranked speaker announces this address; defending "
					 "it",
					 LF_STR("ip", ip), LF_STR("peer", l->holder));
				s->last_defend_us = loop_now_us();
				s->defences++;
				l2_links_changed(s->l2, &ifindex, 1); /* one announcement burst */
			}
			return;
		}
	}
	l2_foreign_holder(s->l2, a, mac);
}

struct pool_find {
	const struct ip_addr *addr;
	const struct obj_pool *pool;
};

/* informer_foreach: the pool that names addr as its next address, else
 * one that holds it (an address the controller skips is no pool's next). */
static int pool_find_next(const char *key, void *item, void *ud)
{
	struct pool_find *pf = ud;
	const struct obj_pool *p = item;

	(void)key;
	for (size_t i = 0; i < p->n_next; i++) {
		if (ip_equal(&p->next[i], pf->addr)) {
			pf->pool = p;
			return 1; /* stop */
		}
	}
	if (!pf->pool && obj_pool_contains(p, pf->addr))
		pf->pool = p;
	return 0;
}

static bool addr_in(const struct ip_addr *v, size_t n, const struct ip_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (ip_equal(&v[i], a))
			return true;
	return false;
}

/* Publishes in this node's Lease the addresses probing ahead found in use
 * (l2_ahead_in_use), when they changed. */
static void in_use_refresh(struct speaker *s)
{
	struct ip_addr now[RECONCILE_MAX_AHEAD];
	size_t n = l2_ahead_in_use(s->l2, now, RECONCILE_MAX_AHEAD);

	if (n > RECONCILE_MAX_AHEAD)
		n = RECONCILE_MAX_AHEAD;
	if (n == s->n_in_use && memcmp(now, s->in_use, n * sizeof(*now)) == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char ip[IP_STRLEN];

		if (addr_in(s->in_use, s->n_in_use, &now[i]))
			continue;
		ip_format(&now[i], ip, sizeof(ip));
		log_info("l2",
			 "a pool's next address is in use outside ironlb: the Lease tells "
			 "the controller to skip it",
			 LF_STR("ip", ip));
	}
	for (size_t i = 0; i < s->n_in_use; i++) {
		char ip[IP_STRLEN];

		if (addr_in(now, n, &s->in_use[i]))
			continue;
		ip_format(&s->in_use[i], ip, sizeof(ip));
		log_info("l2",
			 "an address found in use ahead is free again: the controller may "
			 "hand it out",
			 LF_STR("ip", ip));
	}
	memcpy(s->in_use, now, n * sizeof(*now));
	s->n_in_use = n;
	metric_set(s->m_ahead_in_use, (double)n);
	if (s->hb)
		lease_send(s);
}

static void on_ahead_clear(void *ud, const struct ip_addr *a)
{
	(void)a;
	in_use_refresh(ud);
}

/* The Service of a, from the result being applied, else the last one. */
static bool service_of(struct speaker *s, const struct ip_addr *a, struct last_info *ret)
{
	const struct reconcile_addr *ra = s->pass ? reconcile_find(s->pass, a) : NULL;

	if (ra && ra->svc) {
		*ret = (struct last_info){ .ns = ra->svc->ns,
					   .name = ra->svc->name,
					   .uid = ra->svc->uid };
		return true;
	}
	return last_info_of(s, a, ret);
}

static void on_conflict(void *ud, const struct ip_addr *a, const uint8_t mac[6])
{
	struct speaker *s = ud;
	struct last_info li;
	struct l2_status st;
	const struct last_info *svc;
	char ip[IP_STRLEN], m[MAC_STRLEN], key[300] = "-";
	size_t i;

	ip_format(a, ip, sizeof(ip));
	mac_format(mac, m);
	if (l2_status(s->l2, a, &st) && st.ahead) {
		/* No Service has it yet: nothing withdrawn, the pool told, and
		 * the Lease, so that the controller skips it. */
		struct pool_find pf = { .addr = a };

		s->ahead_conflicts++;
		informer_foreach(s->inf[INF_POOL], pool_find_next, &pf);
		/* Each probing round (--probe-ahead-interval) meets it again: warn
		 * once, then at debug level (the Event counts the repeats). */
		LOG_AT(st.conflicts > 1 ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN, "l2",
		       "a pool's next address is held by a host outside ironlb", LF_STR("ip", ip),
		       LF_STR("mac", m), LF_STR("pool", pf.pool ? pf.pool->name : "-"),
		       LF_UINT("times", st.conflicts));
		if (pf.pool && s->events) {
			struct kube_object_ref ref = { .api_version = "ironlb.io/v1beta1",
						       .kind = "IPAddressPool",
						       .ns = s->o.common.namespace,
						       .name = pf.pool->name,
						       .uid = pf.pool->uid };

			kube_event_recordf(s->events, &ref, KUBE_EVENT_WARNING, "NextAddressInUse",
					   "address %s, which this pool hands out next, is held by "
					   "%s on the network, outside ironlb (found by node %s); "
					   "automatic assignment skips it while it is",
					   ip, m, s->o.node_name);
		}
		in_use_refresh(s);
		return;
	}
	svc = service_of(s, a, &li) ? &li : NULL;
	s->conflict_count++;
	for (i = 0; i < s->n_conflicts; i++)
		if (ip_equal(&s->conflicts[i].addr, a))
			break;
	if (i == s->n_conflicts && s->n_conflicts < MAX_CONFLICTS)
		s->n_conflicts++;
	if (i < MAX_CONFLICTS) {
		s->conflicts[i].addr = *a;
		memcpy(s->conflicts[i].mac, mac, 6);
	}
	if (svc)
		snprintf(key, sizeof(key), "%s/%s", svc->ns, svc->name);
	log_warn("l2", "address conflict: another host holds this address", LF_STR("ip", ip),
		 LF_STR("mac", m), LF_STR("service", key),
		 LF_STR("policy", s->o.announce.on_conflict == ANNOUNCE_ON_CONFLICT_WITHDRAW
					  ? "withdraw"
					  : "announce"));
	if (svc && s->events) {
		struct kube_object_ref ref = { .api_version = "v1",
					       .kind = "Service",
					       .ns = svc->ns,
					       .name = svc->name,
					       .uid = svc->uid };

		kube_event_recordf(s->events, &ref, KUBE_EVENT_WARNING, "IPConflict",
				   "address %s is also held by %s on the network (node %s %s)", ip,
				   m, s->o.node_name,
				   s->o.announce.on_conflict == ANNOUNCE_ON_CONFLICT_WITHDRAW
					   ? "withdrew it"
					   : "keeps announcing it");
	}
}

static bool ip_from_sockaddr(const struct sockaddr_storage *ss, struct ip_addr *ret)
{
	if (ss->ss_family == AF_INET)
		return ip_from_bytes(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, 4,
				     ret) == 0;
	if (ss->ss_family == AF_INET6)
		return ip_from_bytes(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16,
				     ret) == 0;
	return false;
}

/* Whether one of the links that came up carries heartbeats or
 * announcements: a subnet of it holds this node's or a peer's heartbeat
 * address or an address of the last pass, or an L2Advertisement names it.
 * (Links of no interest, such as a new pod's veth, change nothing.) */
static bool links_matter(struct speaker *s, const int *came_up, size_t n)
{
	const struct iface_prefix *pfx;
	size_t n_pfx = iface_monitor_prefixes(s->ifaces, &pfx);

	for (size_t i = 0; i < n; i++) {
		const struct iface_link *l = iface_monitor_link(s->ifaces, came_up[i]);

		if (!l)
			continue;
		for (size_t k = 0; k < s->n_arr[INF_ADV]; k++) {
			const struct obj_l2adv *ad = s->arr[INF_ADV][k];

			for (size_t j = 0; j < ad->n_ifnames; j++)
				if (strcmp(ad->ifnames[j], l->name) == 0)
					return true;
		}
		for (size_t p = 0; p < n_pfx; p++) {
			struct ip_addr hb;

			if (pfx[p].ifindex != l->ifindex)
				continue;
			if (ip_from_sockaddr(&s->hb_addr, &hb) &&
			    prefix_contains(&pfx[p].prefix, &hb))
				return true;
			for (size_t k = 0; k < s->n_arr[INF_LEASE]; k++) {
				const struct obj_lease *le = s->arr[INF_LEASE][k];

				if (le->has_hb && ip_from_sockaddr(&le->hb, &hb) &&
				    prefix_contains(&pfx[p].prefix, &hb))
					return true;
			}
			for (size_t k = 0; k < s->last.n; k++)
				if (prefix_contains(&pfx[p].prefix, &s->last.addrs[k].addr))
					return true;
		}
	}
	return false;
}

/* Any change of links or addresses. A change of the usable prefixes goes
 * to this node's Lease at once (peers re-elect on its watch event). A link
 * that comes up ends this node's isolation: what it concluded of its peers
 * meanwhile (dead, having heard nothing) is stale, so their liveness is
 * forgotten and their Leases decide until their next heartbeats; that keeps
 * a returning node from claiming, and announcing, addresses its peers
 * hold. */
static void on_links(void *ud, const int *came_up, size_t n)
{
	struct speaker *s = ud;

	if (!s->ifaces)
		return; /* the first dump, inside iface_monitor_new */
	if (s->l2)
		l2_links_changed(s->l2, came_up, n);
	if (prefixes_update(s) && s->synced && s->hb) {
		log_info("lease", "usable prefixes changed: updating this speaker's Lease",
			 LF_UINT("prefixes", s->n_prefixes));
		lease_send(s);
	}
	if (n && s->hb && s->synced && collect_all(s) == 0 && links_matter(s, came_up, n)) {
		size_t k = heartbeat_forget_liveness(s->hb);

		s->rejoining = true;

		if (k)
			log_info("heartbeat",
				 "a link came up: peers' liveness forgotten until they are heard",
				 LF_UINT("peers", k));
	}
	schedule(s);
}

/* ---- informers ---- */

static void inf_add(struct informer *inf, const char *key, void *item, void *ud)
{
	(void)inf;
	(void)key;
	(void)item;
	schedule(ud);
}

static void inf_update(struct informer *inf, const char *key, void *o, void *n, void *ud)
{
	(void)o;
	inf_add(inf, key, n, ud);
}

static void inf_delete(struct informer *inf, const char *key, void *o, void *ud)
{
	inf_add(inf, key, o, ud);
}

static void lease_changed(struct informer *inf, const char *key, void *item, void *ud)
{
	struct speaker *s = ud;
	const struct obj_lease *l = item;
	unsigned sup = 0;

	(void)inf;
	if (l && l->prefixes_why && log_ratelimit_ok(&s->rl_decode, loop_now_us(), &sup))
		log_warn("informer",
			 "speaker Lease: prefixes ignored, the node counts as able to announce "
			 "everywhere",
			 LF_STR("key", key), LF_STR("why", l->prefixes_why),
			 LF_UINT("suppressed", sup));
	update_peers(ud);
	schedule(ud);
}

static void lease_updated(struct informer *inf, const char *key, void *o, void *n, void *ud)
{
	/* A renewal alone (every 2 s per speaker) changes nothing a pass
	 * reads but the Lease's freshness, and that only if it had gone
	 * stale: the pass at resync_deadline() handles expiry. */
	if (obj_lease_same_but_renewal(o, n) && lease_fresh(o))
		return;
	lease_changed(inf, key, n, ud);
}

static void lease_deleted(struct informer *inf, const char *key, void *o, void *ud)
{
	(void)o;
	lease_changed(inf, key, NULL, ud);
}

static void inf_synced(struct informer *inf, void *ud)
{
	struct speaker *s = ud;

	(void)inf;
	for (size_t k = 0; k < INF_MAX; k++)
		if (!informer_synced(s->inf[k]))
			return;
	if (!speaker_bgp_synced(s->bgp))
		return;
	if (s->synced)
		return;
	log_info("main", "caches synced");
	if (!s->hb && start_heartbeat(s) < 0) {
		loop_quit(s->loop, 1);
		return;
	}
	s->synced = true;
	lease_send(s);
	loop_timer_arm(s->lease_timer, LEASE_RENEW_US);
	loop_timer_arm(s->resync_timer, RESYNC_RETRY_US);
	/* Speakers that start together do not see each other's Leases yet:
	 * claiming now would make every one of them announce everything for
	 * a moment. Wait until their Leases and first heartbeats are in. */
	{
		uint64_t grace = (uint64_t)(s->o.hb_misses + 2) * s->o.hb_interval_us;

		loop_timer_arm(s->reconcile_timer,
			       grace > STARTUP_GRACE_US ? grace : STARTUP_GRACE_US);
	}
}

static void inf_error(struct informer *inf, const struct informer_error *e, void *ud)
{
	struct speaker *s = ud;
	unsigned sup = 0;

	(void)inf;
	if (e->kind == INFORMER_ERR_DECODE) {
		if (log_ratelimit_ok(&s->rl_decode, loop_now_us(), &sup))
			log_warn("informer", "object ignored: cannot decode it",
				 LF_STR("resource", e->resource), LF_STR("key", e->key),
				 LF_STR("why", e->message), LF_UINT("suppressed", sup));
		return;
	}
	if (e->kind == INFORMER_ERR_EXPIRED)
		return;
	log_warn("informer", "list/watch failed", LF_STR("resource", e->resource),
		 LF_INT("code", e->code), LF_STR("message", e->message), LF_ERR(e->err),
		 LF_UINT("retry_in_ms", e->retry_in_us / 1000));
}

static void slice_index(const char *key, const void *item, struct informer_emitter *emit, void *ud)
{
	const struct obj_slice *sl = item;
	char v[512];

	(void)key;
	(void)ud;
	snprintf(v, sizeof(v), "%s/%s", sl->ns, sl->service);
	informer_index_emit(emit, v);
}

static void on_bgp_changed(void *ud)
{
	struct speaker *s = ud;

	if (s->synced)
		schedule(s);
	else
		inf_synced(NULL, s); /* the BGP informers may be the last to sync */
}

/* BGP mode: writes BIRD's first configuration and starts its informers. */
static int start_bgp(struct speaker *s)
{
	struct speaker_bgp_opts bo = {
		.ns = s->o.common.namespace,
		.node_name = s->o.node_name,
		.bird_config = s->o.bird_config,
		.bird_socket = s->o.bird_socket,
		.table_base = s->o.bgp_table_base,
		.table_count = s->o.bgp_table_count,
		.changed = on_bgp_changed,
		.ud = s,
	};

	if (s->hb_addr.ss_family == AF_INET) {
		bo.initial_router_id.family = AF_INET;
		memcpy(bo.initial_router_id.bytes,
		       &((const struct sockaddr_in *)&s->hb_addr)->sin_addr, 4);
	}
	s->bgp = speaker_bgp_new(s->loop, s->metrics, s->client, &bo);
	if (!s->bgp)
		return -ENOMEM;
	return speaker_bgp_start(s->bgp);
}

static int start_informers(struct speaker *s)
{
	static const struct {
		const struct kube_resource *res;
		informer_decode_fn decode;
		informer_free_fn free_item;
		bool ours; /* in ironlb's namespace */
	} kinds[INF_MAX] = {
		[INF_SVC] = { &KUBE_SERVICES, obj_service_decode, obj_service_free, false },
		[INF_SLICE] = { &KUBE_ENDPOINTSLICES, obj_slice_decode, obj_slice_free, false },
		[INF_NODE] = { &KUBE_NODES, obj_node_decode, obj_node_free, false },
		[INF_POOL] = { &KUBE_IPADDRESSPOOLS, obj_pool_decode, obj_pool_free, true },
		[INF_ADV] = { &KUBE_L2ADVERTISEMENTS, obj_l2adv_decode, obj_l2adv_free, true },
		[INF_LEASE] = { &KUBE_LEASES, obj_lease_decode, obj_lease_free, true },
	};

	for (size_t k = 0; k < INF_MAX; k++) {
		struct informer_opts io = {
			.res = kinds[k].res,
			.ns = kinds[k].ours ? s->o.common.namespace : NULL,
			.decode = kinds[k].decode,
			.free_item = kinds[k].free_item,
			.on_add = k == INF_LEASE ? lease_changed : inf_add,
			.on_update = k == INF_LEASE ? lease_updated : inf_update,
			.on_delete = k == INF_LEASE ? lease_deleted : inf_delete,
			.on_synced = inf_synced,
			.on_error = inf_error,
			.userdata = s,
		};

		s->inf[k] = informer_new(s->client, s->loop, &io);
		if (!s->inf[k])
			return -ENOMEM;
	}
	if (informer_add_index(s->inf[INF_SLICE], "svc", slice_index, s) < 0)
		return -ENOMEM;
	for (size_t k = 0; k < INF_MAX; k++) {
		int r = informer_start(s->inf[k]);

		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- metrics ---- */

static void collect_metrics(struct metrics *reg, void *ud)
{
	struct speaker *s = ud;
	const struct l2_stats *ls = l2_stats(s->l2);
	size_t alive = 0;

	(void)reg;
	metric_set(s->m_owned, (double)l2_claim_count(s->l2));
	metric_set(s->m_ahead, (double)l2_ahead_count(s->l2));
	metric_set(s->m_ahead_conflicts, (double)s->ahead_conflicts);
	metric_set(s->m_announce, (double)ls->announcements_sent);
	metric_set(s->m_arp, (double)ls->arp_answered);
	metric_set(s->m_drops, (double)l2_kernel_drops(s->l2));
	metric_set(s->m_ns, (double)ls->ns_answered);
	metric_set(s->m_conflicts, (double)s->conflict_count);
	metric_set(s->m_failovers, (double)s->failovers);
	metric_set(s->m_stepdowns, (double)s->stepdowns);
	metric_set(s->m_defences, (double)s->defences);
	if (s->hb) {
		const struct heartbeat_stats *hs = heartbeat_stats(s->hb);

		metric_set(s->m_hb_sent, (double)hs->sent);
		metric_set(s->m_hb_recv, (double)hs->received);
		for (int r = 1; r < HEARTBEAT_RESULT_MAX; r++)
			metric_set(s->m_hb_rej, (double)hs->rejected.n[r],
				   heartbeat_result_str((enum heartbeat_result)r));
		metric_set(s->m_hb_rej, (double)hs->unknown_peer, "unknown_peer");
		for (size_t i = 0; i < heartbeat_peer_count(s->hb); i++) {
			const struct heartbeat_peer *st;
			const struct sockaddr_storage *a;

			heartbeat_peer_name(s->hb, i, &st, &a);
			if (st && st->liveness == HEARTBEAT_PEER_ALIVE)
				alive++;
		}
	}
	metric_set(s->m_peers, (double)alive);
	datapath_collect_metrics(s);
}

static int setup_metrics(struct speaker *s)
{
	static const double pass_bounds[] = { 0.001, 0.005, 0.01, 0.025, 0.05,
					      0.1,   0.25,  0.5,  1,	 2.5 };
	struct metrics *m = s->metrics;

	s->m_owned = metrics_gauge(m, "ironlb_l2_addresses_owned",
				   "Addresses this node claims in L2 mode.", NULL);
	s->m_announce = metrics_counter(m, "ironlb_l2_announcements_sent_total",
					"Gratuitous ARPs and unsolicited NAs sent.", NULL);
	s->m_arp =
		metrics_counter(m, "ironlb_l2_arp_answered_total", "ARP requests answered.", NULL);
	s->m_ns = metrics_counter(m, "ironlb_l2_ns_answered_total",
				  "Neighbor Solicitations answered.", NULL);
	s->m_drops = metrics_counter(m, "ironlb_l2_packet_kernel_drops_total",
				     "ARP/NDP frames the kernel dropped: a packet socket's "
				     "receive queue was full.",
				     NULL);
	s->m_hb_sent = metrics_counter(m, "ironlb_heartbeats_sent_total", "Heartbeats sent.", NULL);
	s->m_hb_recv = metrics_counter(m, "ironlb_heartbeats_received_total",
				       "Heartbeats accepted.", NULL);
	s->m_hb_rej = metrics_counter(m, "ironlb_heartbeats_rejected_total",
				      "Heartbeats rejected, by reason.", "reason");
	s->m_peers =
		metrics_gauge(m, "ironlb_peers_alive", "Peer speakers alive by heartbeat.", NULL);
	s->m_conflicts = metrics_counter(m, "ironlb_l2_conflicts_total",
					 "Foreign hosts found holding a claimed address.", NULL);
	s->m_ahead =
		metrics_gauge(m, "ironlb_l2_probe_ahead_addresses",
			      "Pools' next addresses this node probes ahead of any Service.", NULL);
	s->m_ahead_conflicts = metrics_counter(
		m, "ironlb_l2_probe_ahead_conflicts_total",
		"Foreign hosts found holding a pool's next address while probing ahead.", NULL);
	s->m_ahead_in_use = metrics_gauge(
		m, "ironlb_l2_probe_ahead_in_use_addresses",
		"Addresses probing ahead found held outside ironlb, published for the controller "
		"to skip.",
		NULL);
	s->m_stepdowns = metrics_counter(
		m, "ironlb_l2_stepdowns_total",
		"Claims yielded to a higher-ranked speaker heard on the wire.", NULL);
	s->m_defences = metrics_counter(m, "ironlb_l2_defences_total",
					"Announcements sent to defend an address against a "
					"lower-ranked speaker.",
					NULL);
	s->m_failovers = metrics_counter(m, "ironlb_l2_failovers_total",
					 "Addresses this node took over from another owner.", NULL);
	s->m_pass =
		metrics_histogram(m, "ironlb_speaker_reconcile_duration_seconds",
				  "Reconcile passes (every address: L2, BGP, datapath) and "
				  "their duration.",
				  NULL, pass_bounds, sizeof(pass_bounds) / sizeof(pass_bounds[0]));
	if (!s->m_owned || !s->m_announce || !s->m_arp || !s->m_drops || !s->m_ns ||
	    !s->m_hb_sent || !s->m_hb_recv || !s->m_hb_rej || !s->m_peers || !s->m_conflicts ||
	    !s->m_failovers || !s->m_stepdowns || !s->m_defences || !s->m_pass || !s->m_ahead ||
	    !s->m_ahead_in_use || !s->m_ahead_conflicts || datapath_setup_metrics(s) < 0)
		return -ENOMEM;
	return metrics_add_collector(m, collect_metrics, s);
}

/* ---- life cycle ---- */

static int read_key(struct speaker *s)
{
	uint8_t buf[4096];
	const char *why = NULL;
	ssize_t n;
	int fd = open(s->o.hb_key_file, O_RDONLY | O_CLOEXEC), r;

	if (fd == -1) {
		r = -errno;
		log_error("main", "cannot read the heartbeat key file",
			  LF_STR("path", s->o.hb_key_file), LF_ERR(r));
		return r;
	}
	n = read(fd, buf, sizeof(buf));
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r == 0)
		r = heartbeat_key_parse(buf, (size_t)n, &s->key, &why);
	memset(buf, 0, sizeof(buf));
	if (r < 0)
		log_error("main", "bad heartbeat key file", LF_STR("path", s->o.hb_key_file),
			  LF_STR("why", why ? why : ""), LF_ERR(r));
	return r;
}

static void on_event_error(const struct kube_event_error *e, void *ud)
{
	(void)ud;
	log_warn("events", "cannot record an Event", LF_STR("object", e->object),
		 LF_STR("reason", e->reason), LF_INT("code", e->code),
		 LF_STR("message", e->message), LF_ERR(e->err));
}

struct speaker *speaker_new(struct loop *l, struct metrics *m, const struct speaker_opts *o)
{
	struct speaker *s = calloc(1, sizeof(*s));
	struct kube_config *cfg = NULL;
	struct kube_client_opts co = { 0 };
	struct kube_event_opts eo = { .component = "ironlb-speaker", .on_error = on_event_error };
	char err[512];
	int r;

	if (!s)
		return NULL;
	s->o = *o;
	s->loop = l;
	s->metrics = m;
	s->rl_decode = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000000, 10);
	s->rl_dp = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000000, 5);
	s->dctx.lb_class = o->lb_class;
	if (read_key(s) < 0)
		goto fail;
	r = kube_config_load(o->common.kubeconfig, &cfg, err, sizeof(err));
	if (r < 0) {
		log_error("main", "cannot load the Kubernetes client configuration",
			  LF_STR("why", err), LF_ERR(r));
		goto fail;
	}
	co.metrics = m;
	s->client = kube_client_new(l, cfg, &co);
	kube_config_free(cfg);
	if (!s->client) {
		log_error("main", "cannot create the Kubernetes client", LF_ERR(-errno));
		goto fail;
	}
	eo.host = o->node_name;
	s->events = kube_event_recorder_new(s->client, l, &eo);
	s->ifaces = iface_monitor_new(l, on_links, s, &r);
	if (!s->ifaces) {
		log_error("main", "cannot watch network interfaces", LF_ERR(r));
		goto fail;
	}
	s->l2 = l2_new(l, s->ifaces, &o->announce,
		       &(struct l2_callbacks){ .holder_seen = on_holder_seen,
					       .conflict = on_conflict,
					       .ahead_clear = on_ahead_clear },
		       s);
	s->reconcile_timer = loop_timer_new(l, on_reconcile_timer, s);
	s->resync_timer = loop_timer_new(l, on_resync_timer, s);
	s->lease_timer = loop_timer_new(l, on_lease_timer, s);
	if (!s->l2 || !s->reconcile_timer || !s->resync_timer || !s->lease_timer ||
	    setup_metrics(s) < 0) {
		log_error("main", "out of memory at start-up");
		goto fail;
	}
	if (datapath_start(s) < 0)
		goto fail;
	if (start_bgp(s) < 0)
		goto fail;
	r = start_informers(s);
	if (r < 0) {
		log_error("main", "cannot start the informers", LF_ERR(r));
		goto fail;
	}
	return s;
fail:
	speaker_free(s);
	return NULL;
}

void speaker_free(struct speaker *s)
{
	if (!s)
		return;
	/* Stop answering first, then tell the peers we leave. */
	l2_free(s->l2);
	speaker_bgp_free(s->bgp); /* withdraws the prefixes */
	datapath_stop(s);
	heartbeat_free(s->hb, true);
	for (size_t k = 0; k < INF_MAX; k++) {
		informer_free(s->inf[k]);
		free(s->arr[k]);
	}
	loop_timer_free(s->reconcile_timer);
	loop_timer_free(s->resync_timer);
	loop_timer_free(s->lease_timer);
	kube_event_recorder_free(s->events);
	kube_client_free(s->client);
	iface_monitor_free(s->ifaces);
	last_release(s);
	for (size_t k = 0; k < s->n_owners; k++)
		free(s->owners[k]);
	free(s->owners);
	free(s->lease_idx);
	heartbeat_key_clear(&s->key);
	free(s);
}

bool speaker_ready(const struct speaker *s, char *detail, size_t len)
{
	if (!s || !s->synced) {
		snprintf(detail, len, "not synced with the API server yet");
		return false;
	}
	if (!s->applied) {
		snprintf(detail, len, "first reconcile not applied yet");
		return false;
	}
	/* BGP's state is a detail, not a reason to be unready: L2 works
	 * without BIRD. */
	if (s->bgp)
		speaker_bgp_healthy(s->bgp, detail, len);
	return true;
}

static json_t *mac_json(const uint8_t m[6])
{
	char buf[MAC_STRLEN];

	return json_string(mac_format(m, buf));
}

/* The names of st's interfaces, comma-separated, into buf. */
static void status_ifnames(struct speaker *s, const struct l2_status *st, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t k = 0; k < st->n_ifindexes && used < len; k++) {
		const struct iface_link *lk = iface_monitor_link(s->ifaces, st->ifindexes[k]);
		int w = snprintf(buf + used, len - used, "%s%s", k ? "," : "", lk ? lk->name : "?");

		if (w < 0)
			break;
		used += (size_t)w;
	}
}

/* The pools' next addresses this node probes ahead, and what it found. */
static json_t *ahead_status(struct speaker *s, uint64_t now)
{
	json_t *arr = json_array(); /* new */

	for (size_t i = 0; s && arr && i < s->last.n_ahead; i++) {
		const struct ip_addr *a = &s->last.ahead[i].addr;
		struct pool_find pf;
		struct l2_status st;
		char ip[IP_STRLEN], ifs[128];
		json_t *v;

		if (!l2_status(s->l2, a, &st) || !st.ahead)
			continue; /* --probe-ahead-interval 0, or taken since */
		ip_format(a, ip, sizeof(ip));
		status_ifnames(s, &st, ifs, sizeof(ifs));
		pf = (struct pool_find){ .addr = a };
		informer_foreach(s->inf[INF_POOL], pool_find_next, &pf);
		v = json_pack("{s:s, s:s, s:s, s:s}", "address", ip, "pool",
			      pf.pool ? pf.pool->name : "-", "state", announce_state_str(st.state),
			      "interface", *ifs ? ifs : "-");
		if (!v)
			continue;
		if (st.clear_us)
			json_object_set_new(v, "last_clear_ms",
					    json_integer((json_int_t)((now - st.clear_us) / 1000)));
		if (st.state == ANNOUNCE_CONFLICT)
			json_object_set_new(v, "conflict", mac_json(st.conflict_mac));
		json_object_set_new(v, "in_use", json_boolean(st.in_use));
		json_array_append_new(arr, v);
	}
	return arr;
}

void speaker_status(struct speaker *s, json_t *reply)
{
	json_t *addrs = json_array(), *peers = json_array(); /* new */
	uint64_t now = loop_now_us();
	size_t i;

	for (i = 0; s && i < s->last.n; i++) {
		const struct reconcile_addr *ra = &s->last.addrs[i];
		struct l2_status st;
		char ip[IP_STRLEN], svc[300], role[32], ifs[128] = "", reason[160] = "";
		json_t *v;

		ip_format(&ra->addr, ip, sizeof(ip));
		{
			struct last_info li = last_info(ra);

			snprintf(svc, sizeof(svc), "%s/%s", li.ns, li.name);
		}
		switch (ra->role) {
		case RECONCILE_OWNER:
			snprintf(role, sizeof(role), "owner");
			break;
		case RECONCILE_BACKUP:
			snprintf(role, sizeof(role), "backup #%u", (unsigned)ra->backup_pos);
			break;
		default:
			snprintf(role, sizeof(role), "%s", reconcile_role_str(ra->role));
		}
		if (ra->role == RECONCILE_INELIGIBLE)
			snprintf(reason, sizeof(reason), "%s", eligibility_reason_str(ra->reason));
		else if (ra->role == RECONCILE_NOT_HANDLED)
			snprintf(reason, sizeof(reason), "%s", ra->note);
		else if (ra->role == RECONCILE_OWNER && held_down(s, &ra->addr, now))
			snprintf(reason, sizeof(reason),
				 "stepped down: a higher-ranked speaker announces it");
		v = json_pack("{s:s, s:s, s:s, s:s}", "address", ip, "service", svc, "owner",
			      ra->owner ? ra->owner : "-", "role", role);
		if (!v)
			continue;
		if (ra->role != RECONCILE_INELIGIBLE)
			json_object_set_new(v, "eligibility", json_string("eligible"));
		else
			json_object_set_new(v, "eligibility",
					    json_string(eligibility_reason_id(ra->reason)));
		if (l2_status(s->l2, &ra->addr, &st)) {
			status_ifnames(s, &st, ifs, sizeof(ifs));
			json_object_set_new(v, "state", json_string(announce_state_str(st.state)));
			if (st.since_us) {
				uint64_t wall = loop_wall_us() - (now - st.since_us);
				time_t t = (time_t)(wall / 1000000);
				struct tm tm;
				char when[32];

				gmtime_r(&t, &tm);
				strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
				json_object_set_new(v, "since", json_string(when));
			}
			if (st.since_us)
				json_object_set_new(
					v, "since_ms",
					json_integer((json_int_t)((now - st.since_us) / 1000)));
			if (!st.n_ifindexes && st.why_no_interface)
				snprintf(reason, sizeof(reason), "%s", st.why_no_interface);
			if (st.conflicts)
				json_object_set_new(v, "conflict", mac_json(st.conflict_mac));
		}
		for (size_t k = 0; k < s->n_conflicts && !json_object_get(v, "conflict"); k++)
			if (ip_equal(&s->conflicts[k].addr, &ra->addr))
				json_object_set_new(v, "conflict", mac_json(s->conflicts[k].mac));
		if (*ifs)
			json_object_set_new(v, "interface", json_string(ifs));
		if (s->dp && ra->role == RECONCILE_OWNER)
			json_object_set_new(v, "datapath", datapath_rules_json(s, &ra->addr));
		json_object_set_new(v, "reason", json_string(reason));
		json_array_append_new(addrs, v);
	}
	for (i = 0; s && s->hb && i < heartbeat_peer_count(s->hb); i++) {
		const struct heartbeat_peer *st = NULL;
		const struct sockaddr_storage *a = NULL;
		const char *name = heartbeat_peer_name(s->hb, i, &st, &a);
		char buf[IP_STRLEN + 8] = "-";
		json_t *v;

		if (a)
			format_sockaddr(a, buf, sizeof(buf));
		v = json_pack("{s:s, s:s, s:b, s:s}", "node", name ? name : "?", "address", buf,
			      "alive", st && st->liveness == HEARTBEAT_PEER_ALIVE, "liveness",
			      heartbeat_liveness_str(st ? st->liveness : HEARTBEAT_PEER_UNKNOWN));
		if (v && st && st->known)
			json_object_set_new(
				v, "last_heartbeat_ms",
				json_integer((json_int_t)((now - st->heard_us) / 1000)));
		json_array_append_new(peers, v);
	}
	json_object_set_new(reply, "addresses", addrs);
	json_object_set_new(reply, "probe_ahead", ahead_status(s, now));
	json_object_set_new(reply, "peers", peers);
	if (s && s->hb)
		json_object_set_new(reply, "heartbeat_address", json_string(s->hb_addr_str));
	if (s)
		datapath_status(s, reply);
	if (s && s->bgp)
		speaker_bgp_status(s->bgp, reply);
}
