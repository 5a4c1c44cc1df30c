/* The BGP decision (see bgp_policy.h). */
#include "bgp_policy.h"

#include <errno.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>

const char *bgp_peer_state_str(enum bgp_peer_state s)
{
	switch (s) {
	case BGP_PEER_USED:
		return "used";
	case BGP_PEER_NOT_SELECTED:
		return "node not selected (nodeSelectors)";
	case BGP_PEER_VRF:
		return "vrf is not supported";
	case BGP_PEER_NO_SECRET:
		return "passwordSecret not found (a kubernetes.io/basic-auth Secret in ironlb's "
		       "namespace)";
	case BGP_PEER_NO_BFD_PROFILE:
		return "bfdProfile not found";
	}
	return "unknown";
}

const char *bgp_peer_state_id(enum bgp_peer_state s)
{
	switch (s) {
	case BGP_PEER_USED:
		return "used";
	case BGP_PEER_NOT_SELECTED:
		return "not_selected";
	case BGP_PEER_VRF:
		return "vrf_unsupported";
	case BGP_PEER_NO_SECRET:
		return "no_secret";
	case BGP_PEER_NO_BFD_PROFILE:
		return "no_bfd_profile";
	}
	return "unknown";
}

const char *bgp_addr_state_str(enum bgp_addr_state s)
{
	switch (s) {
	case BGP_ADDR_ADVERTISED:
		return "advertised";
	case BGP_ADDR_NOT_ADVERTISED:
		return "not-advertised";
	case BGP_ADDR_NOT_HANDLED:
		return "not-handled";
	}
	return "unknown";
}

static const struct obj_node *find_node(const struct bgp_policy_input *in, const char *name)
{
	for (size_t i = 0; i < in->n_nodes; i++)
		if (name && strcmp(in->nodes[i]->name, name) == 0)
			return in->nodes[i];
	return NULL;
}

static const struct bgp_secret *find_secret(const struct bgp_policy_input *in, const char *name)
{
	for (size_t i = 0; i < in->n_secrets; i++)
		if (strcmp(in->secrets[i]->name, name) == 0)
			return in->secrets[i];
	return NULL;
}

static const struct bgp_bfd_profile *find_bfd(const struct bgp_policy_input *in, const char *name)
{
	for (size_t i = 0; i < in->n_bfds; i++)
		if (strcmp(in->bfds[i]->name, name) == 0)
			return in->bfds[i];
	return NULL;
}

/* Whether this node (self may be NULL: no Node object) uses peer p, and
 * its password and BFD profile if it does. */
static enum bgp_peer_state peer_state(const struct bgp_policy_input *in,
				      const struct obj_node *self, const struct bgp_peer *p,
				      struct bird_peer *ret)
{
	const struct bgp_secret *sec = NULL;
	const struct bgp_bfd_profile *bfd = NULL;

	if (!bgp_selectors_match(p->node_sel, p->n_node_sel, self ? self->labels : NULL))
		return BGP_PEER_NOT_SELECTED;
	if (p->vrf)
		return BGP_PEER_VRF;
	if (p->password_secret && !(sec = find_secret(in, p->password_secret)))
		return BGP_PEER_NO_SECRET;
	if (p->bfd_profile && !(bfd = find_bfd(in, p->bfd_profile)))
		return BGP_PEER_NO_BFD_PROFILE;
	if (ret)
		*ret = (struct bird_peer){
			.peer = p,
			.password = sec ? sec->password : p->password,
			.bfd = bfd,
		};
	return BGP_PEER_USED;
}

static int peer_name_cmp(const void *x, const void *y)
{
	const struct bgp_peer *a = ((const struct bgp_peer_use *)x)->peer;
	const struct bgp_peer *b = ((const struct bgp_peer_use *)y)->peer;
	int c = strcmp(a->name, b->name);

	/* Names are unique in one namespace; the address keeps the order
	 * total should two namespaces be mixed. */
	return c ? c : ip_cmp(&a->peer_addr, &b->peer_addr);
}

int bgp_policy_node(const struct bgp_policy_input *in, struct bgp_node_config *ret)
{
	const struct obj_node *self = find_node(in, in->self);
	struct bgp_node_config c = { 0 };
	size_t i;

	c.all = calloc(in->n_peers ? in->n_peers : 1, sizeof(*c.all));
	c.peers = calloc(in->n_peers ? in->n_peers : 1, sizeof(*c.peers));
	c.policies = calloc(in->n_adverts ? in->n_adverts : 1, sizeof(*c.policies));
	if (!c.all || !c.peers || !c.policies) {
		bgp_node_config_clear(&c);
		return -ENOMEM;
	}
	for (i = 0; i < in->n_peers; i++)
		c.all[c.n_all++].peer = in->peers[i];
	qsort(c.all, c.n_all, sizeof(*c.all), peer_name_cmp);
	for (i = 0; i < c.n_all; i++) {
		c.all[i].state = peer_state(in, self, c.all[i].peer, &c.peers[c.n_peers]);
		if (c.all[i].state != BGP_PEER_USED)
			continue;
		if (!c.has_router_id && c.all[i].peer->has_router_id) {
			c.has_router_id = true;
			c.router_id = c.all[i].peer->router_id;
		}
		c.n_peers++;
	}
	if (!c.has_router_id && self && self->has_addr && self->addr.family == AF_INET) {
		c.has_router_id = true;
		c.router_id = self->addr;
	}
	for (i = 0; i < in->n_adverts; i++) {
		const struct bgp_advert *a = in->adverts[i];

		if (bgp_selectors_match(a->node_sel, a->n_node_sel, self ? self->labels : NULL))
			c.policies[c.n_policies++] = (struct bird_policy){
				.adv = a,
				.table = in->table_base + (uint32_t)i,
			};
	}
	*ret = c;
	return 0;
}

void bgp_node_config_clear(struct bgp_node_config *c)
{
	free(c->peers);
	free(c->policies);
	free(c->all);
	memset(c, 0, sizeof(*c));
}

/* ---- routes ---- */

static int route_qsort_cmp(const void *x, const void *y)
{
	return krt_route_cmp(x, y);
}

/* Static texts of the outcomes that eligibility.h words for L2. */
#define WHY_NOT_IN_POOL "address in no IPAddressPool"
#define WHY_EXTERNAL "externalIP outside every pool with allowExternalIPs"
#define WHY_NO_ADVERT "no BGPAdvertisement selects the address's pool"
#define WHY_NOT_SELECTED "no BGPAdvertisement for the pool selects this node (nodeSelectors)"
#define WHY_NO_NODE "this node has no Node object"
#define WHY_NO_PEER "no BGPPeer that the pool's BGPAdvertisements send to is used by this node"
#define WHY_AGGREGATION                                                                            \
	"aggregationLength of the pool's BGPAdvertisements reaches outside the pool's ranges"

/* A growing array of n elements of size sz. */
struct vec {
	void *v;
	size_t n, cap;
};

static void *vec_push(struct vec *vec, size_t sz)
{
	if (vec->n == vec->cap) {
		size_t cap = vec->cap ? vec->cap * 2 : 16;
		void *v = realloc(vec->v, cap * sz);

		if (!v)
			return NULL;
		vec->v = v;
		vec->cap = cap;
	}
	return (char *)vec->v + sz * vec->n++;
}

struct run {
	const struct bgp_policy_input *in;
	const struct obj_node *self;
	/* Per advertisement, the same for every address: its nodeSelectors
	 * match this node; it sends to a peer this node uses. */
	bool *adv_node_sel, *adv_has_peer;
	struct eligibility_advert *eadv; /* per advert */
	uint32_t *sel;			 /* indexes of the adverts selecting the pool */
	struct vec routes, addrs, pol;
	/* Per pool: its rank by name, and the adverts selecting it
	 * (pool_sel[pool_sel_off[i]] up to pool_sel_off[i + 1]). */
	size_t *pool_rank;
	uint32_t *pool_sel;
	size_t *pool_sel_off;
	struct pool_range *ranges;
	size_t n_ranges;
};

struct ep_facts {
	const char *self;
	bool scanned; /* the Service's slices were read (once per Service) */
	bool serving, ready_here;
};

static void ep_scan(const struct obj_slice *s, void *arg)
{
	struct ep_facts *f = arg;

	for (size_t i = 0; i < s->n_eps; i++) {
		const struct obj_endpoint *e = &s->eps[i];

		if (e->serving)
			f->serving = true;
		if (e->ready && e->node && f->self && strcmp(e->node, f->self) == 0)
			f->ready_here = true;
	}
}

/* Every range of every pool, sorted by first address, with the largest
 * last address up to each: the pool of an address is found by binary
 * search instead of a walk over every pool's ranges. */
struct pool_range {
	struct ip_range r;
	struct ip_addr max_last; /* of ranges [0, this] */
	uint32_t pool;		 /* index into the input's pools */
};

static int pool_range_cmp(const void *x, const void *y)
{
	const struct pool_range *a = x, *b = y;
	int c = ip_cmp(&a->r.first, &b->r.first);

	return c ? c : a->pool < b->pool ? -1 : a->pool > b->pool;
}

/* The pool holding a: the first by name (rank), so that the answer does
 * not depend on cache order even if pools overlap (the controller
 * refuses overlapping pools). Returns the pool's index, or -1. */
static long pool_for(const struct run *rn, const struct ip_addr *a)
{
	const struct pool_range *pr = rn->ranges;
	size_t lo = 0, hi = rn->n_ranges;
	long best = -1;

	while (lo < hi) { /* the first range starting after a */
		size_t mid = lo + (hi - lo) / 2;

		if (ip_cmp(&pr[mid].r.first, a) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo-- > 0 && ip_cmp(&pr[lo].max_last, a) >= 0)
		if (range_contains(&pr[lo].r, a) &&
		    (best < 0 || rn->pool_rank[pr[lo].pool] < rn->pool_rank[best]))
			best = pr[lo].pool;
	return best;
}

/* Whether prefix p (inside pool, which holds the address it came from)
 * lies inside one range of pool. */
static bool pool_holds_prefix(const struct obj_pool *pool, const struct ip_prefix *p)
{
	struct ip_range pr;

	if (p->len == ip_bits(p->addr.family))
		return true; /* the address itself */
	prefix_to_range(p, &pr);
	for (size_t i = 0; i < pool->n_ranges; i++)
		if (range_contains(&pool->ranges[i], &pr.first) &&
		    range_contains(&pool->ranges[i], &pr.last))
			return true;
	return false;
}

/* prefix_from_addr() without its 128-bit arithmetic for the usual host
 * prefix. */
static int prefix_of(const struct ip_addr *a, unsigned len, struct ip_prefix *ret)
{
	unsigned bits = ip_bits(a->family);

	if (!bits || len != bits)
		return prefix_from_addr(a, len, ret);
	memset(ret, 0, sizeof(*ret));
	ret->addr.family = a->family;
	memcpy(ret->addr.bytes, a->bytes, bits / 8);
	ret->len = (uint8_t)len;
	return 0;
}

/* Whether advert a sends to a peer this node uses (peer_used per input
 * peer). */
static bool advert_has_used_peer(const struct bgp_policy_input *in, const bool *peer_used,
				 const struct bgp_advert *a)
{
	for (size_t i = 0; i < in->n_peers; i++)
		if (peer_used[i] && bgp_advert_has_peer(a, in->peers[i]->name))
			return true;
	return false;
}

static void not_advertised(struct bgp_policy_addr *out, enum eligibility_reason r, const char *why,
			   const char *why_id)
{
	out->state = BGP_ADDR_NOT_ADVERTISED;
	out->reason = r;
	out->why = why ? why : eligibility_reason_str(r);
	out->why_id = why_id ? why_id : eligibility_reason_id(r);
}

/* f: the endpoint facts of svc, filled on first use. */
static int decide(struct run *rn, const struct obj_service *svc, struct ep_facts *f,
		  const struct ip_addr *a, bool external)
{
	const struct bgp_policy_input *in = rn->in;
	long pool_i = pool_for(rn, a);
	const struct obj_pool *pool = pool_i < 0 ? NULL : in->pools[pool_i];
	struct eligibility_service es = { .traffic_policy_local = svc->local,
					  .ignore_exclude_lb = in->ignore_exclude_lb };
	struct eligibility_node en;
	struct bgp_policy_addr *out;
	enum eligibility_reason r;
	const char *skip_why = NULL, *skip_id = NULL;
	size_t i, n_sel = 0;

	out = vec_push(&rn->addrs, sizeof(*out));
	if (!out)
		return -ENOMEM;
	memset(out, 0, sizeof(*out));
	out->addr = *a;
	out->svc = svc;
	out->first_policy = rn->pol.n;
	if (!pool || (external && !pool->allow_external)) {
		out->state = BGP_ADDR_NOT_HANDLED;
		out->why = external ? WHY_EXTERNAL : WHY_NOT_IN_POOL;
		out->why_id = "not_handled";
		return 0;
	}
	if (!rn->self) {
		not_advertised(out, ELIGIBILITY_NODE_NOT_SELECTED, WHY_NO_NODE, NULL);
		return 0;
	}
	for (size_t k = rn->pool_sel_off[pool_i]; k < rn->pool_sel_off[pool_i + 1]; k++) {
		i = rn->pool_sel[k];
		rn->eadv[n_sel] = (struct eligibility_advert){
			.node_selected = rn->adv_node_sel[i],
			.interface_ok = true,
		};
		rn->sel[n_sel++] = (uint32_t)i;
	}
	if (!f->scanned && in->foreach_slice)
		in->foreach_slice(in->ud, svc->ns, svc->name, ep_scan, f);
	f->scanned = true;
	es.has_serving_endpoint = f->serving;
	en = (struct eligibility_node){
		.name = rn->self->name,
		.exclude_label = rn->self->exclude,
		.network_unavailable = rn->self->network_unavailable,
		.has_ready_local_endpoint = f->ready_here,
		.adverts = rn->eadv,
		.n_adverts = n_sel,
	};
	r = eligibility_check(&es, &en);
	if (r == ELIGIBILITY_NO_ADVERTISEMENT) {
		not_advertised(out, r, WHY_NO_ADVERT, NULL);
		return 0;
	}
	if (r == ELIGIBILITY_NODE_NOT_SELECTED) {
		not_advertised(out, r, WHY_NOT_SELECTED, NULL);
		return 0;
	}
	if (r != ELIGIBILITY_OK) {
		not_advertised(out, r, NULL, NULL);
		return 0;
	}
	for (i = 0; i < n_sel; i++) {
		const struct bgp_advert *ad = in->adverts[rn->sel[i]];
		struct krt_route *rt;
		struct ip_prefix p;
		uint32_t *pi;

		if (!rn->eadv[i].node_selected)
			continue;
		if (!rn->adv_has_peer[rn->sel[i]]) {
			if (!skip_why) {
				skip_why = WHY_NO_PEER;
				skip_id = "no_peer";
			}
			continue;
		}
		if (prefix_of(a, a->family == AF_INET ? ad->agg_len : ad->agg_len_v6, &p) < 0 ||
		    !pool_holds_prefix(pool, &p)) {
			if (!skip_why) {
				skip_why = WHY_AGGREGATION;
				skip_id = "aggregation_outside_pool";
			}
			continue;
		}
		rt = vec_push(&rn->routes, sizeof(*rt));
		pi = rt ? vec_push(&rn->pol, sizeof(*pi)) : NULL;
		if (!pi)
			return -ENOMEM;
		*rt = (struct krt_route){
			.dst = p,
			.table = in->table_base + rn->sel[i],
			.type = RTN_BLACKHOLE,
		};
		*pi = rn->sel[i];
	}
	/* out is still valid: only routes and pol grew since it was pushed. */
	out->n_policies = rn->pol.n - out->first_policy;
	if (!out->n_policies) {
		not_advertised(out, ELIGIBILITY_OK, skip_why, skip_id);
		return 0;
	}
	out->state = BGP_ADDR_ADVERTISED;
	out->why = "advertised";
	out->why_id = "advertised";
	return 0;
}

/* Sorts by address, then the entry to keep for an address first: the
 * one that advertises, then by Service namespace/name, so that the
 * explanation does not depend on cache order. */
static int addr_rank_cmp(const void *x, const void *y)
{
	const struct bgp_policy_addr *a = x, *b = y;
	int c = ip_cmp(&a->addr, &b->addr);

	if (c)
		return c;
	if (a->state != b->state)
		return a->state < b->state ? -1 : 1;
	c = strcmp(a->svc->ns, b->svc->ns);
	if (c)
		return c;
	c = strcmp(a->svc->name, b->svc->name);
	if (c)
		return c;
	return a->first_policy < b->first_policy ? -1 : a->first_policy > b->first_policy;
}

static int addr_cmp(const void *x, const void *y)
{
	return ip_cmp(&((const struct bgp_policy_addr *)x)->addr,
		      &((const struct bgp_policy_addr *)y)->addr);
}

/* The routes in krt_route_cmp() order, from the entries sorted by address
 * without a sort of their own: routes[k] was made with pol[k], so entry
 * e's are routes[e.first_policy, + e.n_policies); in one table (one
 * advertisement: one prefix length per family) the prefixes follow the
 * addresses' order. Replaces rn->routes.v; *ret is it. */
static int routes_sorted(struct run *rn, const struct bgp_policy_addr *addrs, size_t n,
			 struct krt_route **ret)
{
	const struct krt_route *in = rn->routes.v;
	size_t n_tables = rn->in->n_adverts, i, k, *pos;
	struct krt_route *out;

	*ret = rn->routes.v;
	if (!rn->routes.n)
		return 0;
	pos = calloc(n_tables + 1, sizeof(*pos));
	out = malloc(rn->routes.n * sizeof(*out));
	if (!pos || !out) {
		free(pos);
		free(out);
		return -ENOMEM;
	}
	for (k = 0; k < rn->routes.n; k++)
		pos[in[k].table - rn->in->table_base + 1]++;
	for (i = 1; i <= n_tables; i++)
		pos[i] += pos[i - 1];
	for (i = 0; i < n; i++)
		for (k = addrs[i].first_policy; k < addrs[i].first_policy + addrs[i].n_policies;
		     k++)
			out[pos[in[k].table - rn->in->table_base]++] = in[k];
	free(pos);
	free(rn->routes.v);
	rn->routes.v = out;
	/* Holds by construction; checked, as the sort it replaces is cheap
	 * to fall back to. */
	for (k = 1; k < rn->routes.n && krt_route_cmp(&out[k - 1], &out[k]) <= 0; k++)
		;
	if (k < rn->routes.n)
		qsort(out, rn->routes.n, sizeof(*out), route_qsort_cmp);
	*ret = out;
	return 0;
}

static int pool_name_cmp(const void *x, const void *y, void *ud)
{
	const struct obj_pool *const *pools = ud;
	size_t a = *(const size_t *)x, b = *(const size_t *)y;
	int c = strcmp(pools[a]->name, pools[b]->name);

	return c ? c : a < b ? -1 : a > b;
}

/* The per-pool lookups of one run: ranks by name, the range index and
 * the advertisements selecting each pool. */
static int pools_index(struct run *rn)
{
	const struct bgp_policy_input *in = rn->in;
	size_t np = in->n_pools, na = in->n_adverts, nr = 0, i, j, k;
	size_t *order = calloc(np ? np : 1, sizeof(*order));

	rn->pool_rank = calloc(np ? np : 1, sizeof(*rn->pool_rank));
	rn->pool_sel_off = calloc(np + 1, sizeof(*rn->pool_sel_off));
	for (i = 0; i < np; i++)
		nr += in->pools[i]->n_ranges;
	rn->ranges = calloc(nr ? nr : 1, sizeof(*rn->ranges));
	if (!order || !rn->pool_rank || !rn->pool_sel_off || !rn->ranges) {
		free(order);
		return -ENOMEM;
	}
	for (i = 0; i < np; i++)
		order[i] = i;
	qsort_r(order, np, sizeof(*order), pool_name_cmp, (void *)in->pools);
	for (i = 0; i < np; i++)
		rn->pool_rank[order[i]] = i;
	free(order);
	for (i = 0, k = 0; i < np; i++)
		for (j = 0; j < in->pools[i]->n_ranges; j++)
			rn->ranges[k++] = (struct pool_range){ .r = in->pools[i]->ranges[j],
							       .pool = (uint32_t)i };
	rn->n_ranges = nr;
	if (nr)
		qsort(rn->ranges, nr, sizeof(*rn->ranges), pool_range_cmp);
	for (k = 0; k < nr; k++)
		rn->ranges[k].max_last =
			k && ip_cmp(&rn->ranges[k - 1].max_last, &rn->ranges[k].r.last) > 0
				? rn->ranges[k - 1].max_last
				: rn->ranges[k].r.last;
	/* Selection by name or labels: once per pool, not per address. */
	k = 0;
	for (i = 0; i < np; i++)
		for (j = 0; j < na; j++)
			k += bgp_advert_selects_pool(in->adverts[j], in->pools[i]->name,
						     in->pools[i]->labels);
	rn->pool_sel = calloc(k ? k : 1, sizeof(*rn->pool_sel));
	if (!rn->pool_sel)
		return -ENOMEM;
	for (i = 0, k = 0; i < np; i++) {
		rn->pool_sel_off[i] = k;
		for (j = 0; j < na; j++)
			if (bgp_advert_selects_pool(in->adverts[j], in->pools[i]->name,
						    in->pools[i]->labels))
				rn->pool_sel[k++] = (uint32_t)j;
	}
	rn->pool_sel_off[np] = k;
	return 0;
}

int bgp_policy_run(const struct bgp_policy_input *in, struct bgp_policy_result *ret)
{
	struct run rn = { .in = in, .self = find_node(in, in->self) };
	struct bgp_policy_result res = { 0 };
	struct krt_route *routes;
	struct bgp_policy_addr *addrs;
	bool *peer_used;
	size_t i, k;
	int r = -ENOMEM;

	peer_used = calloc(in->n_peers ? in->n_peers : 1, sizeof(*peer_used));
	rn.adv_node_sel = calloc(in->n_adverts ? in->n_adverts : 1, sizeof(*rn.adv_node_sel));
	rn.adv_has_peer = calloc(in->n_adverts ? in->n_adverts : 1, sizeof(*rn.adv_has_peer));
	rn.eadv = calloc(in->n_adverts ? in->n_adverts : 1, sizeof(*rn.eadv));
	rn.sel = calloc(in->n_adverts ? in->n_adverts : 1, sizeof(*rn.sel));
	if (!peer_used || !rn.adv_node_sel || !rn.adv_has_peer || !rn.eadv || !rn.sel ||
	    pools_index(&rn) < 0)
		goto out;
	for (i = 0; i < in->n_peers; i++)
		peer_used[i] = peer_state(in, rn.self, in->peers[i], NULL) == BGP_PEER_USED;
	for (i = 0; i < in->n_adverts; i++) {
		const struct bgp_advert *a = in->adverts[i];

		rn.adv_node_sel[i] =
			rn.self && bgp_selectors_match(a->node_sel, a->n_node_sel, rn.self->labels);
		rn.adv_has_peer[i] = advert_has_used_peer(in, peer_used, a);
	}
	for (i = 0; i < in->n_services; i++) {
		const struct obj_service *s = in->services[i];
		struct ep_facts f = { .self = in->self };

		for (k = 0; k < s->n_ingress; k++)
			if ((r = decide(&rn, s, &f, &s->ingress[k], false)) < 0)
				goto out;
		for (k = 0; k < s->n_external; k++)
			if ((r = decide(&rn, s, &f, &s->external[k], true)) < 0)
				goto out;
	}
	r = 0;

	/* One address, several Services (shared IP, or an externalIP that is
	 * also an ingress): the routes are the union (of every entry); the
	 * explanation is the best entry's. */
	addrs = rn.addrs.v;
	if (rn.addrs.n)
		qsort(addrs, rn.addrs.n, sizeof(*addrs), addr_rank_cmp);
	if ((r = routes_sorted(&rn, addrs, rn.addrs.n, &routes)) < 0)
		goto out;
	for (i = 0, k = 0; i < rn.routes.n; i++)
		if (!k || krt_route_cmp(&routes[k - 1], &routes[i]) != 0)
			routes[k++] = routes[i];
	res.routes = routes;
	res.n_routes = k;
	for (i = 0, k = 0; i < rn.addrs.n; i++)
		if (!k || ip_cmp(&addrs[k - 1].addr, &addrs[i].addr) != 0)
			addrs[k++] = addrs[i];
	res.addrs = addrs;
	res.n_addrs = k;
	res.policy_idx = rn.pol.v;
	res.n_policy_idx = rn.pol.n;
	for (i = 0; i < res.n_addrs; i++) {
		if (addrs[i].n_policies)
			addrs[i].policies = res.policy_idx + addrs[i].first_policy;
		if (addrs[i].state == BGP_ADDR_ADVERTISED)
			res.n_advertised++;
	}
	rn.routes.v = rn.addrs.v = rn.pol.v = NULL;
	*ret = res;
out:
	free(rn.routes.v);
	free(rn.addrs.v);
	free(rn.pol.v);
	free(peer_used);
	free(rn.adv_node_sel);
	free(rn.adv_has_peer);
	free(rn.eadv);
	free(rn.sel);
	free(rn.pool_rank);
	free(rn.pool_sel);
	free(rn.pool_sel_off);
	free(rn.ranges);
	return r;
}

void bgp_policy_result_clear(struct bgp_policy_result *r)
{
	free(r->routes);
	free(r->addrs);
	free(r->policy_idx);
	memset(r, 0, sizeof(*r));
}

const struct bgp_policy_addr *bgp_policy_find(const struct bgp_policy_result *r,
					      const struct ip_addr *a)
{
	struct bgp_policy_addr key = { .addr = *a };

	return r->n_addrs ? bsearch(&key, r->addrs, r->n_addrs, sizeof(key), addr_cmp) : NULL;
}
