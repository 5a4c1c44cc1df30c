/* The L2 decision (see reconcile.h). */
#include "reconcile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "election.h"

const char *reconcile_role_str(enum reconcile_role r)
{
	switch (r) {
	case RECONCILE_OWNER:
		return "owner";
	case RECONCILE_BACKUP:
		return "backup";
	case RECONCILE_INELIGIBLE:
		return "ineligible";
	case RECONCILE_NOT_HANDLED:
		return "not-handled";
	}
	return "unknown";
}

struct ep_facts {
	const struct reconcile_input *in;
	bool serving;
	bool *ready_on; /* per node index */
};

static void ep_scan(const struct obj_slice *s, void *arg)
{
	struct ep_facts *f = arg;

	for (size_t i = 0; i < s->n_eps; i++) {
		const struct obj_endpoint *e = &s->eps[i];

		if (e->serving)
			f->serving = true;
		if (!e->ready || !e->node)
			continue;
		for (size_t j = 0; j < f->in->n_nodes; j++)
			if (strcmp(f->in->nodes[j]->name, e->node) == 0)
				f->ready_on[j] = true;
	}
}

static const struct obj_pool *pool_for(const struct reconcile_input *in, const struct ip_addr *a)
{
	for (size_t i = 0; i < in->n_pools; i++)
		if (obj_pool_contains(in->pools[i], a))
			return in->pools[i];
	return NULL;
}

static int addr_cmp(const void *x, const void *y)
{
	return ip_cmp(&((const struct reconcile_addr *)x)->addr,
		      &((const struct reconcile_addr *)y)->addr);
}

/* Scratch space shared by every address of one run. */
struct scratch {
	struct eligibility_node *en;
	struct eligibility_advert *adv; /* n_nodes * n_adverts */
	size_t *idx;
	const char **names;
	bool *ready_on;
	const struct obj_l2adv **sel; /* adverts selecting the pool */
	struct reconcile_result *res; /* its ifnames grow as owners need */
	size_t cap_ifnames;
	bool oom;
};

static void add_ifname(struct scratch *sc, struct reconcile_addr *out, const char *name)
{
	struct reconcile_result *r = sc->res;

	if (out->n_ifnames >= RECONCILE_MAX_IFNAMES || r->n_ifnames >= UINT32_MAX)
		return;
	if (r->n_ifnames == sc->cap_ifnames) {
		size_t cap = sc->cap_ifnames ? 2 * sc->cap_ifnames : 16;
		const char **p = realloc(r->ifnames, cap * sizeof(*p));

		if (!p) {
			sc->oom = true;
			return;
		}
		r->ifnames = p;
		sc->cap_ifnames = cap;
	}
	if (!out->n_ifnames)
		out->ifname_off = (uint32_t)r->n_ifnames;
	r->ifnames[r->n_ifnames++] = name;
	out->n_ifnames++;
}

/* svc NULL: a pool's next address, held by no Service yet; decided as for a
 * Service with traffic policy Cluster and a serving endpoint, the
 * conditions under which the Service that gets it is owned alike. */
static void decide(const struct reconcile_input *in, struct scratch *sc,
		   const struct obj_service *svc, const struct ip_addr *a, bool external,
		   struct reconcile_addr *out)
{
	const struct obj_pool *pool = pool_for(in, a);
	struct eligibility_service es = { .traffic_policy_local = svc && svc->local,
					  .ignore_exclude_lb = in->ignore_exclude_lb };
	struct ep_facts f = { .in = in, .ready_on = sc->ready_on };
	size_t i, j, n_sel = 0, n_elig, n_alive = 0, self_i = SIZE_MAX;
	enum eligibility_reason self_reason = ELIGIBILITY_OK;

	memset(out, 0, sizeof(*out));
	out->addr = *a;
	out->svc = svc;
	if (!pool || (external && !pool->allow_external)) {
		out->role = RECONCILE_NOT_HANDLED;
		out->note = external ? "externalIP outside every pool with allowExternalIPs"
				     : "address in no IPAddressPool";
		return;
	}
	for (i = 0; i < in->n_adverts; i++)
		if (obj_l2adv_selects_pool(in->adverts[i], pool))
			sc->sel[n_sel++] = in->adverts[i];
	memset(sc->ready_on, 0, in->n_nodes * sizeof(bool));
	if (svc && in->foreach_slice)
		in->foreach_slice(in->ud, svc->ns, svc->name, ep_scan, &f);
	es.has_serving_endpoint = !svc || f.serving;

	for (i = 0; i < in->n_nodes; i++) {
		const struct obj_node *n = in->nodes[i];
		bool self = strcmp(n->name, in->self) == 0;
		struct eligibility_advert *adv = sc->adv + i * (in->n_adverts ? in->n_adverts : 1);

		/* Asked at most once per node and address, and only when an
		 * advertisement naming no interfaces selects the node. */
		int can = -1;

		for (j = 0; j < n_sel; j++) {
			const struct obj_l2adv *ad = sc->sel[j];
			bool ok, selected = obj_l2adv_selects_node(ad, n);

			if (!ad->n_ifnames) {
				/* The subnet's link: the node must have a usable one. */
				if (can < 0 && selected)
					can = !in->can_announce ||
					      in->can_announce(in->ud, n->name, a);
				ok = can != 0;
			} else {
				/* Named interfaces: known for this node only. */
				ok = !self || !in->iface_ok;
				for (size_t k = 0; !ok && k < ad->n_ifnames; k++)
					ok = in->iface_ok(in->ud, ad->ifnames[k]);
			}
			adv[j].node_selected = selected;
			adv[j].interface_ok = ok;
		}
		sc->en[i] = (struct eligibility_node){
			.name = n->name,
			.exclude_label = n->exclude,
			.network_unavailable = n->network_unavailable,
			.has_ready_local_endpoint = sc->ready_on[i],
			.adverts = adv,
			.n_adverts = n_sel,
		};
		if (self) {
			self_i = i;
			self_reason = eligibility_check(&es, &sc->en[i]);
		}
	}
	n_elig = eligibility_select(&es, sc->en, in->n_nodes, sc->idx);
	for (i = 0; i < n_elig; i++) {
		const char *name = in->nodes[sc->idx[i]]->name;

		if (sc->idx[i] == self_i || (in->alive && in->alive(in->ud, name)))
			sc->names[n_alive++] = name;
	}
	if (n_alive) {
		int o = election_owner(a, sc->names, n_alive);

		out->owner = sc->names[o];
	}
	if (self_i == SIZE_MAX || self_reason != ELIGIBILITY_OK) {
		out->role = RECONCILE_INELIGIBLE;
		/* A node missing from the API has no Node object to check. */
		out->reason = self_i == SIZE_MAX ? ELIGIBILITY_NODE_NOT_SELECTED : self_reason;
		return;
	}
	if (out->owner && strcmp(out->owner, in->self) == 0) {
		out->role = RECONCILE_OWNER;
		out->probe = !(in->announced && in->announced(in->ud, a));
		/* The interfaces named by the advertisements selecting this node
		 * that it can announce through; if one of them names none, the
		 * subnet's link. */
		const struct eligibility_advert *self_adv = sc->en[self_i].adverts;

		for (j = 0; j < n_sel; j++) {
			const struct obj_l2adv *ad = sc->sel[j];

			if (!self_adv[j].node_selected || !self_adv[j].interface_ok)
				continue;
			if (!ad->n_ifnames) {
				out->n_ifnames = 0;
				break;
			}
			/* Contiguous: this address's names are the last added. */
			for (size_t k = 0; k < ad->n_ifnames; k++)
				add_ifname(sc, out, ad->ifnames[k]);
		}
		return;
	}
	out->role = RECONCILE_BACKUP;
	out->backup_pos = (uint32_t)election_position(a, sc->names, n_alive, in->self);
}

/* Adds a to res->ahead if no Service holds it, it is not there yet and this
 * node would own it. False when res->ahead is full or out of memory. */
static bool ahead_add(const struct reconcile_input *in, struct scratch *sc,
		      struct reconcile_result *res, const struct ip_addr *a)
{
	struct reconcile_addr ra;

	if (res->n_ahead == RECONCILE_MAX_AHEAD)
		return false;
	if (reconcile_find(res, a))
		return true;
	for (size_t j = 0; j < res->n_ahead; j++)
		if (ip_equal(&res->ahead[j].addr, a))
			return true;
	decide(in, sc, NULL, a, false, &ra);
	if (ra.role != RECONCILE_OWNER)
		return true;
	if (!res->ahead) {
		res->ahead = calloc(RECONCILE_MAX_AHEAD, sizeof(*res->ahead));
		if (!res->ahead) {
			sc->oom = true;
			return false;
		}
	}
	ra.probe = true;
	res->ahead[res->n_ahead++] = ra;
	return true;
}

/* The pools' next addresses, then the ones kept (in->keep_ahead), that no
 * Service holds and this node would own: res->ahead, sorted and distinct,
 * at most RECONCILE_MAX_AHEAD. */
static void decide_ahead(const struct reconcile_input *in, struct scratch *sc,
			 struct reconcile_result *res)
{
	for (size_t i = 0; i < in->n_pools; i++) {
		const struct obj_pool *p = in->pools[i];

		for (size_t k = 0; k < p->n_next; k++)
			if (!ahead_add(in, sc, res, &p->next[k]))
				goto sort;
	}
	for (size_t i = 0; i < in->n_keep_ahead; i++)
		if (!ahead_add(in, sc, res, &in->keep_ahead[i]))
			break;
sort:
	if (res->n_ahead)
		qsort(res->ahead, res->n_ahead, sizeof(*res->ahead), addr_cmp);
}

int reconcile_run(const struct reconcile_input *in, struct reconcile_result *ret)
{
	struct scratch sc = { 0 };
	struct reconcile_result res = { 0 };
	size_t i, k, cap = 0, nn = in->n_nodes ? in->n_nodes : 1,
		     na = in->n_adverts ? in->n_adverts : 1;

	for (i = 0; i < in->n_services; i++)
		cap += in->services[i]->n_ingress + in->services[i]->n_external;
	sc.en = calloc(nn, sizeof(*sc.en));
	sc.adv = calloc(nn * na, sizeof(*sc.adv));
	sc.idx = calloc(nn, sizeof(*sc.idx));
	sc.names = calloc(nn, sizeof(*sc.names));
	sc.ready_on = calloc(nn, sizeof(*sc.ready_on));
	sc.sel = calloc(na, sizeof(*sc.sel));
	res.addrs = calloc(cap ? cap : 1, sizeof(*res.addrs));
	sc.res = &res;
	if (!sc.en || !sc.adv || !sc.idx || !sc.names || !sc.ready_on || !sc.sel || !res.addrs) {
		free(res.addrs);
		res.addrs = NULL;
		goto out;
	}
	for (i = 0; i < in->n_services; i++) {
		const struct obj_service *s = in->services[i];

		for (k = 0; k < s->n_ingress; k++)
			decide(in, &sc, s, &s->ingress[k], false, &res.addrs[res.n++]);
		for (k = 0; k < s->n_external; k++)
			decide(in, &sc, s, &s->external[k], true, &res.addrs[res.n++]);
	}
	qsort(res.addrs, res.n, sizeof(*res.addrs), addr_cmp);
	/* One address, two Services (shared IP, or an externalIP that is also
	 * an ingress): keep the first decision that announces, else the first. */
	for (i = 0, k = 0; i < res.n; i++) {
		if (k && ip_equal(&res.addrs[k - 1].addr, &res.addrs[i].addr)) {
			if (res.addrs[k - 1].role == RECONCILE_NOT_HANDLED)
				res.addrs[k - 1] = res.addrs[i];
			continue;
		}
		res.addrs[k++] = res.addrs[i];
	}
	res.n = k;
	decide_ahead(in, &sc, &res);
	if (sc.oom) {
		reconcile_result_clear(&res);
		goto out;
	}
	for (i = 0; i < res.n; i++)
		if (res.addrs[i].role == RECONCILE_OWNER)
			res.n_owned++;
out:
	free(sc.en);
	free(sc.adv);
	free(sc.idx);
	free(sc.names);
	free(sc.ready_on);
	free(sc.sel);
	if (!res.addrs)
		return -ENOMEM;
	*ret = res;
	return 0;
}

void reconcile_result_clear(struct reconcile_result *r)
{
	free(r->addrs);
	free(r->ahead);
	free(r->ifnames);
	memset(r, 0, sizeof(*r));
}

const struct reconcile_addr *reconcile_find(const struct reconcile_result *r,
					    const struct ip_addr *a)
{
	struct reconcile_addr key = { .addr = *a };

	return r->n ? bsearch(&key, r->addrs, r->n, sizeof(key), addr_cmp) : NULL;
}

const struct reconcile_addr *reconcile_walk(const struct reconcile_result *r, size_t *pos,
					    const struct ip_addr *a)
{
	int c = 1;

	while (*pos < r->n && (c = ip_cmp(&r->addrs[*pos].addr, a)) < 0)
		(*pos)++;
	return *pos < r->n && c == 0 ? &r->addrs[*pos] : NULL;
}
