/* BGP mode inside the speaker: informers, decision, actuator (see
 * speaker_bgp.h). */
#include "speaker_bgp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ironlb/bgp_objects.h"
#include "ironlb/informer.h"
#include "ironlb/kube_resource.h"
#include "ironlb/log.h"
#include "ironlb/loop.h"
#include "ironlb/metrics.h"

#include "bgp.h"

#define COMP "bgp"
/* scan time of BIRD's kernel protocols, seconds */
#define SPEAKER_BGP_KERNEL_SCAN_S 10

enum { BI_PEER, BI_ADV, BI_BFD, BI_SECRET, BI_MAX };

/* What status needs of the last pass, copied (the result borrows strings
 * from informer items that a watch event may free). */
struct addr_info {
	struct ip_addr addr;
	char *service;		  /* "ns/name" */
	const char *why, *why_id; /* static */
	bool advertised;
	uint32_t first_policy; /* the first policy (index into policy_names) */
	uint32_t n_policies;
};

struct peer_info {
	char *name;
	char addr[IP_STRLEN];
	const char *state; /* static token */
	const char *state_text;
};

struct speaker_bgp {
	/* First member: the informers hand this to the BGP decoders as their
	 * struct bgp_decode_ctx. */
	struct bgp_decode_ctx dctx;
	struct speaker_bgp_opts o;
	char *ns, *node;
	struct loop *loop;
	struct bgp *bgp;
	struct informer *inf[BI_MAX];
	uint32_t table_base, table_count;
	const void **arr[BI_MAX];
	size_t n_arr[BI_MAX];
	/* the last pass */
	struct addr_info *addrs;
	size_t n_addrs;
	char **policy_names; /* advert name per policy index */
	size_t n_policy_names;
	struct peer_info *peers;
	size_t n_peers;
	size_t n_adverts_dropped;
	size_t n_used_peers; /* peers in this node's BIRD configuration */
	struct log_ratelimit rl;
};

static bool rl_ok(struct speaker_bgp *b)
{
	unsigned suppressed;

	return log_ratelimit_ok(&b->rl, loop_now_us(), &suppressed);
}

/* ---- informers ---- */

static void changed(struct speaker_bgp *b)
{
	if (b->o.changed)
		b->o.changed(b->o.ud);
}

static void on_add(struct informer *inf, const char *key, void *item, void *ud)
{
	(void)inf, (void)key, (void)item;
	changed(ud);
}

static void on_update(struct informer *inf, const char *key, void *o, void *n, void *ud)
{
	(void)inf, (void)key, (void)o, (void)n;
	changed(ud);
}

static void on_delete(struct informer *inf, const char *key, void *o, void *ud)
{
	(void)inf, (void)key, (void)o;
	changed(ud);
}

static void on_synced(struct informer *inf, void *ud)
{
	(void)inf;
	changed(ud);
}

static void on_error(struct informer *inf, const struct informer_error *e, void *ud)
{
	struct speaker_bgp *b = ud;

	(void)inf;
	if (e->kind == INFORMER_ERR_DECODE) {
		/* The controller reports invalid objects on the object itself;
		 * here they are ignored. */
		if (rl_ok(b))
			log_warn(COMP, "invalid object ignored", LF_STR("resource", e->resource),
				 LF_STR("key", e->key), LF_STR("why", e->message));
		return;
	}
	if (e->kind == INFORMER_ERR_EXPIRED)
		return;
	log_warn(COMP, "list/watch failed", LF_STR("resource", e->resource),
		 LF_INT("code", e->code), LF_STR("message", e->message),
		 LF_UINT("retry_ms", e->retry_in_us / 1000));
}

/* A router id before anything is known: the configured one, else a
 * stable 32-bit value from the node name (a router id is an identifier,
 * not an address; peers' routerID or the Node's IPv4 replace it). */
static struct ip_addr fallback_router_id(const char *node)
{
	struct ip_addr a = { .family = AF_INET };
	uint32_t h = 2166136261u;

	for (const char *p = node; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	if (!h || h == UINT32_MAX)
		h = 1;
	a.bytes[0] = (uint8_t)(h >> 24);
	a.bytes[1] = (uint8_t)(h >> 16);
	a.bytes[2] = (uint8_t)(h >> 8);
	a.bytes[3] = (uint8_t)h;
	return a;
}

struct speaker_bgp *speaker_bgp_new(struct loop *l, struct metrics *m, struct kube_client *c,
				    const struct speaker_bgp_opts *o)
{
	static const struct {
		const struct kube_resource *res;
		informer_decode_fn decode;
		informer_free_fn free_item;
	} kinds[BI_MAX] = {
		[BI_PEER] = { &KUBE_BGPPEERS, bgp_peer_decode, bgp_peer_free },
		[BI_ADV] = { &KUBE_BGPADVERTISEMENTS, bgp_advert_decode, bgp_advert_free },
		[BI_BFD] = { &KUBE_BFDPROFILES, bgp_bfd_decode, bgp_bfd_free },
		[BI_SECRET] = { &KUBE_SECRETS, bgp_secret_decode, bgp_secret_free },
	};
	struct speaker_bgp *b = calloc(1, sizeof(*b));
	struct bird_conf_input initial = { 0 };
	struct bgp_cfg cfg = { 0 };

	if (!b)
		return NULL;
	b->o = *o;
	b->loop = l;
	b->ns = strdup(o->ns);
	b->node = strdup(o->node_name);
	b->table_base = o->table_base ? o->table_base : BGP_DEFAULT_TABLE_BASE;
	b->table_count = o->table_count ? o->table_count : BGP_DEFAULT_TABLE_COUNT;
	b->rl = (struct log_ratelimit){ .interval_us = 10000000, .burst = 20 };
	if (!b->ns || !b->node)
		goto fail;
	b->o.ns = b->ns;
	b->o.node_name = b->node;
	b->dctx.namespace = b->ns;
	initial.node_name = b->node;
	initial.router_id = o->initial_router_id.family == AF_INET ? o->initial_router_id
								   : fallback_router_id(b->node);
	cfg.bird_config = o->bird_config;
	cfg.bird_socket = o->bird_socket;
	cfg.table_base = b->table_base;
	cfg.table_count = b->table_count;
	cfg.initial = &initial;
	b->bgp = bgp_new(l, m, &cfg);
	if (!b->bgp)
		goto fail;
	for (size_t k = 0; k < BI_MAX; k++) {
		struct informer_opts io = {
			.res = kinds[k].res,
			.ns = b->ns,
			.decode = kinds[k].decode,
			.free_item = kinds[k].free_item,
			.on_add = on_add,
			.on_update = on_update,
			.on_delete = on_delete,
			.on_synced = on_synced,
			.on_error = on_error,
			.userdata = b,
		};

		b->inf[k] = informer_new(c, l, &io);
		if (!b->inf[k])
			goto fail;
	}
	return b;
fail:
	log_error(COMP, "cannot set up BGP mode");
	speaker_bgp_free(b);
	return NULL;
}

int speaker_bgp_start(struct speaker_bgp *b)
{
	for (size_t k = 0; k < BI_MAX; k++) {
		int r = informer_start(b->inf[k]);

		if (r < 0)
			return r;
	}
	return 0;
}

bool speaker_bgp_synced(const struct speaker_bgp *b)
{
	for (size_t k = 0; k < BI_MAX; k++)
		if (!informer_synced(b->inf[k]))
			return false;
	return true;
}

static void last_clear(struct speaker_bgp *b)
{
	for (size_t i = 0; i < b->n_addrs; i++)
		free(b->addrs[i].service);
	free(b->addrs);
	b->addrs = NULL;
	b->n_addrs = 0;
	for (size_t i = 0; i < b->n_policy_names; i++)
		free(b->policy_names[i]);
	free(b->policy_names);
	b->policy_names = NULL;
	b->n_policy_names = 0;
	for (size_t i = 0; i < b->n_peers; i++)
		free(b->peers[i].name);
	free(b->peers);
	b->peers = NULL;
	b->n_peers = 0;
}

void speaker_bgp_free(struct speaker_bgp *b)
{
	if (!b)
		return;
	for (size_t k = 0; k < BI_MAX; k++) {
		informer_free(b->inf[k]);
		free(b->arr[k]);
	}
	bgp_free(b->bgp);
	last_clear(b);
	free(b->ns);
	free(b->node);
	free(b);
}

/* ---- the pass ---- */

static int collect(const char *key, void *item, void *ud)
{
	struct speaker_bgp *b = ((void **)ud)[0];
	size_t k = (size_t)((void **)ud)[1];

	(void)key;
	b->arr[k][b->n_arr[k]++] = item;
	return 0;
}

static int by_advert_name(const void *x, const void *y)
{
	const struct bgp_advert *a = *(const struct bgp_advert *const *)x;
	const struct bgp_advert *c = *(const struct bgp_advert *const *)y;

	return strcmp(a->name, c->name);
}

static int collect_all(struct speaker_bgp *b)
{
	for (size_t k = 0; k < BI_MAX; k++) {
		size_t n = informer_count(b->inf[k]);
		const void **a = realloc(b->arr[k], (n ? n : 1) * sizeof(*a));
		void *ud[2] = { b, (void *)k };

		if (!a)
			return -ENOMEM;
		b->arr[k] = a;
		b->n_arr[k] = 0;
		informer_foreach(b->inf[k], collect, ud);
	}
	qsort(b->arr[BI_ADV], b->n_arr[BI_ADV], sizeof(void *), by_advert_name);
	/* One kernel table per advertisement: those beyond the range wait. */
	b->n_adverts_dropped = 0;
	if (b->n_arr[BI_ADV] > b->table_count) {
		b->n_adverts_dropped = b->n_arr[BI_ADV] - b->table_count;
		b->n_arr[BI_ADV] = b->table_count;
		if (rl_ok(b))
			log_warn(COMP,
				 "more BGPAdvertisements than kernel tables; ignoring the last",
				 LF_UINT("tables", b->table_count),
				 LF_UINT("ignored", b->n_adverts_dropped));
	}
	return 0;
}

/* Whether name is "ns/name" of svc. */
static bool same_service(const char *name, const struct obj_service *svc)
{
	size_t n = strlen(svc->ns);

	return name && strncmp(name, svc->ns, n) == 0 && name[n] == '/' &&
	       strcmp(name + n + 1, svc->name) == 0;
}

static int remember(struct speaker_bgp *b, const struct bgp_policy_result *res,
		    const struct bgp_node_config *nc, const struct bgp_policy_input *in)
{
	struct addr_info *addrs = calloc(res->n_addrs ? res->n_addrs : 1, sizeof(*addrs));
	char **names = calloc(in->n_adverts ? in->n_adverts : 1, sizeof(*names));
	struct peer_info *peers = calloc(nc->n_all ? nc->n_all : 1, sizeof(*peers));
	size_t *from = calloc(res->n_addrs ? res->n_addrs : 1, sizeof(*from));
	size_t i, j;

	if (!addrs || !names || !peers || !from)
		goto nomem;
	for (i = 0; i < res->n_addrs; i++)
		from[i] = SIZE_MAX;
	for (i = 0; i < in->n_adverts; i++)
		if (!(names[i] = strdup(in->adverts[i]->name)))
			goto nomem;
	for (i = 0; i < nc->n_all; i++) {
		peers[i].name = strdup(nc->all[i].peer->name);
		if (!peers[i].name)
			goto nomem;
		ip_format(&nc->all[i].peer->peer_addr, peers[i].addr, sizeof(peers[i].addr));
		peers[i].state = bgp_peer_state_id(nc->all[i].state);
		peers[i].state_text = bgp_peer_state_str(nc->all[i].state);
	}
	/* The Service names of the last pass are kept where address and
	 * Service are the same (both lists are sorted by address): no copy
	 * of every name on every pass. from[i]: the entry of the last pass
	 * whose name addrs[i] takes, or SIZE_MAX. */
	for (i = 0, j = 0; i < res->n_addrs; i++) {
		const struct bgp_policy_addr *pa = &res->addrs[i];
		int c = -1;

		while (j < b->n_addrs && (c = ip_cmp(&b->addrs[j].addr, &pa->addr)) < 0)
			j++;
		from[i] = j < b->n_addrs && c == 0 && same_service(b->addrs[j].service, pa->svc)
				  ? j
				  : SIZE_MAX;
		addrs[i] = (struct addr_info){
			.addr = pa->addr,
			.service = from[i] != SIZE_MAX ? b->addrs[j].service : NULL,
			.why = pa->why,
			.why_id = pa->why_id,
			.advertised = pa->state == BGP_ADDR_ADVERTISED,
			.first_policy = pa->n_policies ? res->policy_idx[pa->first_policy] : 0,
			.n_policies = (uint32_t)pa->n_policies
		};
		if (from[i] == SIZE_MAX) {
			char key[512];

			snprintf(key, sizeof(key), "%s/%s", pa->svc->ns, pa->svc->name);
			if (!(addrs[i].service = strdup(key)))
				goto nomem;
		}
	}
	for (i = 0; i < res->n_addrs; i++)
		if (from[i] != SIZE_MAX)
			b->addrs[from[i]].service = NULL; /* now addrs[i]'s */
	free(from);
	last_clear(b);
	b->addrs = addrs;
	b->n_addrs = res->n_addrs;
	b->policy_names = names;
	b->n_policy_names = in->n_adverts;
	b->peers = peers;
	b->n_peers = nc->n_all;
	b->n_used_peers = nc->n_peers;
	return 0;
nomem:
	for (i = 0; addrs && from && i < res->n_addrs; i++)
		if (from[i] == SIZE_MAX)
			free(addrs[i].service);
	free(from);
	for (i = 0; names && i < in->n_adverts; i++)
		free(names[i]);
	for (i = 0; peers && i < nc->n_all; i++)
		free(peers[i].name);
	free(addrs);
	free(names);
	free(peers);
	return -ENOMEM;
}

int speaker_bgp_reconcile(struct speaker_bgp *b, const struct speaker_bgp_facts *f,
			  struct ip_addr **ret_addrs, size_t *ret_n)
{
	struct bgp_policy_input in = {
		.self = f->self,
		.services = f->services,
		.n_services = f->n_services,
		.nodes = f->nodes,
		.n_nodes = f->n_nodes,
		.pools = f->pools,
		.n_pools = f->n_pools,
		.ignore_exclude_lb = f->ignore_exclude_lb,
		.table_base = b->table_base,
		.foreach_slice = f->foreach_slice,
		.ud = f->ud,
	};
	struct bgp_node_config nc;
	struct bgp_policy_result res;
	struct bird_conf_input conf = { 0 };
	struct ip_addr *addrs;
	size_t n = 0;
	int r;

	*ret_addrs = NULL;
	*ret_n = 0;
	if (collect_all(b) < 0)
		return -ENOMEM;
	in.peers = (const struct bgp_peer *const *)b->arr[BI_PEER];
	in.n_peers = b->n_arr[BI_PEER];
	in.adverts = (const struct bgp_advert *const *)b->arr[BI_ADV];
	in.n_adverts = b->n_arr[BI_ADV];
	in.bfds = (const struct bgp_bfd_profile *const *)b->arr[BI_BFD];
	in.n_bfds = b->n_arr[BI_BFD];
	in.secrets = (const struct bgp_secret *const *)b->arr[BI_SECRET];
	in.n_secrets = b->n_arr[BI_SECRET];
	if (!in.n_peers && !in.n_adverts) {
		/* No BGP at all (L2-only clusters): no per-address pass, only
		 * the empty configuration and no routes (withdrawing what an
		 * earlier pass or run left). */
		conf.node_name = f->self;
		conf.router_id = b->o.initial_router_id.family == AF_INET
					 ? b->o.initial_router_id
					 : fallback_router_id(b->node);
		r = bgp_set_config(b->bgp, &conf);
		if (r < 0 && rl_ok(b))
			log_error(COMP, "cannot apply BIRD's configuration", LF_ERR(r));
		r = bgp_set_routes(b->bgp, NULL, 0);
		if (r < 0 && rl_ok(b))
			log_error(COMP, "cannot change the kernel tables BIRD reads", LF_ERR(r));
		last_clear(b);
		b->n_used_peers = 0;
		return 0;
	}
	r = bgp_policy_node(&in, &nc);
	if (r < 0)
		return r;
	r = bgp_policy_run(&in, &res);
	if (r < 0) {
		bgp_node_config_clear(&nc);
		return r;
	}
	conf.node_name = f->self;
	conf.router_id = nc.has_router_id			    ? nc.router_id
			 : b->o.initial_router_id.family == AF_INET ? b->o.initial_router_id
								    : fallback_router_id(b->node);
	conf.peers = nc.peers;
	conf.n_peers = nc.n_peers;
	conf.policies = nc.policies;
	conf.n_policies = nc.n_policies;
	/* BIRD follows netlink notifications; the periodic scan only
	 * resyncs after lost ones (BIRD's default would wait 60 s). */
	conf.kernel_scan_s = SPEAKER_BGP_KERNEL_SCAN_S;
	/* The configuration first: a new policy's kernel protocol should be
	 * there before its table fills (BIRD also scans at start). */
	r = bgp_set_config(b->bgp, &conf);
	if (r < 0 && rl_ok(b))
		log_error(COMP, "cannot apply BIRD's configuration", LF_ERR(r));
	r = bgp_set_routes(b->bgp, res.routes, res.n_routes);
	if (r < 0 && rl_ok(b))
		log_error(COMP, "cannot change the kernel tables BIRD reads", LF_ERR(r));
	addrs = calloc(res.n_advertised ? res.n_advertised : 1, sizeof(*addrs));
	if (!addrs) {
		bgp_policy_result_clear(&res);
		bgp_node_config_clear(&nc);
		return -ENOMEM;
	}
	for (size_t i = 0; i < res.n_addrs; i++)
		if (res.addrs[i].state == BGP_ADDR_ADVERTISED)
			addrs[n++] = res.addrs[i].addr; /* sorted: res.addrs is */
	r = remember(b, &res, &nc, &in);
	bgp_policy_result_clear(&res);
	bgp_node_config_clear(&nc);
	if (r < 0) {
		free(addrs);
		return r;
	}
	*ret_addrs = addrs;
	*ret_n = n;
	return 0;
}

/* ---- status ---- */

void speaker_bgp_status(struct speaker_bgp *b, json_t *reply)
{
	json_t *obj, *addrs = json_array(), *peers = json_array(), *pols = json_array();

	bgp_status(b->bgp, reply); /* adds "bgp" */
	obj = json_object_get(reply, "bgp");
	if (!obj) {
		obj = json_object();
		json_object_set_new(reply, "bgp", obj);
	}
	for (size_t i = 0; i < b->n_policy_names; i++)
		json_array_append_new(pols,
				      json_pack("{s:s, s:I}", "advertisement", b->policy_names[i],
						"table", (json_int_t)(b->table_base + i)));
	for (size_t i = 0; i < b->n_peers; i++)
		json_array_append_new(peers,
				      json_pack("{s:s, s:s, s:s, s:s}", "name", b->peers[i].name,
						"address", b->peers[i].addr, "state",
						b->peers[i].state, "why", b->peers[i].state_text));
	for (size_t i = 0; i < b->n_addrs; i++) {
		const struct addr_info *ai = &b->addrs[i];
		char ip[IP_STRLEN];
		json_t *e;

		ip_format(&ai->addr, ip, sizeof(ip));
		e = json_pack("{s:s, s:s, s:b, s:s, s:s}", "address", ip, "service", ai->service,
			      "advertised", ai->advertised, "why", ai->why ? ai->why : "", "why_id",
			      ai->why_id ? ai->why_id : "");
		if (e && ai->advertised && ai->first_policy < b->n_policy_names)
			json_object_set_new(e, "advertisement",
					    json_string(b->policy_names[ai->first_policy]));
		if (e && ai->advertised)
			json_object_set_new(e, "policies", json_integer(ai->n_policies));
		json_array_append_new(addrs, e);
	}
	json_object_set_new(obj, "policies", pols);
	json_object_set_new(obj, "peers", peers);
	json_object_set_new(obj, "addresses", addrs);
	if (b->n_adverts_dropped)
		json_object_set_new(obj, "advertisements_ignored",
				    json_integer((json_int_t)b->n_adverts_dropped));
}

bool speaker_bgp_healthy(const struct speaker_bgp *b, char *detail, size_t len)
{
	/* Without a peer for this node, BIRD's absence is nobody's concern. */
	if (!b->n_used_peers) {
		if (len)
			detail[0] = '\0';
		return true;
	}
	return bgp_healthy(b->bgp, detail, len);
}
