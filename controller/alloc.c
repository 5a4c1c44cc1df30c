/* The address allocator (see alloc.h and docs/allocation.md).
 *
 * Data structures, all intrusive red-black trees:
 *  - a->svcs: every Service that may hold something, by namespace/name;
 *  - a->ips: every address in use (struct aip), with the Services holding
 *    it (LoadBalancer holders and externalIP reservations);
 *  - a->shared: the addresses in use under a sharing key, by (key, address),
 *    so a Service with that key finds the addresses it may join;
 *  - per pool and family, the addresses in use as disjoint maximal runs
 *    [lo, hi] (struct run), so the lowest free address of a range is one
 *    floor lookup and never a walk over the range. With avoidBuggyIPs the
 *    runs step over .0 and .255 (they are "adjacent" across them), so the
 *    lookup stays O(log n) there too.
 * Each address in use is accounted to exactly one pool, its owner: the
 * valid pool that contains it, else the oldest pool whose parsed entries
 * contain it, else none (kept only while some pool cannot be read).
 */
#include "alloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ironlb/rbtree.h"

enum { FAM4 = 0, FAM6 = 1 };
enum { HOLD_LB, HOLD_EXT };
enum { LIST_NONE, LIST_DIRTY, LIST_FAILED };

struct run {
	struct rb_node node;
	ip_u128 lo, hi;
};

struct pentry {
	struct rb_node node; /* a->pools, by name */
	struct pool *pool;
	struct rb_tree runs[2];
	uint64_t assigned[2];
};

struct svc;
struct aip;

struct holder {
	struct holder *next;	 /* in aip->holders */
	struct holder *svc_next; /* in svc->ext (HOLD_EXT only) */
	struct svc *svc;
	struct aip *ip; /* NULL: holds nothing */
	uint8_t kind;
	bool seen; /* scratch for the externalIP pass */
};

struct aip {
	struct rb_node node;	   /* a->ips, by address */
	struct rb_node share_node; /* a->shared, when key != NULL */
	struct ip_addr addr;
	struct pentry *owner;
	char *key; /* sharing key the address is indexed under */
	struct holder *holders;
};

struct svc {
	struct rb_node node; /* a->svcs, by namespace/name */
	struct svc *lnext, *lprev;
	uint8_t list;
	struct service *spec;
	struct holder lb[2]; /* by family index */
	struct holder *ext;  /* externalIP reservations */
	uint64_t last_hash;
	/* First seen by alloc_assign: its status may name addresses to
	 * adopt. Later, the allocator's own record is the truth and the
	 * status (which may lag behind our writes) is not read again. */
	bool fresh;
};

struct nsentry {
	struct rb_node node;
	char *name;
	struct labels *labels;
};

struct svc_list {
	struct svc *head, *tail;
};

struct alloc {
	char *lb_class;
	bool default_class;
	struct rb_tree pools;
	struct pentry **by_age;	 /* pools, oldest first */
	struct pentry **by_prio; /* pools, in the order they are tried */
	struct pentry **by_name; /* pools by name, for alloc_pool_at */
	size_t npools;
	bool incomplete; /* some pool has entries we cannot read */
	struct rb_tree namespaces;
	struct rb_tree svcs;
	struct rb_tree ips;
	struct rb_tree shared;
	struct svc_list dirty, failed;
	bool retry_failed;
	bool oom;
	/* Addresses automatic assignment passes over (alloc_set_skipped),
	 * sorted by ip_cmp, distinct. */
	struct ip_addr *skipped;
	size_t nskipped;
};

/* ---- small helpers ---- */

static int fam_index(int family)
{
	return family == AF_INET6 ? FAM6 : FAM4;
}

static int fam_of_index(int i)
{
	return i == FAM6 ? AF_INET6 : AF_INET;
}

static const char *fam_name(int family)
{
	return family == AF_INET6 ? "IPv6" : "IPv4";
}

static ip_u128 fam_max(int family)
{
	return family == AF_INET ? (ip_u128)UINT32_MAX : ~(ip_u128)0;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

static const char *fmt_ip(const struct ip_addr *a, char buf[IP_STRLEN])
{
	return ip_format(a, buf, IP_STRLEN);
}

/* ---- lists of Services to revisit ---- */

static void list_unlink(struct alloc *a, struct svc *s)
{
	struct svc_list *l;

	if (s->list == LIST_NONE)
		return;
	l = s->list == LIST_DIRTY ? &a->dirty : &a->failed;
	if (s->lprev)
		s->lprev->lnext = s->lnext;
	else
		l->head = s->lnext;
	if (s->lnext)
		s->lnext->lprev = s->lprev;
	else
		l->tail = s->lprev;
	s->lnext = s->lprev = NULL;
	s->list = LIST_NONE;
}

static void list_append(struct alloc *a, struct svc *s, uint8_t which)
{
	struct svc_list *l = which == LIST_DIRTY ? &a->dirty : &a->failed;

	list_unlink(a, s);
	s->lprev = l->tail;
	s->lnext = NULL;
	if (l->tail)
		l->tail->lnext = s;
	else
		l->head = s;
	l->tail = s;
	s->list = which;
}

static void mark_dirty(struct alloc *a, struct svc *s)
{
	if (s->list != LIST_DIRTY)
		list_append(a, s, LIST_DIRTY);
}

/* ---- runs of addresses in use, per pool and family ---- */

static bool buggy_u(ip_u128 v)
{
	unsigned low = (unsigned)(v & 0xff);

	return low == 0 || low == 255;
}

/* Next address after v that the pool could hand out; false past the end. */
static bool succ(ip_u128 v, ip_u128 max, bool avoid, ip_u128 *ret)
{
	do {
		if (v == max)
			return false;
		v++;
	} while (avoid && buggy_u(v));
	*ret = v;
	return true;
}

static bool pred(ip_u128 v, bool avoid, ip_u128 *ret)
{
	do {
		if (v == 0)
			return false;
		v--;
	} while (avoid && buggy_u(v));
	*ret = v;
	return true;
}

static int run_cmp(const struct rb_node *x, const struct rb_node *y)
{
	const struct run *a = rb_entry(x, struct run, node), *b = rb_entry(y, struct run, node);

	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

static int run_key_cmp(const void *key, const struct rb_node *n)
{
	ip_u128 v = *(const ip_u128 *)key, lo = rb_entry(n, struct run, node)->lo;

	return v < lo ? -1 : v > lo;
}

static bool pe_avoid(const struct pentry *pe, int fi)
{
	return fi == FAM4 && pe->pool->avoid_buggy_ips;
}

static int runs_insert(struct pentry *pe, int fi, ip_u128 v)
{
	struct rb_tree *t = &pe->runs[fi];
	ip_u128 max = fam_max(fam_of_index(fi)), s;
	bool avoid = pe_avoid(pe, fi);
	struct rb_node *ln = rb_floor(t, &v, run_key_cmp);
	struct run *l = rb_entry_safe(ln, struct run, node), *r;
	bool join_l, join_r;

	if (l && l->hi >= v)
		return 0; /* already in use: a caller bug, but harmless */
	r = rb_entry_safe(l ? rb_next(&l->node) : rb_first(t), struct run, node);
	join_l = l && succ(l->hi, max, avoid, &s) && s == v;
	join_r = r && succ(v, max, avoid, &s) && s == r->lo;
	if (join_l && join_r) {
		l->hi = r->hi;
		rb_remove(t, &r->node);
		free(r);
	} else if (join_l) {
		l->hi = v;
	} else if (join_r) {
		/* Still after l, so the order holds. */
		r->lo = v;
	} else {
		struct run *n = malloc(sizeof(*n));

		if (!n)
			return -ENOMEM;
		n->lo = n->hi = v;
		rb_insert(t, &n->node, run_cmp);
	}
	return 0;
}

static int runs_remove(struct pentry *pe, int fi, ip_u128 v)
{
	struct rb_tree *t = &pe->runs[fi];
	ip_u128 max = fam_max(fam_of_index(fi));
	bool avoid = pe_avoid(pe, fi);
	struct run *l = rb_entry_safe(rb_floor(t, &v, run_key_cmp), struct run, node);
	ip_u128 before = 0, after = 0;
	bool has_before, has_after;

	if (!l || l->hi < v)
		return 0;
	has_before = l->lo < v && pred(v, avoid, &before);
	has_after = l->hi > v && succ(v, max, avoid, &after);
	if (!has_before && !has_after) {
		rb_remove(t, &l->node);
		free(l);
	} else if (!has_before) {
		l->lo = after;
	} else if (!has_after) {
		l->hi = before;
	} else {
		struct run *n = malloc(sizeof(*n));

		if (!n)
			return -ENOMEM;
		n->lo = after;
		n->hi = l->hi;
		l->hi = before;
		rb_insert(t, &n->node, run_cmp);
	}
	return 0;
}

/* Lowest address of [first, last] not in use in pe; false if none. */
static bool runs_first_free(const struct pentry *pe, int fi, ip_u128 first, ip_u128 last,
			    ip_u128 *ret)
{
	const struct rb_tree *t = &pe->runs[fi];
	bool avoid = pe_avoid(pe, fi);
	ip_u128 c = first;
	const struct run *l;

	while (avoid && buggy_u(c)) {
		if (c >= last)
			return false;
		c++;
	}
	l = rb_entry_safe(rb_floor(t, &c, run_key_cmp), struct run, node);
	/* Runs are maximal, so the address after one is free. */
	if (l && l->hi >= c && !succ(l->hi, fam_max(fam_of_index(fi)), avoid, &c))
		return false;
	if (c > last)
		return false;
	*ret = c;
	return true;
}

static void free_run(struct rb_node *n, void *ctx)
{
	free(rb_entry(n, struct run, node));
}

/* ---- pools ---- */

static int pentry_cmp(const struct rb_node *x, const struct rb_node *y)
{
	return strcmp(rb_entry(x, struct pentry, node)->pool->name,
		      rb_entry(y, struct pentry, node)->pool->name);
}

static int pentry_key_cmp(const void *key, const struct rb_node *n)
{
	return strcmp(key, rb_entry(n, struct pentry, node)->pool->name);
}

static struct pentry *pool_find(const struct alloc *a, const char *name)
{
	return rb_entry_safe(rb_find(&a->pools, name, pentry_key_cmp), struct pentry, node);
}

/* The pool an address is accounted to (see the top of this file). */
static struct pentry *owner_of(const struct alloc *a, const struct ip_addr *addr)
{
	struct pentry *first = NULL;

	for (size_t i = 0; i < a->npools; i++) {
		struct pentry *pe = a->by_age[i];

		if (!pool_contains(pe->pool, addr))
			continue;
		if (pool_valid(pe->pool))
			return pe;
		if (!first)
			first = pe;
	}
	return first;
}

static int by_age_cmp(const void *x, const void *y)
{
	return pool_cmp_age((*(struct pentry *const *)x)->pool, (*(struct pentry *const *)y)->pool);
}

static int by_prio_cmp(const void *x, const void *y)
{
	return pool_cmp_priority((*(struct pentry *const *)x)->pool,
				 (*(struct pentry *const *)y)->pool);
}

/* ---- Services ---- */

struct svc_key {
	const char *ns, *name;
};

static int svc_cmp(const struct rb_node *x, const struct rb_node *y)
{
	const struct service *a = rb_entry(x, struct svc, node)->spec;
	const struct service *b = rb_entry(y, struct svc, node)->spec;
	int c = strcmp(a->namespace, b->namespace);

	return c ? c : strcmp(a->name, b->name);
}

static int svc_key_cmp(const void *key, const struct rb_node *n)
{
	const struct svc_key *k = key;
	const struct service *s = rb_entry(n, struct svc, node)->spec;
	int c = strcmp(k->ns, s->namespace);

	return c ? c : strcmp(k->name, s->name);
}

static struct svc *svc_find(const struct alloc *a, const char *ns, const char *name)
{
	struct svc_key k = { ns, name };

	return rb_entry_safe(rb_find(&a->svcs, &k, svc_key_cmp), struct svc, node);
}

static bool is_ours(const struct alloc *a, const struct service *s)
{
	if (s->type != SERVICE_LOAD_BALANCER)
		return false;
	if (!s->lb_class)
		return a->default_class;
	return strcmp(s->lb_class, a->lb_class) == 0;
}

/* externalIPs are honoured for every Service except ExternalName ones and
 * those another implementation's class claims. */
static bool ext_handled(const struct alloc *a, const struct service *s)
{
	if (s->type == SERVICE_EXTERNAL_NAME || s->nexternal == 0)
		return false;
	return !s->lb_class || strcmp(s->lb_class, a->lb_class) == 0;
}

static const struct labels *ns_labels(const struct alloc *a, const char *ns);

static bool serves(const struct alloc *a, const struct pentry *pe, const struct service *s)
{
	return pool_serves(pe->pool, s->namespace, ns_labels(a, s->namespace), s->labels);
}

/* ---- addresses in use ---- */

static int aip_cmp(const struct rb_node *x, const struct rb_node *y)
{
	return ip_cmp(&rb_entry(x, struct aip, node)->addr, &rb_entry(y, struct aip, node)->addr);
}

static int aip_key_cmp(const void *key, const struct rb_node *n)
{
	return ip_cmp(key, &rb_entry(n, struct aip, node)->addr);
}

struct share_key {
	const char *key;
	const struct ip_addr *addr; /* NULL sorts before every address */
};

static int share_cmp(const struct rb_node *x, const struct rb_node *y)
{
	const struct aip *a = rb_entry(x, struct aip, share_node);
	const struct aip *b = rb_entry(y, struct aip, share_node);
	int c = strcmp(a->key, b->key);

	return c ? c : ip_cmp(&a->addr, &b->addr);
}

static int share_key_cmp(const void *key, const struct rb_node *n)
{
	const struct share_key *k = key;
	const struct aip *b = rb_entry(n, struct aip, share_node);
	int c = strcmp(k->key, b->key);

	if (c)
		return c;
	return k->addr ? ip_cmp(k->addr, &b->addr) : -1;
}

static struct aip *aip_find(const struct alloc *a, const struct ip_addr *addr)
{
	return rb_entry_safe(rb_find(&a->ips, addr, aip_key_cmp), struct aip, node);
}

/* Accounts an address in use to its owner pool (runs and counts). */
static int aip_account(struct alloc *a, struct aip *ip)
{
	int fi = fam_index(ip->addr.family), r;

	if (!ip->owner)
		return 0;
	r = runs_insert(ip->owner, fi, ip_to_u128(&ip->addr));
	if (r < 0)
		return r;
	ip->owner->assigned[fi]++;
	return 0;
}

static void aip_unaccount(struct alloc *a, struct aip *ip)
{
	int fi = fam_index(ip->addr.family);

	if (!ip->owner)
		return;
	if (runs_remove(ip->owner, fi, ip_to_u128(&ip->addr)) < 0)
		a->oom = true;
	ip->owner->assigned[fi]--;
}

/* Re-indexes ip under the sharing key of its first holder. */
static void aip_reindex(struct alloc *a, struct aip *ip)
{
	const char *want = ip->holders ? ip->holders->svc->spec->sharing_key : NULL;

	if ((!want && !ip->key) || (want && ip->key && strcmp(want, ip->key) == 0))
		return;
	if (ip->key) {
		rb_remove(&a->shared, &ip->share_node);
		free(ip->key);
		ip->key = NULL;
	}
	if (want) {
		ip->key = strdup(want);
		if (!ip->key) {
			a->oom = true;
			return;
		}
		rb_insert(&a->shared, &ip->share_node, share_cmp);
	}
}

static void aip_destroy(struct alloc *a, struct aip *ip)
{
	aip_unaccount(a, ip);
	rb_remove(&a->ips, &ip->node);
	if (ip->key)
		rb_remove(&a->shared, &ip->share_node);
	free(ip->key);
	free(ip);
}

/* Links holder h (of h->svc) to addr, creating the entry if needed. */
static int hold(struct alloc *a, struct holder *h, const struct ip_addr *addr)
{
	struct aip *ip = aip_find(a, addr);

	if (!ip) {
		int r;

		ip = calloc(1, sizeof(*ip));
		if (!ip)
			return -ENOMEM;
		ip->addr = *addr;
		ip->owner = owner_of(a, addr);
		r = aip_account(a, ip);
		if (r < 0) {
			free(ip);
			return r;
		}
		rb_insert(&a->ips, &ip->node, aip_cmp);
	}
	h->ip = ip;
	h->next = ip->holders;
	ip->holders = h;
	aip_reindex(a, ip);
	return 0;
}

/* Unlinks h from its address, freeing the address when nobody holds it.
 * quiet: the address was taken in this same call and nobody can have
 * waited for it, so failed Services need not be retried. */
static void unhold(struct alloc *a, struct holder *h, bool quiet)
{
	struct aip *ip = h->ip;

	if (!ip)
		return;
	for (struct holder **pp = &ip->holders; *pp; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	}
	h->ip = NULL;
	h->next = NULL;
	if (!quiet)
		a->retry_failed = true;
	if (!ip->holders)
		aip_destroy(a, ip);
	else
		aip_reindex(a, ip);
}

/* ---- compatibility of two Services on one address ---- */

static bool ports_overlap(const struct service *a, const struct service *b, char *why,
			  size_t whylen)
{
	static const char *const proto[] = { "TCP", "UDP", "SCTP" };

	for (size_t i = 0; i < a->nports; i++)
		for (size_t j = 0; j < b->nports; j++)
			if (a->ports[i].port == b->ports[j].port &&
			    a->ports[i].protocol == b->ports[j].protocol) {
				snprintf(why, whylen, "both use port %u/%s", a->ports[i].port,
					 proto[a->ports[i].protocol % 3]);
				return true;
			}
	return false;
}

/* Whether a and b may share one address; why (whylen bytes) says why not. */
static bool compatible(const struct service *a, const struct service *b, char *why, size_t whylen)
{
	if (!a->sharing_key || !b->sharing_key) {
		snprintf(why, whylen, "%s", "no allow-shared-ip key on both");
		return false;
	}
	if (strcmp(a->sharing_key, b->sharing_key) != 0) {
		snprintf(why, whylen, "%s", "different allow-shared-ip keys");
		return false;
	}
	if (a->etp_local != b->etp_local) {
		snprintf(why, whylen, "%s", "different externalTrafficPolicy");
		return false;
	}
	if (a->etp_local && a->selector_hash != b->selector_hash) {
		snprintf(why, whylen, "%s", "externalTrafficPolicy Local with different selectors");
		return false;
	}
	return !ports_overlap(a, b, why, whylen);
}

/* The first holder of ip, other than s, that s may not share with; NULL if
 * s is compatible with all of them. */
static struct holder *conflict(const struct aip *ip, const struct svc *s, char *why, size_t whylen)
{
	for (struct holder *h = ip ? ip->holders : NULL; h; h = h->next)
		if (h->svc != s && !compatible(s->spec, h->svc->spec, why, whylen))
			return h;
	return NULL;
}

/* ---- what a Service wants ---- */

struct want {
	uint8_t n;
	uint8_t family[2];
	bool required[2];
	bool explicit_req; /* addresses requested one by one */
};

static void wanted_families(const struct service *s, struct want *w)
{
	memset(w, 0, sizeof(*w));
	if (s->nfamilies > 0) {
		w->family[w->n] = s->families[0];
		w->required[w->n++] = true;
	} else if (s->req.naddrs > 0) {
		/* No spec.ipFamilies (not from a real API server): go by the
		 * requested addresses. */
		for (unsigned i = 0; i < s->req.naddrs; i++) {
			w->family[w->n] = s->req.addrs[i].family;
			w->required[w->n++] = true;
		}
		return;
	} else {
		w->family[w->n] = AF_INET;
		w->required[w->n++] = true;
	}
	if (s->family_policy == SERVICE_PREFER_DUAL_STACK && s->nfamilies == 2) {
		w->family[w->n] = s->families[1];
		w->required[w->n++] = false;
	} else if (s->family_policy == SERVICE_REQUIRE_DUAL_STACK) {
		w->family[w->n] = w->family[0] == AF_INET ? AF_INET6 : AF_INET;
		w->required[w->n++] = true;
	}
}

static const struct ip_addr *requested_addr(const struct service *s, int family)
{
	for (unsigned i = 0; i < s->req.naddrs; i++)
		if (s->req.addrs[i].family == family)
			return &s->req.addrs[i];
	return NULL;
}

/* Whether s may hold (keep, or adopt from its status) addr. Deliberately
 * does not look at pool validity, serviceAllocation or autoAssign: those
 * govern new addresses only. */
static bool keep_ok(const struct alloc *a, const struct svc *s, const struct ip_addr *addr)
{
	const struct service *sp = s->spec;
	const struct ip_addr *req = requested_addr(sp, addr->family);
	const struct aip *ip = aip_find(a, addr);
	const struct pentry *owner = ip ? ip->owner : owner_of(a, addr);
	char why[128];

	if (sp->req.error)
		return false;
	if (sp->req.naddrs > 0 && (!req || !ip_equal(req, addr)))
		return false;
	if (!owner) {
		/* Outside every pool: kept only while some pool cannot be
		 * read, since it may be in there. */
		if (!a->incomplete)
			return false;
	} else if (sp->req.pool) {
		const struct pentry *want = pool_find(a, sp->req.pool);

		if (!want || !pool_contains(want->pool, addr))
			return false;
	}
	return conflict(ip, s, why, sizeof(why)) == NULL;
}

/* ---- building the decision ---- */

struct outcome {
	enum alloc_error error;
	char *reason; /* owned */
	bool partial; /* an optional family (PreferDualStack) got no address */
};

static void outcome_set(struct outcome *o, enum alloc_error e, char *reason)
{
	if (o->error != ALLOC_OK) {
		free(reason);
		return;
	}
	o->error = reason || e == ALLOC_ERR_NO_MEMORY ? e : ALLOC_ERR_NO_MEMORY;
	o->reason = reason;
}

static int add_note(struct alloc_decision *d, char *note)
{
	char **v;

	if (!note)
		return -ENOMEM;
	v = realloc(d->notes, (d->nnotes + 1) * sizeof(*v));
	if (!v) {
		free(note);
		return -ENOMEM;
	}
	d->notes = v;
	d->notes[d->nnotes++] = note;
	return 0;
}

/* ---- taking addresses ---- */

static const char *svc_name_of(const struct holder *h, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", h->svc->spec->namespace, h->svc->spec->name);
	return buf;
}

/* An explicitly requested address. */
static int take_requested(struct alloc *a, struct svc *s, const struct ip_addr *addr,
			  struct outcome *o)
{
	const struct service *sp = s->spec;
	struct pentry *owner = owner_of(a, addr);
	struct aip *ip = aip_find(a, addr);
	char ipbuf[IP_STRLEN], why[128], who[320];
	struct holder *h;
	int r;

	fmt_ip(addr, ipbuf);
	if (!owner) {
		for (size_t i = 0; i < a->npools; i++) {
			const struct pool *p = a->by_age[i]->pool;

			if (p->avoid_buggy_ips && pool_ip_buggy(addr)) {
				for (size_t j = 0; j < p->nranges; j++)
					if (range_contains(&p->ranges[j].range, addr)) {
						outcome_set(
							o, ALLOC_ERR_NOT_IN_POOL,
							xasprintf("requested address %s ends in .0 "
								  "or .255 and IPAddressPool "
								  "\"%s\" has avoidBuggyIPs",
								  ipbuf, p->name));
						return 0;
					}
			}
		}
		outcome_set(o, ALLOC_ERR_NOT_IN_POOL,
			    xasprintf("requested address %s is not in any IPAddressPool", ipbuf));
		return 0;
	}
	if (sp->req.pool) {
		struct pentry *want = pool_find(a, sp->req.pool);

		if (!want) {
			outcome_set(o, ALLOC_ERR_POOL_MISSING,
				    xasprintf("requested IPAddressPool \"%s\" does not exist",
					      sp->req.pool));
			return 0;
		}
		if (!pool_contains(want->pool, addr)) {
			outcome_set(o, ALLOC_ERR_NOT_IN_REQUESTED_POOL,
				    xasprintf("requested address %s is not in the requested "
					      "IPAddressPool \"%s\"",
					      ipbuf, sp->req.pool));
			return 0;
		}
		if (!pool_valid(want->pool)) {
			outcome_set(o, ALLOC_ERR_POOL_INVALID,
				    xasprintf("requested IPAddressPool \"%s\" is invalid (%s)",
					      sp->req.pool, pool_condition_reason(want->pool)));
			return 0;
		}
	}
	if (!pool_valid(owner->pool)) {
		outcome_set(o, ALLOC_ERR_POOL_INVALID,
			    xasprintf("requested address %s is in IPAddressPool \"%s\", which is "
				      "invalid (%s)",
				      ipbuf, owner->pool->name,
				      pool_condition_reason(owner->pool)));
		return 0;
	}
	if (!serves(a, owner, sp)) {
		outcome_set(o, ALLOC_ERR_POOL_DENIED,
			    xasprintf("requested address %s is in IPAddressPool \"%s\", whose "
				      "serviceAllocation does not include this Service",
				      ipbuf, owner->pool->name));
		return 0;
	}
	h = conflict(ip, s, why, sizeof(why));
	if (h) {
		outcome_set(o, ALLOC_ERR_IN_USE,
			    xasprintf("requested address %s is already used by %s %s (%s)", ipbuf,
				      h->kind == HOLD_LB ? "Service" : "the externalIPs of Service",
				      svc_name_of(h, who, sizeof(who)), why));
		return 0;
	}
	r = hold(a, &s->lb[fam_index(addr->family)], addr);
	if (r < 0)
		outcome_set(o, ALLOC_ERR_NO_MEMORY, NULL);
	return r;
}

/* Compatibility checks one search for a shared address may make: a key
 * used by many Services that cannot share (same ports) would otherwise make
 * every allocation under it linear. Past this, the Service takes a free
 * address instead, which is always allowed. */
#define SHARE_SCAN_MAX 64

/* Among the addresses in use under s's sharing key inside pool pe's
 * entries of family, the lowest that s may join. */
static struct aip *find_shared(const struct alloc *a, const struct svc *s, const struct pentry *pe,
			       int family)
{
	const char *key = s->spec->sharing_key;
	unsigned budget = SHARE_SCAN_MAX;
	char why[128];

	if (!key)
		return NULL;
	for (size_t i = 0; i < pe->pool->nranges; i++) {
		const struct ip_range *r = &pe->pool->ranges[i].range;
		struct share_key k = { key, &r->first };

		if (r->first.family != family)
			continue;
		for (struct rb_node *n = rb_ceiling(&a->shared, &k, share_key_cmp); n;
		     n = rb_next(n)) {
			struct aip *ip = rb_entry(n, struct aip, share_node);

			if (strcmp(ip->key, key) != 0 || ip_cmp(&ip->addr, &r->last) > 0)
				break;
			if (ip->owner != pe)
				continue;
			if (budget-- == 0)
				return NULL;
			if (!conflict(ip, s, why, sizeof(why)))
				return ip;
		}
	}
	return NULL;
}

static int ip_bsearch_cmp(const void *key, const void *elem)
{
	return ip_cmp(key, elem);
}

static bool is_skipped(const struct alloc *a, const struct ip_addr *addr)
{
	return a->nskipped > 0 &&
	       bsearch(addr, a->skipped, a->nskipped, sizeof(*a->skipped), ip_bsearch_cmp);
}

/* The lowest free address of family in pe that automatic assignment may
 * hand out: not in use, and not skipped. Each skipped address costs one
 * more search from the address after it, within the same range. */
static bool pool_first_free(const struct alloc *a, const struct pentry *pe, int family,
			    struct ip_addr *ret)
{
	int fi = fam_index(family);

	for (size_t i = 0; i < pe->pool->nranges; i++) {
		const struct ip_range *r = &pe->pool->ranges[i].range;
		ip_u128 lo, hi, v;
		struct ip_addr cand;

		if (r->first.family != family)
			continue;
		lo = ip_to_u128(&r->first);
		hi = ip_to_u128(&r->last);
		while (runs_first_free(pe, fi, lo, hi, &v)) {
			ip_from_u128(family, v, &cand);
			if (!is_skipped(a, &cand)) {
				*ret = cand;
				return true;
			}
			if (v == hi)
				break;
			lo = v + 1;
		}
	}
	return false;
}

/* Appends item to a list in buf (len bytes, bounded), separated by sep. */
static size_t copy_bounded(char *dst, size_t room, const char *src)
{
	size_t k;

	if (room == 0)
		return 0;
	k = strnlen(src, room - 1);
	memcpy(dst, src, k);
	dst[k] = '\0';
	return k;
}

static void list_append_str(char *buf, size_t len, const char *sep, const char *item)
{
	size_t n = strlen(buf);

	if (n > 0)
		n += copy_bounded(buf + n, len - n, sep);
	copy_bounded(buf + n, len - n, item);
}

/* Why pool pe may not give s an automatic address, or NULL if it may. */
static const char *auto_refusal(const struct alloc *a, const struct pentry *pe,
				const struct service *sp)
{
	if (!pool_valid(pe->pool))
		return "invalid";
	if (!pe->pool->auto_assign)
		return "autoAssign is false";
	if (!serves(a, pe, sp))
		return "serviceAllocation excludes this Service";
	return NULL;
}

/* The reason when no pool gave s an automatic address of family. */
static char *auto_failure(const struct alloc *a, const struct service *sp, int family,
			  enum alloc_error *ret_error)
{
	char tried[256] = "", refused[512] = "", line[300];
	size_t ncand = 0;

	for (size_t i = 0; i < a->npools; i++) {
		const struct pentry *pe = a->by_prio[i];
		const char *no;

		if (!pool_has_family(pe->pool, family))
			continue;
		no = auto_refusal(a, pe, sp);
		if (no) {
			snprintf(line, sizeof(line), "\"%s\": %s", pe->pool->name, no);
			list_append_str(refused, sizeof(refused), "; ", line);
			continue;
		}
		ncand++;
		snprintf(line, sizeof(line), "\"%s\"", pe->pool->name);
		list_append_str(tried, sizeof(tried), ", ", line);
	}
	if (ncand == 0) {
		*ret_error = ALLOC_ERR_NO_POOL;
		return xasprintf("no IPAddressPool may assign an %s address to this Service%s%s%s",
				 fam_name(family), refused[0] ? " (" : "", refused,
				 refused[0] ? ")" : "");
	}
	*ret_error = ALLOC_ERR_EXHAUSTED;
	return xasprintf("no free %s address left in IPAddressPool %s", fam_name(family), tried);
}

/* Takes addr (already checked) for s's family slot. */
static int take(struct alloc *a, struct svc *s, const struct ip_addr *addr, struct outcome *o)
{
	int r = hold(a, &s->lb[fam_index(addr->family)], addr);

	if (r < 0)
		outcome_set(o, ALLOC_ERR_NO_MEMORY, NULL);
	return r;
}

/* A new address of family for s from the pools that may give it one. */
static int take_auto(struct alloc *a, struct svc *s, int family, struct outcome *o)
{
	const struct service *sp = s->spec;
	struct pentry *only = NULL;
	enum alloc_error e;
	char *why;

	if (sp->req.pool) {
		only = pool_find(a, sp->req.pool);
		if (!only) {
			outcome_set(o, ALLOC_ERR_POOL_MISSING,
				    xasprintf("requested IPAddressPool \"%s\" does not exist",
					      sp->req.pool));
			return 0;
		}
		if (!pool_valid(only->pool)) {
			outcome_set(o, ALLOC_ERR_POOL_INVALID,
				    xasprintf("requested IPAddressPool \"%s\" is invalid (%s)",
					      sp->req.pool, pool_condition_reason(only->pool)));
			return 0;
		}
		if (!serves(a, only, sp)) {
			outcome_set(o, ALLOC_ERR_POOL_DENIED,
				    xasprintf("requested IPAddressPool \"%s\" does not serve this "
					      "Service (serviceAllocation)",
					      sp->req.pool));
			return 0;
		}
		if (!pool_has_family(only->pool, family)) {
			outcome_set(o, ALLOC_ERR_WRONG_FAMILY,
				    xasprintf("requested IPAddressPool \"%s\" has no %s addresses",
					      sp->req.pool, fam_name(family)));
			return 0;
		}
	}
	for (size_t i = 0; i < a->npools; i++) {
		struct pentry *pe = a->by_prio[i];
		struct ip_addr addr;
		struct aip *ip;

		if (only ? pe != only
			 : !pool_has_family(pe->pool, family) || auto_refusal(a, pe, sp))
			continue;
		ip = find_shared(a, s, pe, family);
		if (ip)
			return take(a, s, &ip->addr, o);
		/* The lookup cannot return an address in use unless the
		 * accounting is broken (overlap checks cut short by ENOMEM):
		 * then treat the pool as full rather than share by mistake. */
		if (pool_first_free(a, pe, family, &addr) && !aip_find(a, &addr))
			return take(a, s, &addr, o);
	}
	if (only) {
		outcome_set(o, ALLOC_ERR_EXHAUSTED,
			    xasprintf("no free %s address left in IPAddressPool \"%s\"",
				      fam_name(family), only->pool->name));
		return 0;
	}
	why = auto_failure(a, sp, family, &e);
	outcome_set(o, e, why);
	return 0;
}

/* ---- the LoadBalancer part of a decision ---- */

static void release_lb(struct alloc *a, struct svc *s, struct alloc_decision *d)
{
	for (int fi = 0; fi < 2; fi++) {
		if (!s->lb[fi].ip)
			continue;
		if (d && d->nreleased < 2)
			d->released[d->nreleased++] = s->lb[fi].ip->addr;
		unhold(a, &s->lb[fi], false);
	}
}

/* Adopts, for each wanted family without an address, the first address of
 * that family in the Service's status that it may hold. */
static int adopt_status(struct alloc *a, struct svc *s, const struct want *w)
{
	const struct service *sp = s->spec;

	for (unsigned k = 0; k < w->n; k++) {
		int fi = fam_index(w->family[k]);

		if (s->lb[fi].ip)
			continue;
		for (size_t i = 0; i < sp->ningress; i++) {
			const struct service_ingress *in = &sp->ingress[i];

			if (in->addr.family != w->family[k])
				continue;
			if (keep_ok(a, s, &in->addr)) {
				int r = hold(a, &s->lb[fi], &in->addr);

				if (r < 0)
					return r;
			}
			break; /* only the first of a family counts */
		}
	}
	return 0;
}

/* The families s gets addresses for, filtered to the requested ones when
 * addresses are requested one by one. Returns ALLOC_OK, or the error that
 * makes the request impossible whatever the pools hold, with *msg set
 * (malloc'd; NULL on ENOMEM). */
static enum alloc_error effective_want(const struct service *sp, struct want *w, char **msg)
{
	struct want e = { 0 };

	*msg = NULL;
	wanted_families(sp, w);
	if (sp->req.error) {
		*msg = strdup(sp->req.error);
		return ALLOC_ERR_BAD_REQUEST;
	}
	if (sp->req.naddrs == 0)
		return ALLOC_OK;
	for (unsigned i = 0; i < sp->req.naddrs; i++) {
		int f = sp->req.addrs[i].family;
		bool ok = false;

		for (unsigned k = 0; k < w->n; k++)
			ok |= w->family[k] == f;
		if (!ok) {
			*msg = xasprintf("%s asks for an %s address but spec.ipFamilies does not "
					 "include %s",
					 sp->req.addrs_from, fam_name(f), fam_name(f));
			return ALLOC_ERR_WRONG_FAMILY;
		}
	}
	if (sp->family_policy == SERVICE_REQUIRE_DUAL_STACK && sp->req.naddrs < 2) {
		*msg = xasprintf("ipFamilyPolicy RequireDualStack needs one requested address per "
				 "family, but %s has only an %s address",
				 sp->req.addrs_from, fam_name(sp->req.addrs[0].family));
		return ALLOC_ERR_BAD_REQUEST;
	}
	/* Exactly the requested addresses, none allocated besides. */
	for (unsigned k = 0; k < w->n; k++)
		if (requested_addr(sp, w->family[k])) {
			e.family[e.n] = w->family[k];
			e.required[e.n++] = true;
		}
	e.explicit_req = true;
	*w = e;
	return ALLOC_OK;
}

static bool want_has(const struct want *w, int fi)
{
	for (unsigned k = 0; k < w->n; k++)
		if (fam_index(w->family[k]) == fi)
			return true;
	return false;
}

static int decide_lb(struct alloc *a, struct svc *s, struct alloc_decision *d, struct outcome *o)
{
	const struct service *sp = s->spec;
	bool fresh[2] = { false, false };
	enum alloc_error e;
	struct want w;
	char *msg;
	int r;

	e = effective_want(sp, &w, &msg);
	if (e != ALLOC_OK) {
		/* A request that cannot be met leaves the Service without
		 * an address. */
		release_lb(a, s, NULL);
		outcome_set(o, e, msg);
		return 0;
	}
	/* Whatever the Service may no longer hold goes first. */
	for (int fi = 0; fi < 2; fi++)
		if (s->lb[fi].ip && (!want_has(&w, fi) || !keep_ok(a, s, &s->lb[fi].ip->addr)))
			unhold(a, &s->lb[fi], false);
	r = s->fresh ? adopt_status(a, s, &w) : 0;
	s->fresh = false;
	if (r < 0) {
		outcome_set(o, ALLOC_ERR_NO_MEMORY, NULL);
		return r;
	}
	for (unsigned k = 0; k < w.n; k++) {
		int f = w.family[k], fi = fam_index(f);
		struct outcome fo = { 0 };

		if (s->lb[fi].ip)
			continue;
		/* After a required family failed, what this call adds is
		 * rolled back anyway: do not try the optional one. */
		if (o->error != ALLOC_OK && !w.required[k])
			continue;
		if (w.explicit_req)
			r = take_requested(a, s, requested_addr(sp, f), &fo);
		else
			r = take_auto(a, s, f, &fo);
		if (r < 0) {
			free(fo.reason);
			outcome_set(o, ALLOC_ERR_NO_MEMORY, NULL);
			return r;
		}
		if (s->lb[fi].ip) {
			fresh[fi] = true;
			continue;
		}
		if (w.required[k]) {
			outcome_set(o, fo.error, fo.reason);
			continue;
		}
		o->partial = true;
		r = add_note(d, xasprintf("ipFamilyPolicy PreferDualStack: no %s address for now "
					  "(%s)",
					  fam_name(f), fo.reason ? fo.reason : "out of memory"));
		free(fo.reason);
		if (r < 0)
			return r;
	}
	if (o->error != ALLOC_OK) {
		/* All or nothing for what this call added; addresses the
		 * Service already had stay. */
		for (int fi = 0; fi < 2; fi++)
			if (fresh[fi])
				unhold(a, &s->lb[fi], true);
	}
	return 0;
}

/* ---- externalIPs ---- */

static struct holder *ext_find(struct svc *s, const struct ip_addr *addr)
{
	for (struct holder *h = s->ext; h; h = h->svc_next)
		if (h->ip && ip_equal(&h->ip->addr, addr))
			return h;
	return NULL;
}

static void ext_drop(struct alloc *a, struct svc *s, struct holder *h)
{
	for (struct holder **pp = &s->ext; *pp; pp = &(*pp)->svc_next)
		if (*pp == h) {
			*pp = h->svc_next;
			break;
		}
	unhold(a, h, false);
	free(h);
}

static void ext_release_all(struct alloc *a, struct svc *s)
{
	while (s->ext)
		ext_drop(a, s, s->ext);
}

static char *ext_reject(const struct ip_addr *addr, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static char *ext_reject(const struct ip_addr *addr, const char *fmt, ...)
{
	char ipbuf[IP_STRLEN], *tail, *msg;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&tail, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	msg = xasprintf("externalIP %s %s", fmt_ip(addr, ipbuf), tail);
	free(tail);
	return msg;
}

/* Decides one externalIP of s; sets res. Reserves it (holder marked seen)
 * when accepted, evicting younger conflicting reservations. */
static int ext_one(struct alloc *a, struct svc *s, size_t idx, struct alloc_ext_result *res)
{
	const struct ip_addr *addr = &s->spec->external[idx].addr;
	struct pentry *owner;
	struct aip *ip;
	struct holder *h, *mine;
	char why[128], who[320];
	int r;

	res->addr = *addr;
	res->state = ALLOC_EXT_REJECTED;
	if (addr->family == 0) {
		res->reason = xasprintf("spec.externalIPs[%zu] is not an IP address", idx);
		return res->reason ? 0 : -ENOMEM;
	}
	for (size_t j = 0; j < idx; j++)
		if (ip_equal(&s->spec->external[j].addr, addr)) {
			res->state = ALLOC_EXT_IGNORED; /* decided at its first mention */
			return 0;
		}
	ip = aip_find(a, addr);
	owner = ip ? ip->owner : owner_of(a, addr);
	if (!owner) {
		res->state = ALLOC_EXT_IGNORED;
		return 0;
	}
	if (!owner->pool->allow_external_ips) {
		res->reason = ext_reject(addr,
					 "is in IPAddressPool \"%s\", which does not allow "
					 "externalIPs (spec.allowExternalIPs)",
					 owner->pool->name);
		return res->reason ? 0 : -ENOMEM;
	}
	if (!serves(a, owner, s->spec)) {
		res->reason = ext_reject(addr,
					 "is in IPAddressPool \"%s\", whose serviceAllocation "
					 "does not include this Service",
					 owner->pool->name);
		return res->reason ? 0 : -ENOMEM;
	}
	/* LoadBalancer holders are never displaced by an externalIP; younger
	 * reservations are (oldest Service first, whatever the event order). */
	for (h = ip ? ip->holders : NULL; h; h = h->next) {
		if (h->svc == s || compatible(s->spec, h->svc->spec, why, sizeof(why)))
			continue;
		if (h->kind == HOLD_LB || service_cmp_age(h->svc->spec, s->spec) < 0) {
			res->reason =
				ext_reject(addr, "is already used by %s %s (%s)",
					   h->kind == HOLD_LB ? "LoadBalancer Service"
							      : "the externalIPs of the older "
								"Service",
					   svc_name_of(h, who, sizeof(who)), why);
			return res->reason ? 0 : -ENOMEM;
		}
	}
	for (h = ip ? ip->holders : NULL; h;) {
		struct holder *next = h->next;

		if (h->svc != s && !compatible(s->spec, h->svc->spec, why, sizeof(why))) {
			/* A younger reservation loses the address. Others
			 * that failed because of it may fit with s: retry. */
			struct svc *loser = h->svc;

			for (struct holder **pp = &loser->ext; *pp; pp = &(*pp)->svc_next)
				if (*pp == h) {
					*pp = h->svc_next;
					break;
				}
			unhold(a, h, false);
			free(h);
			mark_dirty(a, loser);
		}
		h = next;
	}
	mine = ext_find(s, addr);
	if (!mine) {
		mine = calloc(1, sizeof(*mine));
		if (!mine)
			return -ENOMEM;
		mine->svc = s;
		mine->kind = HOLD_EXT;
		r = hold(a, mine, addr);
		if (r < 0) {
			free(mine);
			return r;
		}
		mine->svc_next = s->ext;
		s->ext = mine;
	}
	mine->seen = true;
	res->state = ALLOC_EXT_ACCEPTED;
	return 0;
}

static int decide_ext(struct alloc *a, struct svc *s, struct alloc_decision *d)
{
	const struct service *sp = s->spec;
	int r = 0;

	if (!ext_handled(a, sp)) {
		ext_release_all(a, s);
		return 0;
	}
	if (d) {
		d->ext = calloc(sp->nexternal, sizeof(d->ext[0]));
		if (!d->ext)
			return -ENOMEM;
		d->next = sp->nexternal;
	}
	for (struct holder *h = s->ext; h; h = h->svc_next)
		h->seen = false;
	for (size_t i = 0; i < sp->nexternal && r == 0; i++) {
		struct alloc_ext_result tmp = { 0 };

		r = ext_one(a, s, i, d ? &d->ext[i] : &tmp);
		free(tmp.reason);
	}
	/* Reservations the Service no longer asks for, or may not keep. */
	for (struct holder *h = s->ext, *next; h; h = next) {
		next = h->svc_next;
		if (!h->seen)
			ext_drop(a, s, h);
	}
	return r;
}

/* ---- one Service, start to end ---- */

static uint64_t hash_mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t hash_str(uint64_t h, const char *s)
{
	return hash_mix(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

static uint64_t decision_hash(const struct alloc_decision *d)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	h = hash_mix(h, &d->handled, sizeof(d->handled));
	for (size_t i = 0; i < d->naddrs; i++) {
		h = hash_mix(h, &d->addrs[i].addr, sizeof(d->addrs[i].addr));
		h = hash_str(h, d->addrs[i].pool);
	}
	h = hash_mix(h, &d->error, sizeof(d->error));
	h = hash_str(h, d->reason);
	for (size_t i = 0; i < d->nnotes; i++)
		h = hash_str(h, d->notes[i]);
	for (size_t i = 0; i < d->next; i++) {
		h = hash_mix(h, &d->ext[i].state, sizeof(d->ext[i].state));
		h = hash_str(h, d->ext[i].reason);
	}
	return h;
}

static int deprecation_notes(const struct service *sp, struct alloc_decision *d)
{
	static const struct {
		unsigned bit;
		const char *key;
	} forms[] = {
		{ SERVICE_DEPRECATED_LB_IPS, SERVICE_ANNOT_LB_IPS },
		{ SERVICE_DEPRECATED_POOL, SERVICE_ANNOT_POOL },
		{ SERVICE_DEPRECATED_SHARED, SERVICE_ANNOT_SHARED },
	};

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		const char *used = service_deprecated_key(sp, forms[i].bit);

		if (used && add_note(d, xasprintf("annotation %s is honoured; ironlb's own form "
						  "is %s",
						  used, forms[i].key)) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Fills the address part of d from what s holds, primary family first
 * (the first of spec.ipFamilies, else IPv4). */
static int fill_addrs(const struct svc *s, struct alloc_decision *d)
{
	struct want w;
	const char *p0, *p1;

	wanted_families(s->spec, &w);
	for (int k = 0; k < 2; k++) {
		int fi = k == 0 ? fam_index(w.family[0]) : 1 - fam_index(w.family[0]);
		const struct aip *ip = s->lb[fi].ip;
		struct alloc_assigned *out;

		if (!ip)
			continue;
		out = &d->addrs[d->naddrs++];
		out->addr = ip->addr;
		out->shared = ip->holders && ip->holders->next;
		if (ip->owner) {
			out->pool = strdup(ip->owner->pool->name);
			if (!out->pool)
				return -ENOMEM;
		}
	}
	p0 = d->naddrs > 0 ? d->addrs[0].pool : NULL;
	p1 = d->naddrs > 1 ? d->addrs[1].pool : NULL;
	if (p0 && p1 && strcmp(p0, p1) != 0)
		d->pool_annotation = xasprintf("%s,%s", p0, p1);
	else if (p0 || p1)
		d->pool_annotation = strdup(p0 ? p0 : p1);
	else
		return 0;
	return d->pool_annotation ? 0 : -ENOMEM;
}

static void svc_destroy(struct alloc *a, struct svc *s)
{
	release_lb(a, s, NULL);
	ext_release_all(a, s);
	list_unlink(a, s);
	rb_remove(&a->svcs, &s->node);
	service_free(s->spec);
	free(s);
}

/* Whether the allocator needs to remember a Service at all. */
static bool worth_keeping(const struct alloc *a, const struct svc *s)
{
	return is_ours(a, s->spec) || ext_handled(a, s->spec) || s->lb[0].ip || s->lb[1].ip ||
	       s->ext;
}

/* Decides for s. Builds *ret when ret is not NULL. May destroy s when it
 * no longer needs remembering (then *ret still describes it). */
static int decide(struct alloc *a, struct svc *s, struct alloc_decision **ret)
{
	const struct service *sp = s->spec;
	struct alloc_decision *d = calloc(1, sizeof(*d));
	struct outcome o = { 0 };
	bool failing = false;
	int r = 0;

	if (!d)
		return -ENOMEM;
	d->namespace = strdup(sp->namespace);
	d->name = strdup(sp->name);
	if (!d->namespace || !d->name) {
		r = -ENOMEM;
		goto out;
	}
	d->handled = is_ours(a, sp);
	if (d->handled) {
		r = decide_lb(a, s, d, &o);
		if (r == 0)
			r = deprecation_notes(sp, d);
	} else {
		release_lb(a, s, d);
		d->clear_status =
			d->nreleased > 0 || (sp->type != SERVICE_LOAD_BALANCER && sp->ningress > 0);
	}
	if (r == 0)
		r = decide_ext(a, s, d);
	if (r == 0)
		r = fill_addrs(s, d);
	if (r < 0)
		goto out;
	d->error = o.error;
	d->reason = o.reason;
	o.reason = NULL;
	failing = d->error != ALLOC_OK || o.partial;
	for (size_t i = 0; i < d->next; i++)
		failing |= d->ext[i].state == ALLOC_EXT_REJECTED;
	{
		uint64_t h = decision_hash(d);

		d->changed = h != s->last_hash || d->clear_status;
		s->last_hash = h;
	}
	if (failing)
		list_append(a, s, LIST_FAILED);
	else
		list_unlink(a, s);
	if (!worth_keeping(a, s))
		svc_destroy(a, s);
out:
	free(o.reason);
	if (r < 0 || !ret) {
		alloc_decision_free(d);
		return r;
	}
	*ret = d;
	return 0;
}

/* ---- public: lifecycle ---- */

struct alloc *alloc_new(const struct alloc_config *cfg)
{
	struct alloc *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->lb_class = strdup(cfg && cfg->lb_class ? cfg->lb_class : "ironlb.io/lb");
	if (!a->lb_class) {
		free(a);
		return NULL;
	}
	a->default_class = cfg ? cfg->default_class : true;
	return a;
}

static void free_svc_node(struct rb_node *n, void *ctx)
{
	struct svc *s = rb_entry(n, struct svc, node);

	for (struct holder *h = s->ext, *next; h; h = next) {
		next = h->svc_next;
		free(h);
	}
	service_free(s->spec);
	free(s);
}

static void free_aip_node(struct rb_node *n, void *ctx)
{
	struct aip *ip = rb_entry(n, struct aip, node);

	free(ip->key);
	free(ip);
}

static void free_pentry(struct pentry *pe)
{
	rb_clear(&pe->runs[0], free_run, NULL);
	rb_clear(&pe->runs[1], free_run, NULL);
	pool_free(pe->pool);
	free(pe);
}

static void free_pentry_node(struct rb_node *n, void *ctx)
{
	free_pentry(rb_entry(n, struct pentry, node));
}

static void free_ns_node(struct rb_node *n, void *ctx)
{
	struct nsentry *e = rb_entry(n, struct nsentry, node);

	free(e->name);
	labels_free(e->labels);
	free(e);
}

void alloc_free(struct alloc *a)
{
	if (!a)
		return;
	rb_clear(&a->svcs, free_svc_node, NULL);
	rb_clear(&a->shared, NULL, NULL);
	rb_clear(&a->ips, free_aip_node, NULL);
	rb_clear(&a->pools, free_pentry_node, NULL);
	rb_clear(&a->namespaces, free_ns_node, NULL);
	free(a->by_age);
	free(a->by_prio);
	free(a->by_name);
	free(a->lb_class);
	free(a->skipped);
	free(a);
}

void alloc_decision_free(struct alloc_decision *d)
{
	if (!d)
		return;
	free(d->namespace);
	free(d->name);
	for (size_t i = 0; i < d->naddrs; i++)
		free(d->addrs[i].pool);
	free(d->pool_annotation);
	free(d->reason);
	for (size_t i = 0; i < d->nnotes; i++)
		free(d->notes[i]);
	free(d->notes);
	for (size_t i = 0; i < d->next; i++)
		free(d->ext[i].reason);
	free(d->ext);
	free(d);
}

/* ---- public: pools ---- */

static void mark_all_dirty(struct alloc *a)
{
	for (struct rb_node *n = rb_first(&a->svcs); n; n = rb_next(n))
		mark_dirty(a, rb_entry(n, struct svc, node));
}

/* After any pool change: orders, overlaps, and the accounting of every
 * address in use to its (possibly new) owner. */
static int pools_changed(struct alloc *a)
{
	size_t n = rb_count(&a->pools), i = 0;
	struct pentry **age = NULL, **prio = NULL, **name = NULL;
	struct pool **plist = NULL;
	int r = 0;

	if (n > 0) {
		age = malloc(n * sizeof(*age));
		prio = malloc(n * sizeof(*prio));
		name = malloc(n * sizeof(*name));
		plist = malloc(n * sizeof(*plist));
		if (!age || !prio || !name || !plist) {
			free(age);
			free(prio);
			free(name);
			free(plist);
			return -ENOMEM;
		}
	}
	a->incomplete = false;
	for (struct rb_node *nd = rb_first(&a->pools); nd; nd = rb_next(nd), i++) {
		struct pentry *pe = rb_entry(nd, struct pentry, node);

		age[i] = prio[i] = name[i] = pe;
		plist[i] = pe->pool;
		a->incomplete |= pe->pool->unparsed;
		rb_clear(&pe->runs[0], free_run, NULL);
		rb_clear(&pe->runs[1], free_run, NULL);
		pe->assigned[0] = pe->assigned[1] = 0;
	}
	if (n > 0) {
		qsort(age, n, sizeof(*age), by_age_cmp);
		qsort(prio, n, sizeof(*prio), by_prio_cmp);
		r = pool_check_overlaps(plist, n);
	}
	free(plist);
	free(a->by_age);
	free(a->by_prio);
	free(a->by_name);
	a->by_age = age;
	a->by_prio = prio;
	a->by_name = name;
	a->npools = n;
	for (struct rb_node *nd = rb_first(&a->ips); nd; nd = rb_next(nd)) {
		struct aip *ip = rb_entry(nd, struct aip, node);

		ip->owner = owner_of(a, &ip->addr);
		if (aip_account(a, ip) < 0)
			r = -ENOMEM;
	}
	mark_all_dirty(a);
	return r;
}

int alloc_pool_set(struct alloc *a, struct pool *p)
{
	struct pentry *old = pool_find(a, p->name), *pe;

	if (old) {
		pool_free(old->pool);
		old->pool = p;
		return pools_changed(a);
	}
	pe = calloc(1, sizeof(*pe));
	if (!pe) {
		pool_free(p);
		return -ENOMEM;
	}
	pe->pool = p;
	rb_insert(&a->pools, &pe->node, pentry_cmp);
	return pools_changed(a);
}

int alloc_pool_delete(struct alloc *a, const char *name)
{
	struct pentry *pe = pool_find(a, name);
	int r;

	if (!pe)
		return -ENOENT;
	rb_remove(&a->pools, &pe->node);
	/* Re-accounting points every address away from pe before it goes. */
	r = pools_changed(a);
	free_pentry(pe);
	return r;
}

const struct pool *alloc_pool_get(const struct alloc *a, const char *name)
{
	struct pentry *pe = pool_find(a, name);

	return pe ? pe->pool : NULL;
}

size_t alloc_pool_count(const struct alloc *a)
{
	return a->npools;
}

const struct pool *alloc_pool_at(const struct alloc *a, size_t i)
{
	return i < a->npools ? a->by_name[i]->pool : NULL;
}

int alloc_pool_counts(const struct alloc *a, const char *name, struct alloc_pool_counts *ret)
{
	struct pentry *pe = pool_find(a, name);
	bool valid;

	if (!pe)
		return -ENOENT;
	valid = pool_valid(pe->pool);
	ret->assigned4 = pe->assigned[FAM4];
	ret->assigned6 = pe->assigned[FAM6];
	ret->available4 = valid ? pe->pool->size4 - pe->assigned[FAM4] : 0;
	ret->available6 = valid ? pe->pool->size6 - pe->assigned[FAM6] : 0;
	return 0;
}

/* Sets status "skippedIPs": the skipped addresses inside pe, sorted, at
 * most ALLOC_SKIPPED_STATUS_MAX; absent when none. 0 or -ENOMEM. */
static int skipped_json(const struct alloc *a, const struct pentry *pe, json_t *st)
{
	json_t *arr = NULL;

	for (size_t i = 0; i < a->nskipped; i++) {
		char buf[IP_STRLEN];

		if (!pool_contains(pe->pool, &a->skipped[i]))
			continue;
		if (!arr && !(arr = json_array())) /* new */
			return -ENOMEM;
		if (json_array_size(arr) == ALLOC_SKIPPED_STATUS_MAX)
			break;
		if (json_array_append_new(arr, json_string(fmt_ip(&a->skipped[i], buf))) < 0) {
			json_decref(arr);
			return -ENOMEM;
		}
	}
	/* json_object_set_new steals arr. */
	if (arr && json_object_set_new(st, "skippedIPs", arr) < 0)
		return -ENOMEM;
	return 0;
}

json_t *alloc_pool_status_json(const struct alloc *a, const char *name)
{
	struct pentry *pe = pool_find(a, name);
	struct alloc_pool_counts c;
	char b4[POOL_COUNT_STRLEN], b6[POOL_COUNT_STRLEN];
	char *msg;
	json_t *st;

	if (!pe || alloc_pool_counts(a, name, &c) < 0)
		return NULL;
	msg = pool_condition_message(pe->pool);
	if (!msg)
		return NULL;
	/* json_pack "o" steals; every value here is new. */
	st = json_pack("{s:I, s:I, s:s, s:s, s:[{s:s, s:s, s:s, s:s, s:I}]}", "assignedIPv4",
		       (json_int_t)c.assigned4, "assignedIPv6", (json_int_t)c.assigned6,
		       "availableIPv4", pool_format_count(c.available4, b4), "availableIPv6",
		       pool_format_count(c.available6, b6), "conditions", "type", "Valid", "status",
		       pool_valid(pe->pool) ? "True" : "False", "reason",
		       pool_condition_reason(pe->pool), "message", msg, "observedGeneration",
		       (json_int_t)pe->pool->generation);
	free(msg);
	/* The address automatic assignment hands out next, per family: the
	 * speakers probe it ahead of time (docs/l2.md, "Probing ahead"). */
	for (int f = 0; st && f < 2 && pool_valid(pe->pool); f++) {
		struct ip_addr next;
		char buf[IP_STRLEN];

		if (pool_first_free(a, pe, fam_of_index(f), &next) && !aip_find(a, &next) &&
		    ip_format(&next, buf, sizeof(buf)))
			json_object_set_new(st, f == FAM4 ? "nextIPv4" : "nextIPv6",
					    json_string(buf));
	}
	if (st && skipped_json(a, pe, st) < 0) {
		json_decref(st);
		return NULL;
	}
	return st;
}

/* ---- public: addresses automatic assignment skips ---- */

static bool skipped_equal(const struct ip_addr *x, const struct ip_addr *y, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!ip_equal(&x[i], &y[i]))
			return false;
	return true;
}

int alloc_set_skipped(struct alloc *a, const struct ip_addr *addrs, size_t n)
{
	struct ip_addr *set = NULL;
	size_t k = 0, w = 0;

	if (n > 0) {
		set = malloc(n * sizeof(*set));
		if (!set)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++)
			if (addrs[i].family == AF_INET || addrs[i].family == AF_INET6)
				set[k++] = addrs[i];
		qsort(set, k, sizeof(*set), ip_bsearch_cmp);
		for (size_t i = 0; i < k; i++)
			if (w == 0 || !ip_equal(&set[i], &set[w - 1]))
				set[w++] = set[i];
		k = w;
	}
	if (k == a->nskipped && skipped_equal(set, a->skipped, k)) {
		free(set);
		return 0;
	}
	free(a->skipped);
	a->skipped = k > 0 ? set : NULL;
	a->nskipped = k;
	if (k == 0)
		free(set);
	/* Nobody loses an address by this, but a Service that found every
	 * pool full may now find one free. */
	a->retry_failed = true;
	return 1;
}

size_t alloc_skipped(const struct alloc *a, const struct ip_addr **ret)
{
	*ret = a->skipped;
	return a->nskipped;
}

/* ---- public: namespaces ---- */

static int nsentry_cmp(const struct rb_node *x, const struct rb_node *y)
{
	return strcmp(rb_entry(x, struct nsentry, node)->name,
		      rb_entry(y, struct nsentry, node)->name);
}

static int nsentry_key_cmp(const void *key, const struct rb_node *n)
{
	return strcmp(key, rb_entry(n, struct nsentry, node)->name);
}

static const struct labels *ns_labels(const struct alloc *a, const char *ns)
{
	struct nsentry *e =
		rb_entry_safe(rb_find(&a->namespaces, ns, nsentry_key_cmp), struct nsentry, node);

	return e ? e->labels : NULL;
}

static void mark_namespace_dirty(struct alloc *a, const char *ns)
{
	struct svc_key k = { ns, "" };

	for (struct rb_node *n = rb_ceiling(&a->svcs, &k, svc_key_cmp); n; n = rb_next(n)) {
		struct svc *s = rb_entry(n, struct svc, node);

		if (strcmp(s->spec->namespace, ns) != 0)
			break;
		mark_dirty(a, s);
	}
}

int alloc_namespace_set(struct alloc *a, const char *name, struct labels *labels)
{
	struct nsentry *e =
		rb_entry_safe(rb_find(&a->namespaces, name, nsentry_key_cmp), struct nsentry, node);

	if (e) {
		bool same = labels_equal(e->labels, labels);

		labels_free(e->labels);
		e->labels = labels;
		if (!same)
			mark_namespace_dirty(a, name);
		return 0;
	}
	e = calloc(1, sizeof(*e));
	if (e)
		e->name = strdup(name);
	if (!e || !e->name) {
		free(e);
		labels_free(labels);
		return -ENOMEM;
	}
	e->labels = labels;
	rb_insert(&a->namespaces, &e->node, nsentry_cmp);
	mark_namespace_dirty(a, name);
	return 0;
}

int alloc_namespace_delete(struct alloc *a, const char *name)
{
	struct nsentry *e =
		rb_entry_safe(rb_find(&a->namespaces, name, nsentry_key_cmp), struct nsentry, node);

	if (!e)
		return -ENOENT;
	rb_remove(&a->namespaces, &e->node);
	free_ns_node(&e->node, NULL);
	mark_namespace_dirty(a, name);
	return 0;
}

/* ---- public: Services ---- */

static struct svc *svc_new(struct alloc *a, struct service *spec)
{
	static const struct alloc_decision nothing;
	struct svc *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	/* A Service the allocator did not remember had nothing decided. */
	s->last_hash = decision_hash(&nothing);
	s->spec = spec;
	s->lb[0].svc = s->lb[1].svc = s;
	s->lb[0].kind = s->lb[1].kind = HOLD_LB;
	rb_insert(&a->svcs, &s->node, svc_cmp);
	return s;
}

static int svc_age_cmp(const void *x, const void *y)
{
	return service_cmp_age((*(struct svc *const *)x)->spec, (*(struct svc *const *)y)->spec);
}

int alloc_restore(struct alloc *a, struct service **svcs, size_t n)
{
	struct svc **order = NULL;
	size_t m = 0;
	int r = 0;

	if (!rb_empty(&a->svcs)) {
		for (size_t i = 0; i < n; i++)
			service_free(svcs[i]);
		return -EBUSY;
	}
	order = n ? malloc(n * sizeof(*order)) : NULL;
	if (n && !order) {
		for (size_t i = 0; i < n; i++)
			service_free(svcs[i]);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct svc *s = svc_find(a, svcs[i]->namespace, svcs[i]->name);

		if (s) {
			/* Listed twice: the later copy wins. */
			service_free(s->spec);
			s->spec = svcs[i];
			continue;
		}
		s = svc_new(a, svcs[i]);
		if (!s) {
			for (size_t j = i; j < n; j++)
				service_free(svcs[j]);
			r = -ENOMEM;
			break;
		}
		order[m++] = s;
	}
	if (m > 0)
		qsort(order, m, sizeof(*order), svc_age_cmp);
	/* Status addresses first, oldest Service first, then externalIPs:
	 * what was handed out before the restart keeps precedence over
	 * reservations, exactly as it had while running. */
	for (size_t i = 0; i < m && r == 0; i++) {
		struct want w;
		char *msg;

		if (!is_ours(a, order[i]->spec))
			continue;
		if (effective_want(order[i]->spec, &w, &msg) == ALLOC_OK)
			r = adopt_status(a, order[i], &w);
		free(msg);
	}
	for (size_t i = 0; i < m && r == 0; i++)
		r = decide_ext(a, order[i], NULL);
	for (size_t i = 0; i < m; i++)
		mark_dirty(a, order[i]);
	free(order);
	return r;
}

/* Whether two versions of a Service share on the same terms. */
static bool sharing_terms_equal(const struct service *a, const struct service *b)
{
	if ((a->sharing_key == NULL) != (b->sharing_key == NULL) ||
	    (a->sharing_key && strcmp(a->sharing_key, b->sharing_key) != 0))
		return false;
	return a->etp_local == b->etp_local && a->selector_hash == b->selector_hash &&
	       a->nports == b->nports &&
	       (a->nports == 0 || memcmp(a->ports, b->ports, a->nports * sizeof(a->ports[0])) == 0);
}

int alloc_assign(struct alloc *a, struct service *svc, struct alloc_decision **ret)
{
	struct svc *s = svc_find(a, svc->namespace, svc->name);

	if (s) {
		bool holds = s->lb[0].ip || s->lb[1].ip || s->ext;
		bool same = sharing_terms_equal(s->spec, svc);

		service_free(s->spec);
		s->spec = svc;
		/* Its sharing terms changed: Services that failed because of
		 * it get another chance (a status echo changes nothing). */
		if (holds && !same) {
			a->retry_failed = true;
			for (int fi = 0; fi < 2; fi++)
				if (s->lb[fi].ip)
					aip_reindex(a, s->lb[fi].ip);
			for (struct holder *h = s->ext; h; h = h->svc_next)
				aip_reindex(a, h->ip);
		}
	} else {
		s = svc_new(a, svc);
		if (!s) {
			service_free(svc);
			return -ENOMEM;
		}
		s->fresh = true;
	}
	list_unlink(a, s);
	return decide(a, s, ret);
}

int alloc_release(struct alloc *a, const char *ns, const char *name)
{
	struct svc *s = svc_find(a, ns, name);

	if (!s)
		return -ENOENT;
	svc_destroy(a, s);
	return 0;
}

int alloc_next_dirty(struct alloc *a, struct alloc_decision **ret)
{
	struct svc *s = a->dirty.head;
	int r;

	if (!s && a->retry_failed) {
		/* Something was freed or changed: every failed Service tries
		 * again, once. */
		a->retry_failed = false;
		while (a->failed.head)
			list_append(a, a->failed.head, LIST_DIRTY);
		s = a->dirty.head;
	}
	if (!s)
		return 0;
	list_unlink(a, s);
	r = decide(a, s, ret);
	return r < 0 ? r : 1;
}

int alloc_service_addrs(const struct alloc *a, const char *ns, const char *name,
			struct ip_addr ret[2], size_t *ret_n)
{
	struct svc *s = svc_find(a, ns, name);
	struct want w;
	size_t n = 0;

	if (!s)
		return -ENOENT;
	wanted_families(s->spec, &w);
	for (int k = 0; k < 2; k++) {
		int fi = k == 0 ? fam_index(w.family[0]) : 1 - fam_index(w.family[0]);

		if (s->lb[fi].ip)
			ret[n++] = s->lb[fi].ip->addr;
	}
	*ret_n = n;
	return 0;
}

const struct service *alloc_service_get(const struct alloc *a, const char *ns, const char *name)
{
	struct svc *s = svc_find(a, ns, name);

	return s ? s->spec : NULL;
}

size_t alloc_service_count(const struct alloc *a)
{
	return rb_count(&a->svcs);
}

/* ---- self-check for tests ---- */

static int check_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int check_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static ip_u128 run_usable(ip_u128 lo, ip_u128 hi, bool avoid)
{
	ip_u128 n = hi - lo + 1;

	if (avoid)
		for (unsigned rem = 0; rem <= 255; rem += 255) {
			ip_u128 upto_hi = hi / 256 + ((unsigned)(hi % 256) >= rem);
			ip_u128 upto_lo =
				lo == 0 ? 0 : (lo - 1) / 256 + ((unsigned)((lo - 1) % 256) >= rem);

			n -= upto_hi - upto_lo;
		}
	return n;
}

static int check_runs(const struct pentry *pe, int fi, char *err, size_t errlen)
{
	const struct rb_tree *t = &pe->runs[fi];
	bool avoid = pe_avoid(pe, fi);
	ip_u128 total = 0, max = fam_max(fam_of_index(fi));
	const struct run *prev = NULL;

	if (rb_validate(t, run_cmp) < 0)
		return check_fail(err, errlen, "pool %s: runs tree broken", pe->pool->name);
	for (const struct rb_node *n = rb_first(t); n; n = rb_next(n)) {
		const struct run *r = rb_entry(n, struct run, node);
		ip_u128 s;

		if (r->lo > r->hi || (avoid && (buggy_u(r->lo) || buggy_u(r->hi))))
			return check_fail(err, errlen, "pool %s: bad run", pe->pool->name);
		if (prev && (prev->hi >= r->lo || (succ(prev->hi, max, avoid, &s) && s == r->lo)))
			return check_fail(err, errlen, "pool %s: runs not disjoint and maximal",
					  pe->pool->name);
		total += run_usable(r->lo, r->hi, avoid);
		prev = r;
	}
	if (total != pe->assigned[fi])
		return check_fail(err, errlen, "pool %s: runs hold %llu addresses, count says %llu",
				  pe->pool->name, (unsigned long long)total,
				  (unsigned long long)pe->assigned[fi]);
	return 0;
}

int alloc_check(const struct alloc *a, char *err, size_t errlen)
{
	char ipbuf[IP_STRLEN], why[128];
	size_t nshared = 0;

	if (rb_validate(&a->svcs, svc_cmp) < 0 || rb_validate(&a->ips, aip_cmp) < 0 ||
	    rb_validate(&a->shared, share_cmp) < 0 || rb_validate(&a->pools, pentry_cmp) < 0)
		return check_fail(err, errlen, "a tree is broken");
	for (size_t i = 0; i < a->npools; i++)
		for (int fi = 0; fi < 2; fi++)
			if (check_runs(a->by_age[i], fi, err, errlen) < 0)
				return -EINVAL;
	for (const struct rb_node *n = rb_first(&a->ips); n; n = rb_next(n)) {
		const struct aip *ip = rb_entry(n, struct aip, node);
		const char *key = ip->holders ? ip->holders->svc->spec->sharing_key : NULL;

		fmt_ip(&ip->addr, ipbuf);
		if (!ip->holders)
			return check_fail(err, errlen, "%s: in use by nobody", ipbuf);
		if (ip->owner != owner_of(a, &ip->addr))
			return check_fail(err, errlen, "%s: accounted to the wrong pool", ipbuf);
		if (ip->owner) {
			ip_u128 v = ip_to_u128(&ip->addr);
			const struct run *r =
				rb_entry_safe(rb_floor(&ip->owner->runs[fam_index(ip->addr.family)],
						       &v, run_key_cmp),
					      struct run, node);

			if (!r || r->hi < v)
				return check_fail(err, errlen, "%s: not in its pool's runs", ipbuf);
		}
		if ((key == NULL) != (ip->key == NULL) || (key && strcmp(key, ip->key) != 0))
			return check_fail(err, errlen, "%s: indexed under the wrong key", ipbuf);
		nshared += ip->key != NULL;
		for (const struct holder *h = ip->holders; h; h = h->next) {
			if (h->ip != ip)
				return check_fail(err, errlen, "%s: holder points elsewhere",
						  ipbuf);
			for (const struct holder *g = h->next; g; g = g->next)
				if (g->svc != h->svc &&
				    !compatible(h->svc->spec, g->svc->spec, why, sizeof(why)))
					return check_fail(
						err, errlen, "%s: held by %s/%s and %s/%s: %s",
						ipbuf, h->svc->spec->namespace, h->svc->spec->name,
						g->svc->spec->namespace, g->svc->spec->name, why);
		}
	}
	if (nshared != rb_count(&a->shared))
		return check_fail(err, errlen, "sharing index has stale entries");
	for (const struct rb_node *n = rb_first(&a->svcs); n; n = rb_next(n)) {
		const struct svc *s = rb_entry(n, struct svc, node);

		for (int fi = 0; fi < 2; fi++) {
			bool found = false;

			if (!s->lb[fi].ip)
				continue;
			if (s->lb[fi].ip->addr.family != fam_of_index(fi))
				return check_fail(err, errlen, "%s/%s: address in the wrong slot",
						  s->spec->namespace, s->spec->name);
			for (const struct holder *h = s->lb[fi].ip->holders; h; h = h->next)
				found |= h == &s->lb[fi];
			if (!found)
				return check_fail(err, errlen, "%s/%s: holder not linked",
						  s->spec->namespace, s->spec->name);
		}
	}
	if (a->oom)
		return check_fail(err, errlen, "ran out of memory on the way");
	return 0;
}
