/* Unit tests for speaker/bgp_policy.c: the pure per-node BGP decision.
 * Which routes (prefix, policy table) a node holds follows eligibility
 * (externalTrafficPolicy, exclude label, NetworkUnavailable), the
 * advertisements' and peers' nodeSelectors, the advertisements' peer
 * lists and aggregation; externalIPs only inside pools that allow them;
 * the answer does not depend on input order; the node's peers and
 * policies come out resolved for the BIRD configuration.
 *
 * JSON is written with single quotes; q() turns them into double quotes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../speaker/bgp_policy.h"

#define BASE 1000
#define MAX 8

struct world {
	struct obj_service *svc[MAX];
	size_t n_svc;
	struct obj_node *nodes[MAX];
	size_t n_nodes;
	struct obj_pool *pools[MAX];
	size_t n_pools;
	struct obj_slice *slices[MAX];
	size_t n_slices;
	struct bgp_advert *adv[MAX];
	size_t n_adv;
	struct bgp_peer *peers[MAX];
	size_t n_peers;
	struct bgp_secret *secrets[MAX];
	size_t n_secrets;
	struct bgp_bfd_profile *bfds[MAX];
	size_t n_bfds;
	bool ignore_exclude_lb;
};

static void *dec(int (*fn)(json_t *, void *, void **, const char **), const char *text)
{
	struct obj_decode_ctx octx = { .lb_class = "ironlb.io/lb" };
	struct bgp_decode_ctx bctx = { .namespace = "ironlb-system" };
	char *s = strdup(text);
	json_error_t e;
	json_t *obj;
	const char *why = NULL;
	void *item = NULL;
	bool bgp = fn == bgp_peer_decode || fn == bgp_advert_decode || fn == bgp_bfd_decode ||
		   fn == bgp_secret_decode;

	assert_non_null(s);
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	obj = json_loads(s, 0, &e); /* new */
	if (!obj)
		fail_msg("bad test JSON %s: %s", s, e.text);
	if (fn(obj, bgp ? (void *)&bctx : (void *)&octx, &item, &why) != 0)
		fail_msg("decode of %s failed: %s", s, why ? why : "");
	json_decref(obj);
	free(s);
	return item;
}

static void add_node(struct world *w, const char *name, const char *labels, bool net_unavail)
{
	char buf[512];

	snprintf(buf, sizeof(buf),
		 "{'metadata':{'name':'%s','labels':{%s}},'status':{'conditions':[{'type':"
		 "'NetworkUnavailable','status':'%s'}],'addresses':[{'type':'InternalIP',"
		 "'address':'%s'}]}}",
		 name, labels, net_unavail ? "True" : "False", "203.0.113.1");
	w->nodes[w->n_nodes++] = dec(obj_node_decode, buf);
}

static void add_pool(struct world *w, const char *name, const char *addrs, bool allow_ext)
{
	char buf[512];

	snprintf(buf, sizeof(buf),
		 "{'metadata':{'name':'%s','labels':{'pool':'%s'}},'spec':{'addresses':[%s],"
		 "'allowExternalIPs':%s}}",
		 name, name, addrs, allow_ext ? "true" : "false");
	w->pools[w->n_pools++] = dec(obj_pool_decode, buf);
}

/* A LoadBalancer Service ns/name with ingress ips and externalIPs ext
 * (JSON array contents), etp "Cluster" or "Local". */
static void add_svc(struct world *w, const char *name, const char *etp, const char *ingress,
		    const char *ext)
{
	char buf[1024];

	snprintf(buf, sizeof(buf),
		 "{'metadata':{'namespace':'default','name':'%s','uid':'u-%s'},'spec':{'type':"
		 "'LoadBalancer','externalTrafficPolicy':'%s','externalIPs':[%s]},'status':{"
		 "'loadBalancer':{'ingress':[%s]}}}",
		 name, name, etp, ext, ingress);
	w->svc[w->n_svc++] = dec(obj_service_decode, buf);
}

/* An EndpointSlice of default/svc with endpoints eps (JSON array contents). */
static void add_slice(struct world *w, const char *svc, const char *eps)
{
	char buf[1024];

	snprintf(buf, sizeof(buf),
		 "{'metadata':{'namespace':'default','name':'%s-x','labels':{"
		 "'kubernetes.io/service-name':'%s'}},'endpoints':[%s]}",
		 svc, svc, eps);
	w->slices[w->n_slices++] = dec(obj_slice_decode, buf);
}

static void add_adv(struct world *w, const char *name, const char *spec)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "{'metadata':{'name':'%s'},'spec':{%s}}", name, spec);
	w->adv[w->n_adv++] = dec(bgp_advert_decode, buf);
}

static void add_peer(struct world *w, const char *name, const char *extra)
{
	char buf[1024];

	snprintf(buf, sizeof(buf),
		 "{'metadata':{'name':'%s'},'spec':{'myASN':64512,'peerASN':64513,"
		 "'peerAddress':'192.0.2.254'%s}}",
		 name, extra);
	w->peers[w->n_peers++] = dec(bgp_peer_decode, buf);
}

/* Three nodes (n1, n2 in zone a; n3 in zone b), pool "lab" 192.0.2.0/24,
 * pool "ext" 198.51.100.0/24 allowing externalIPs, one Service "web"
 * (Cluster) with ingress 192.0.2.10 and a ready endpoint on n3, one
 * advertisement "all" and one peer "tor" selecting every node. */
static void world_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	add_node(w, "n1", "'zone':'a'", false);
	add_node(w, "n2", "'zone':'a'", false);
	add_node(w, "n3", "'zone':'b'", false);
	add_pool(w, "lab", "'192.0.2.0/24'", false);
	add_pool(w, "ext", "'198.51.100.0/24'", true);
	add_svc(w, "web", "Cluster", "{'ip':'192.0.2.10'}", "");
	add_slice(w, "web", "{'nodeName':'n3','conditions':{'ready':true}}");
	add_adv(w, "all", "");
	add_peer(w, "tor", "");
}

static void world_free(struct world *w)
{
	size_t i;

	for (i = 0; i < w->n_svc; i++)
		obj_service_free(w->svc[i], NULL);
	for (i = 0; i < w->n_nodes; i++)
		obj_node_free(w->nodes[i], NULL);
	for (i = 0; i < w->n_pools; i++)
		obj_pool_free(w->pools[i], NULL);
	for (i = 0; i < w->n_slices; i++)
		obj_slice_free(w->slices[i], NULL);
	for (i = 0; i < w->n_adv; i++)
		bgp_advert_free(w->adv[i], NULL);
	for (i = 0; i < w->n_peers; i++)
		bgp_peer_free(w->peers[i], NULL);
	for (i = 0; i < w->n_secrets; i++)
		bgp_secret_free(w->secrets[i], NULL);
	for (i = 0; i < w->n_bfds; i++)
		bgp_bfd_free(w->bfds[i], NULL);
}

static void foreach_slice(void *ud, const char *ns, const char *name,
			  void (*fn)(const struct obj_slice *s, void *arg), void *arg)
{
	struct world *w = ud;

	for (size_t i = 0; i < w->n_slices; i++)
		if (!strcmp(w->slices[i]->ns, ns) && !strcmp(w->slices[i]->service, name))
			fn(w->slices[i], arg);
}

static struct bgp_policy_input input(struct world *w, const char *self)
{
	return (struct bgp_policy_input){
		.self = self,
		.services = (const struct obj_service *const *)w->svc,
		.n_services = w->n_svc,
		.nodes = (const struct obj_node *const *)w->nodes,
		.n_nodes = w->n_nodes,
		.pools = (const struct obj_pool *const *)w->pools,
		.n_pools = w->n_pools,
		.adverts = (const struct bgp_advert *const *)w->adv,
		.n_adverts = w->n_adv,
		.peers = (const struct bgp_peer *const *)w->peers,
		.n_peers = w->n_peers,
		.secrets = (const struct bgp_secret *const *)w->secrets,
		.n_secrets = w->n_secrets,
		.bfds = (const struct bgp_bfd_profile *const *)w->bfds,
		.n_bfds = w->n_bfds,
		.ignore_exclude_lb = w->ignore_exclude_lb,
		.table_base = BASE,
		.foreach_slice = foreach_slice,
		.ud = w,
	};
}

static void run(struct world *w, const char *self, struct bgp_policy_result *res)
{
	struct bgp_policy_input in = input(w, self);

	assert_int_equal(bgp_policy_run(&in, res), 0);
}

/* The routes as text: "1000 192.0.2.10/32,1001 2001:db8::/64". */
static const char *routes(const struct bgp_policy_result *r, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (size_t i = 0; i < r->n_routes; i++) {
		char p[IP_RANGE_STRLEN];

		assert_int_equal(r->routes[i].type, RTN_BLACKHOLE);
		off += (size_t)snprintf(buf + off, len - off, "%s%u %s", i ? "," : "",
					r->routes[i].table,
					prefix_format(&r->routes[i].dst, p, sizeof(p)));
		assert_true(off < len);
	}
	return buf;
}

static const struct bgp_policy_addr *find(const struct bgp_policy_result *r, const char *ip)
{
	struct ip_addr a;

	assert_int_equal(ip_parse(ip, &a, NULL), 0);
	return bgp_policy_find(r, &a);
}

/* The routes self holds. */
static const char *routes_of(struct world *w, const char *self, char *buf, size_t len)
{
	struct bgp_policy_result r;

	run(w, self, &r);
	routes(&r, buf, len);
	bgp_policy_result_clear(&r);
	return buf;
}

static void expect_not_advertised(struct world *w, const char *self, const char *ip,
				  const char *why_id)
{
	struct bgp_policy_result r;
	const struct bgp_policy_addr *a;

	run(w, self, &r);
	a = find(&r, ip);
	assert_non_null(a);
	assert_int_equal(a->state, BGP_ADDR_NOT_ADVERTISED);
	assert_string_equal(a->why_id, why_id);
	assert_non_null(a->why);
	assert_int_equal(a->n_policies, 0);
	assert_int_equal(r.n_routes, 0);
	bgp_policy_result_clear(&r);
}

static void test_cluster_policy_every_node_advertises_while_an_endpoint_serves(void **state)
{
	struct world w;
	char buf[256];
	struct bgp_policy_result r;
	const struct bgp_policy_addr *a;

	(void)state;
	world_init(&w);
	for (int i = 1; i <= 3; i++) {
		char self[16];

		snprintf(self, sizeof(self), "n%d", i);
		assert_string_equal(routes_of(&w, self, buf, sizeof(buf)), "1000 192.0.2.10/32");
	}
	run(&w, "n1", &r);
	a = find(&r, "192.0.2.10");
	assert_int_equal(a->state, BGP_ADDR_ADVERTISED);
	assert_string_equal(a->why_id, "advertised");
	assert_int_equal(a->n_policies, 1);
	assert_int_equal(a->policies[0], 0);
	assert_int_equal(r.n_advertised, 1);
	bgp_policy_result_clear(&r);

	/* The only endpoint stops serving: nobody advertises. */
	obj_slice_free(w.slices[0], NULL);
	w.slices[0] = NULL;
	w.n_slices = 0;
	add_slice(&w, "web", "{'nodeName':'n3','conditions':{'ready':false,'serving':false}}");
	for (int i = 1; i <= 3; i++) {
		char self[16];

		snprintf(self, sizeof(self), "n%d", i);
		expect_not_advertised(&w, self, "192.0.2.10", "no_serving_endpoint");
	}
	/* Terminating but serving still counts (conditions.serving). */
	obj_slice_free(w.slices[0], NULL);
	w.n_slices = 0;
	add_slice(&w, "web", "{'nodeName':'n3','conditions':{'ready':false,'serving':true}}");
	assert_string_equal(routes_of(&w, "n1", buf, sizeof(buf)), "1000 192.0.2.10/32");
	world_free(&w);
}

static void test_local_policy_only_nodes_with_a_ready_local_endpoint(void **state)
{
	struct world w;
	char buf[256];

	(void)state;
	world_init(&w);
	obj_service_free(w.svc[0], NULL);
	w.n_svc = 0;
	add_svc(&w, "web", "Local", "{'ip':'192.0.2.10'}", "");
	assert_string_equal(routes_of(&w, "n3", buf, sizeof(buf)), "1000 192.0.2.10/32");
	expect_not_advertised(&w, "n1", "192.0.2.10", "no_local_endpoint");
	expect_not_advertised(&w, "n2", "192.0.2.10", "no_local_endpoint");

	/* Serving but not ready on n3: not enough for Local. */
	obj_slice_free(w.slices[0], NULL);
	w.n_slices = 0;
	add_slice(&w, "web", "{'nodeName':'n3','conditions':{'ready':false,'serving':true}}");
	expect_not_advertised(&w, "n3", "192.0.2.10", "no_local_endpoint");
	world_free(&w);
}

static void test_excluded_label_and_network_unavailable(void **state)
{
	struct world w;
	char buf[256];

	(void)state;
	world_init(&w);
	obj_node_free(w.nodes[0], NULL);
	obj_node_free(w.nodes[1], NULL);
	w.nodes[0] = w.nodes[2];
	w.n_nodes = 1;
	add_node(&w, "n1", "'node.kubernetes.io/exclude-from-external-load-balancers':''", false);
	add_node(&w, "n2", "'zone':'a'", true);
	expect_not_advertised(&w, "n1", "192.0.2.10", "excluded");
	expect_not_advertised(&w, "n2", "192.0.2.10", "network_unavailable");
	assert_string_equal(routes_of(&w, "n3", buf, sizeof(buf)), "1000 192.0.2.10/32");
	w.ignore_exclude_lb = true;
	assert_string_equal(routes_of(&w, "n1", buf, sizeof(buf)), "1000 192.0.2.10/32");
	expect_not_advertised(&w, "n2", "192.0.2.10", "network_unavailable");
	/* A node without a Node object advertises nothing. */
	expect_not_advertised(&w, "n9", "192.0.2.10", "node_not_selected");
	world_free(&w);
}

static void test_advertisement_node_selectors(void **state)
{
	struct world w;
	char buf[256];
	struct bgp_policy_input in;
	struct bgp_node_config c;
	struct bgp_policy_result r;

	(void)state;
	world_init(&w);
	bgp_advert_free(w.adv[0], NULL);
	w.n_adv = 0;
	add_adv(&w, "zone-b", "'nodeSelectors':[{'matchLabels':{'zone':'b'}}]");
	assert_string_equal(routes_of(&w, "n3", buf, sizeof(buf)), "1000 192.0.2.10/32");
	expect_not_advertised(&w, "n1", "192.0.2.10", "node_not_selected");
	run(&w, "n1", &r);
	assert_non_null(strstr(find(&r, "192.0.2.10")->why, "BGPAdvertisement"));
	bgp_policy_result_clear(&r);

	in = input(&w, "n1");
	assert_int_equal(bgp_policy_node(&in, &c), 0);
	assert_int_equal(c.n_policies, 0);
	assert_int_equal(c.n_peers, 1);
	bgp_node_config_clear(&c);
	in = input(&w, "n3");
	assert_int_equal(bgp_policy_node(&in, &c), 0);
	assert_int_equal(c.n_policies, 1);
	assert_ptr_equal(c.policies[0].adv, w.adv[0]);
	assert_int_equal(c.policies[0].table, BASE);
	bgp_node_config_clear(&c);

	/* No advertisement for the pool at all. */
	bgp_advert_free(w.adv[0], NULL);
	w.n_adv = 0;
	add_adv(&w, "other", "'ipAddressPools':['ext']");
	expect_not_advertised(&w, "n3", "192.0.2.10", "no_advertisement");
	run(&w, "n3", &r);
	assert_string_equal(find(&r, "192.0.2.10")->why,
			    "no BGPAdvertisement selects the address's pool");
	bgp_policy_result_clear(&r);
	/* Selected by pool label instead. */
	bgp_advert_free(w.adv[0], NULL);
	w.n_adv = 0;
	add_adv(&w, "by-label", "'ipAddressPoolSelectors':[{'matchLabels':{'pool':'lab'}}]");
	assert_string_equal(routes_of(&w, "n1", buf, sizeof(buf)), "1000 192.0.2.10/32");
	world_free(&w);
}

static void test_peer_node_selectors(void **state)
{
	struct world w;
	char buf[256];
	struct bgp_policy_input in;
	struct bgp_node_config c;

	(void)state;
	world_init(&w);
	bgp_peer_free(w.peers[0], NULL);
	w.n_peers = 0;
	add_peer(&w, "tor-b", ",'nodeSelectors':[{'matchLabels':{'zone':'b'}}]");
	assert_string_equal(routes_of(&w, "n3", buf, sizeof(buf)), "1000 192.0.2.10/32");
	expect_not_advertised(&w, "n1", "192.0.2.10", "no_peer");

	in = input(&w, "n1");
	assert_int_equal(bgp_policy_node(&in, &c), 0);
	assert_int_equal(c.n_peers, 0);
	assert_int_equal(c.n_all, 1);
	assert_int_equal(c.all[0].state, BGP_PEER_NOT_SELECTED);
	assert_string_equal(bgp_peer_state_id(c.all[0].state), "not_selected");
	assert_int_equal(c.n_policies, 1);
	bgp_node_config_clear(&c);

	/* No peers at all. */
	bgp_peer_free(w.peers[0], NULL);
	w.n_peers = 0;
	expect_not_advertised(&w, "n3", "192.0.2.10", "no_peer");
	world_free(&w);
}

static void test_advertisement_peer_lists_restrict_the_policy(void **state)
{
	struct world w;
	char buf[256];
	struct bgp_policy_result r;
	const struct bgp_policy_addr *a;

	(void)state;
	world_init(&w);
	bgp_advert_free(w.adv[0], NULL);
	w.n_adv = 0;
	bgp_peer_free(w.peers[0], NULL);
	w.n_peers = 0;
	add_adv(&w, "a-to-tor1", "'peers':['tor1'],'communities':['65000:1']");
	add_adv(&w, "b-to-tor2", "'peers':['tor2']");
	add_peer(&w, "tor1", ",'nodeSelectors':[{'matchLabels':{'zone':'a'}}]");
	add_peer(&w, "tor2", ",'nodeSelectors':[{'matchLabels':{'zone':'b'}}]");
	assert_string_equal(routes_of(&w, "n1", buf, sizeof(buf)), "1000 192.0.2.10/32");
	assert_string_equal(routes_of(&w, "n3", buf, sizeof(buf)), "1001 192.0.2.10/32");

	/* A peer every node has, named by both: both policies, two tables. */
	add_peer(&w, "tor3", "");
	bgp_advert_free(w.adv[1], NULL);
	w.n_adv = 1;
	add_adv(&w, "b-to-tor3", "'peers':['tor3','tor2']");
	assert_string_equal(routes_of(&w, "n3", buf, sizeof(buf)), "1001 192.0.2.10/32");
	assert_string_equal(routes_of(&w, "n1", buf, sizeof(buf)),
			    "1000 192.0.2.10/32,1001 192.0.2.10/32");
	run(&w, "n1", &r);
	a = find(&r, "192.0.2.10");
	assert_int_equal(a->n_policies, 2);
	assert_int_equal(a->policies[0], 0);
	assert_int_equal(a->policies[1], 1);
	bgp_policy_result_clear(&r);

	/* Peers naming nobody that exists. */
	bgp_advert_free(w.adv[0], NULL);
	bgp_advert_free(w.adv[1], NULL);
	w.n_adv = 0;
	add_adv(&w, "ghost", "'peers':['nobody']");
	expect_not_advertised(&w, "n1", "192.0.2.10", "no_peer");
	world_free(&w);
}

static void test_aggregation_merges_addresses_into_one_route(void **state)
{
	struct world w;
	char buf[256];
	struct bgp_policy_result r;

	(void)state;
	world_init(&w);
	bgp_advert_free(w.adv[0], NULL);
	w.n_adv = 0;
	add_adv(&w, "agg", "'aggregationLength':24,'aggregationLengthV6':64");
	add_pool(&w, "v6", "'2001:db8:0:1::/64'", false);
	add_svc(&w, "api", "Cluster", "{'ip':'192.0.2.20'},{'ip':'2001:db8:0:1::10'}", "");
	add_svc(&w, "dns", "Cluster", "{'ip':'2001:db8:0:1::20'}", "");
	add_slice(&w, "api", "{'nodeName':'n1'}");
	add_slice(&w, "dns", "{'nodeName':'n2'}");
	assert_string_equal(routes_of(&w, "n2", buf, sizeof(buf)),
			    "1000 192.0.2.0/24,1000 2001:db8:0:1::/64");
	run(&w, "n2", &r);
	assert_int_equal(r.n_addrs, 4);
	assert_int_equal(r.n_advertised, 4);
	bgp_policy_result_clear(&r);

	/* A /24 reaching outside a pool of a narrower range is not announced. */
	obj_pool_free(w.pools[0], NULL);
	w.pools[0] = NULL;
	memmove(w.pools, w.pools + 1, (w.n_pools - 1) * sizeof(w.pools[0]));
	w.n_pools--;
	add_pool(&w, "lab", "'192.0.2.10-192.0.2.20'", false);
	run(&w, "n2", &r);
	assert_int_equal(find(&r, "192.0.2.10")->state, BGP_ADDR_NOT_ADVERTISED);
	assert_string_equal(find(&r, "192.0.2.10")->why_id, "aggregation_outside_pool");
	assert_string_equal(routes(&r, buf, sizeof(buf)), "1000 2001:db8:0:1::/64");
	bgp_policy_result_clear(&r);
	world_free(&w);
}

static void test_external_ips_only_inside_pools_that_allow_them(void **state)
{
	struct world w;
	char buf[256];
	struct bgp_policy_result r;
	const struct bgp_policy_addr *a;

	(void)state;
	world_init(&w);
	add_pool(&w, "noext", "'203.0.113.0/24'", false);
	obj_service_free(w.svc[0], NULL);
	w.n_svc = 0;
	add_svc(&w, "web", "Cluster", "{'ip':'192.0.2.10'}",
		"'198.51.100.7','203.0.113.9','192.0.2.77','2001:db8:ff::1'");
	run(&w, "n1", &r);
	assert_string_equal(routes(&r, buf, sizeof(buf)),
			    "1000 192.0.2.10/32,1000 198.51.100.7/32");
	a = find(&r, "203.0.113.9");
	assert_int_equal(a->state, BGP_ADDR_NOT_HANDLED);
	assert_string_equal(a->why_id, "not_handled");
	assert_non_null(strstr(a->why, "allowExternalIPs"));
	assert_int_equal(find(&r, "192.0.2.77")->state, BGP_ADDR_NOT_HANDLED);
	assert_int_equal(find(&r, "2001:db8:ff::1")->state, BGP_ADDR_NOT_HANDLED);
	assert_int_equal(find(&r, "198.51.100.7")->state, BGP_ADDR_ADVERTISED);
	assert_int_equal(r.n_addrs, 5);
	assert_int_equal(r.n_advertised, 2);
	bgp_policy_result_clear(&r);
	world_free(&w);
}

/* A copy of w's pointer arrays in reverse order (the objects are shared). */
static void reversed(const struct world *w, struct world *ret)
{
#define REV(arr, n)                                                                                \
	do {                                                                                       \
		for (size_t i_ = 0; i_ < w->n; i_++)                                               \
			ret->arr[i_] = w->arr[w->n - 1 - i_];                                      \
		ret->n = w->n;                                                                     \
	} while (0)
	*ret = *w;
	REV(svc, n_svc);
	REV(nodes, n_nodes);
	REV(pools, n_pools);
	REV(slices, n_slices);
	REV(peers, n_peers);
	REV(secrets, n_secrets);
	REV(bfds, n_bfds);
#undef REV
}

static void assert_same_result(const struct bgp_policy_result *a, const struct bgp_policy_result *b)
{
	assert_int_equal(a->n_routes, b->n_routes);
	assert_memory_equal(a->routes, b->routes, a->n_routes * sizeof(*a->routes));
	assert_int_equal(a->n_addrs, b->n_addrs);
	assert_int_equal(a->n_advertised, b->n_advertised);
	for (size_t i = 0; i < a->n_addrs; i++) {
		assert_true(ip_equal(&a->addrs[i].addr, &b->addrs[i].addr));
		assert_ptr_equal(a->addrs[i].svc, b->addrs[i].svc);
		assert_int_equal(a->addrs[i].state, b->addrs[i].state);
		assert_string_equal(a->addrs[i].why_id, b->addrs[i].why_id);
		assert_int_equal(a->addrs[i].n_policies, b->addrs[i].n_policies);
		if (a->addrs[i].n_policies)
			assert_memory_equal(a->addrs[i].policies, b->addrs[i].policies,
					    a->addrs[i].n_policies * sizeof(uint32_t));
	}
}

static void test_input_order_does_not_change_the_result(void **state)
{
	struct world w, rw;
	struct bgp_policy_result r1, r2;
	struct bgp_policy_input in;
	struct bgp_node_config c1, c2;

	(void)state;
	world_init(&w);
	add_adv(&w, "zz-agg", "'aggregationLength':28");
	add_peer(&w, "a-peer", ",'routerID':'192.0.2.1'");
	add_peer(&w, "m-peer", ",'routerID':'192.0.2.2'");
	add_pool(&w, "v6", "'2001:db8::/64'", false);
	/* One address in two Services: one advertises, one cannot (Local). */
	add_svc(&w, "api", "Cluster", "{'ip':'192.0.2.30'},{'ip':'2001:db8::5'}",
		"'198.51.100.9','203.0.113.1'");
	add_svc(&w, "shared", "Local", "{'ip':'192.0.2.30'}", "'192.0.2.10'");
	add_slice(&w, "api", "{'nodeName':'n2'}");
	add_slice(&w, "shared", "{'nodeName':'n2'}");
	reversed(&w, &rw);
	for (int i = 1; i <= 3; i++) {
		char self[16];

		snprintf(self, sizeof(self), "n%d", i);
		run(&w, self, &r1);
		run(&rw, self, &r2);
		assert_true(r1.n_routes > 0);
		assert_same_result(&r1, &r2);
		assert_string_equal(find(&r1, "192.0.2.30")->why_id, "advertised");
		assert_string_equal(find(&r1, "192.0.2.30")->svc->name, "api");
		bgp_policy_result_clear(&r1);
		bgp_policy_result_clear(&r2);

		in = input(&w, self);
		assert_int_equal(bgp_policy_node(&in, &c1), 0);
		in = input(&rw, self);
		assert_int_equal(bgp_policy_node(&in, &c2), 0);
		assert_int_equal(c1.n_peers, 3);
		assert_int_equal(c2.n_peers, 3);
		for (size_t k = 0; k < 3; k++)
			assert_ptr_equal(c1.peers[k].peer, c2.peers[k].peer);
		assert_string_equal(c1.peers[0].peer->name, "a-peer");
		assert_string_equal(c1.peers[2].peer->name, "tor");
		assert_true(c1.has_router_id);
		assert_true(ip_equal(&c1.router_id, &c2.router_id));
		assert_true(ip_equal(&c1.router_id, &w.peers[1]->router_id));
		bgp_node_config_clear(&c1);
		bgp_node_config_clear(&c2);
	}
	world_free(&w);
}

/* Pools overlap: an address belongs to the first by name, whichever
 * holds it. Routes come out sorted (table, family, prefix) and distinct
 * however the Services list their addresses. */
static void test_first_pool_by_name_and_sorted_routes(void **state)
{
	struct world w;
	struct bgp_policy_result r;
	char buf[1024];

	(void)state;
	world_init(&w);
	add_pool(&w, "a-narrow", "'192.0.2.0/28'", false);
	add_pool(&w, "v6", "'2001:db8::/64'", false);
	add_adv(&w, "b-lab", "'ipAddressPools':['lab']"); /* table BASE + 1 */
	add_svc(&w, "many", "Cluster",
		"{'ip':'2001:db8::9'},{'ip':'192.0.2.200'},{'ip':'2001:db8::1'},"
		"{'ip':'192.0.2.5'},{'ip':'192.0.2.100'}",
		"");
	add_svc(&w, "dup", "Cluster", "{'ip':'192.0.2.100'}", "");
	add_slice(&w, "many", "{'nodeName':'n3','conditions':{'ready':true}}");
	add_slice(&w, "dup", "{'nodeName':'n3','conditions':{'ready':true}}");
	run(&w, "n1", &r);
	/* .5 and .10 are in a-narrow (before "lab" by name): only "all" takes
	 * them; .100 and .200 are in lab: both advertisements. */
	assert_string_equal(routes(&r, buf, sizeof(buf)),
			    "1000 192.0.2.5/32,1000 192.0.2.10/32,1000 192.0.2.100/32,"
			    "1000 192.0.2.200/32,1000 2001:db8::1/128,1000 2001:db8::9/128,"
			    "1001 192.0.2.100/32,1001 192.0.2.200/32");
	for (size_t i = 1; i < r.n_routes; i++)
		assert_true(krt_route_cmp(&r.routes[i - 1], &r.routes[i]) < 0);
	assert_int_equal(r.n_addrs, 6);
	assert_int_equal(r.n_advertised, 6);
	assert_int_equal(find(&r, "192.0.2.5")->n_policies, 1);
	assert_int_equal(find(&r, "192.0.2.200")->n_policies, 2);
	bgp_policy_result_clear(&r);
	world_free(&w);
}

static void test_node_config_resolves_secrets_bfd_and_skips_vrf(void **state)
{
	struct world w;
	struct bgp_policy_input in;
	struct bgp_node_config c;
	char buf[256];

	(void)state;
	world_init(&w);
	bgp_peer_free(w.peers[0], NULL);
	w.n_peers = 0;
	add_peer(&w, "p-inline", ",'password':'inline','bfdProfile':'fast'");
	add_peer(&w, "p-secret", ",'passwordSecret':{'name':'auth'}");
	add_peer(&w, "p-nosecret", ",'passwordSecret':{'name':'missing'}");
	add_peer(&w, "p-nobfd", ",'bfdProfile':'slow'");
	add_peer(&w, "p-vrf", ",'vrf':'red'");
	w.secrets[w.n_secrets++] =
		dec(bgp_secret_decode, "{'metadata':{'name':'auth'},'type':'kubernetes.io/"
				       "basic-auth','data':{'password':'ZnJvbS1zZWNyZXQ='}}");
	w.bfds[w.n_bfds++] = dec(bgp_bfd_decode, "{'metadata':{'name':'fast'}}");
	in = input(&w, "n1");
	assert_int_equal(bgp_policy_node(&in, &c), 0);
	assert_int_equal(c.n_all, 5);
	/* Sorted by name. */
	assert_string_equal(c.all[0].peer->name, "p-inline");
	assert_int_equal(c.all[0].state, BGP_PEER_USED);
	assert_string_equal(c.all[1].peer->name, "p-nobfd");
	assert_int_equal(c.all[1].state, BGP_PEER_NO_BFD_PROFILE);
	assert_string_equal(c.all[2].peer->name, "p-nosecret");
	assert_int_equal(c.all[2].state, BGP_PEER_NO_SECRET);
	assert_string_equal(c.all[3].peer->name, "p-secret");
	assert_int_equal(c.all[3].state, BGP_PEER_USED);
	assert_string_equal(c.all[4].peer->name, "p-vrf");
	assert_int_equal(c.all[4].state, BGP_PEER_VRF);
	assert_string_equal(bgp_peer_state_str(BGP_PEER_VRF), "vrf is not supported");
	assert_int_equal(c.n_peers, 2);
	assert_string_equal(c.peers[0].password, "inline");
	assert_ptr_equal(c.peers[0].bfd, w.bfds[0]);
	assert_string_equal(c.peers[1].password, "from-secret");
	assert_null(c.peers[1].bfd);
	/* No routerID on any used peer: the node's IPv4 InternalIP. */
	assert_true(c.has_router_id);
	assert_string_equal(ip_format(&c.router_id, buf, sizeof(buf)), "203.0.113.1");
	bgp_node_config_clear(&c);

	/* Only unusable peers: nothing to advertise to. */
	bgp_peer_free(w.peers[0], NULL);
	bgp_peer_free(w.peers[1], NULL);
	w.peers[0] = w.peers[4];
	w.peers[1] = w.peers[3];
	w.n_peers = 3;
	expect_not_advertised(&w, "n1", "192.0.2.10", "no_peer");
	world_free(&w);
}

static void test_empty_input(void **state)
{
	struct bgp_policy_input in = { .self = "n1" };
	struct bgp_policy_result r;
	struct bgp_node_config c;

	(void)state;
	assert_int_equal(bgp_policy_run(&in, &r), 0);
	assert_int_equal(r.n_routes + r.n_addrs, 0);
	bgp_policy_result_clear(&r);
	assert_int_equal(bgp_policy_node(&in, &c), 0);
	assert_int_equal(c.n_peers + c.n_policies + c.n_all, 0);
	assert_false(c.has_router_id);
	bgp_node_config_clear(&c);
	assert_string_equal(bgp_addr_state_str(BGP_ADDR_NOT_HANDLED), "not-handled");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_cluster_policy_every_node_advertises_while_an_endpoint_serves),
		cmocka_unit_test(test_local_policy_only_nodes_with_a_ready_local_endpoint),
		cmocka_unit_test(test_excluded_label_and_network_unavailable),
		cmocka_unit_test(test_advertisement_node_selectors),
		cmocka_unit_test(test_peer_node_selectors),
		cmocka_unit_test(test_advertisement_peer_lists_restrict_the_policy),
		cmocka_unit_test(test_aggregation_merges_addresses_into_one_route),
		cmocka_unit_test(test_external_ips_only_inside_pools_that_allow_them),
		cmocka_unit_test(test_input_order_does_not_change_the_result),
		cmocka_unit_test(test_first_pool_by_name_and_sorted_routes),
		cmocka_unit_test(test_node_config_resolves_secrets_bfd_and_skips_vrf),
		cmocka_unit_test(test_empty_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
