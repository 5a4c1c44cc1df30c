/* Unit tests for speaker/reconcile.c: the pure L2 decision. Owners follow
 * the election over eligible, alive nodes; every node computes the same
 * owner; backups are ranked; ineligible nodes say why; externalIPs are
 * announced only inside a pool with allowExternalIPs; the probe flag and
 * the interfaces come out as the claim needs them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../speaker/election.h"
#include "../../speaker/reconcile.h"

struct world {
	struct obj_service *svc[4];
	size_t n_svc;
	struct obj_node *nodes[4];
	size_t n_nodes;
	struct obj_pool *pools[2];
	size_t n_pools;
	struct obj_l2adv *adv[2];
	size_t n_adv;
	struct obj_slice *slices[2];
	size_t n_slices;
	const char *dead[4];
	size_t n_dead;
	bool announced;
	/* Speaker Leases: can_announce answers from them, as the speaker does
	 * (no Lease or no "prefixes": unknown, so able). */
	struct obj_lease *leases[4];
	size_t n_leases;
	size_t can_calls;
	struct ip_addr keep[4]; /* keep_ahead */
	size_t n_keep;
};

static void *dec(int (*fn)(json_t *, void *, void **, const char **), const char *text)
{
	struct obj_decode_ctx ctx = { .lb_class = "ironlb.io/lb" };
	json_t *obj = json_loads(text, 0, NULL); /* new */
	const char *why = NULL;
	void *item = NULL;

	assert_non_null(obj);
	assert_int_equal(fn(obj, &ctx, &item, &why), 0);
	json_decref(obj);
	return item;
}

static void foreach_slice(void *ud, const char *ns, const char *name,
			  void (*fn)(const struct obj_slice *s, void *arg), void *arg)
{
	struct world *w = ud;

	for (size_t i = 0; i < w->n_slices; i++)
		if (!strcmp(w->slices[i]->ns, ns) && !strcmp(w->slices[i]->service, name))
			fn(w->slices[i], arg);
}

static bool alive(void *ud, const char *node)
{
	struct world *w = ud;

	for (size_t i = 0; i < w->n_dead; i++)
		if (!strcmp(w->dead[i], node))
			return false;
	return true;
}

static bool iface_ok(void *ud, const char *ifname)
{
	(void)ud;
	return strcmp(ifname, "eth0") == 0;
}

static bool can_announce(void *ud, const char *node, const struct ip_addr *a)
{
	struct world *w = ud;
	const struct obj_lease *l = NULL;

	w->can_calls++;
	for (size_t i = 0; i < w->n_leases; i++)
		if (!strcmp(w->leases[i]->holder, node))
			l = w->leases[i];
	return obj_lease_can_announce(l, a);
}

/* Adds a speaker Lease for node whose annotation lists prefixes (a JSON
 * array), or has no "prefixes" when prefixes is NULL. */
static void lease_add(struct world *w, const char *node, const char *prefixes)
{
	char ann[512], text[1024];
	json_t *s;

	snprintf(ann, sizeof(ann), "{\"heartbeat\":\"192.0.2.1:7482\"%s%s}",
		 prefixes ? ",\"prefixes\":" : "", prefixes ? prefixes : "");
	s = json_string(ann);
	assert_non_null(s);
	{
		char *quoted = json_dumps(s, JSON_ENCODE_ANY);

		snprintf(text, sizeof(text),
			 "{\"metadata\":{\"name\":\"speaker-%s\",\"annotations\":"
			 "{\"ironlb.io/speaker\":%s}},\"spec\":{\"holderIdentity\":\"%s\"}}",
			 node, quoted, node);
		free(quoted);
	}
	json_decref(s);
	w->leases[w->n_leases++] = dec(obj_lease_decode, text);
}

static bool announced(void *ud, const struct ip_addr *a)
{
	(void)a;
	return ((struct world *)ud)->announced;
}

static void world_init(struct world *w)
{
	static const char *names[] = { "n1", "n2", "n3" };
	char buf[512];

	memset(w, 0, sizeof(*w));
	for (size_t i = 0; i < 3; i++) {
		snprintf(buf, sizeof(buf),
			 "{\"metadata\":{\"name\":\"%s\",\"labels\":{\"zone\":\"%s\"}}}", names[i],
			 i == 2 ? "b" : "a");
		w->nodes[w->n_nodes++] = dec(obj_node_decode, buf);
	}
	w->pools[w->n_pools++] =
		dec(obj_pool_decode, "{\"metadata\":{\"name\":\"lab\"},\"spec\":{\"addresses\":"
				     "[\"192.0.2.200-192.0.2.239\"]}}");
	w->pools[w->n_pools++] =
		dec(obj_pool_decode, "{\"metadata\":{\"name\":\"ext\"},\"spec\":{\"addresses\":"
				     "[\"198.51.100.0/24\"],\"allowExternalIPs\":true}}");
	w->adv[w->n_adv++] = dec(obj_l2adv_decode, "{\"metadata\":{\"name\":\"all\"}}");
	w->svc[w->n_svc++] =
		dec(obj_service_decode,
		    "{\"metadata\":{\"namespace\":\"default\",\"name\":\"web\",\"uid\":\"u\"},"
		    "\"spec\":{\"type\":\"LoadBalancer\",\"externalIPs\":[\"198.51.100.7\","
		    "\"203.0.113.9\"]},\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":"
		    "\"192.0.2.200\"}]}}}");
	w->slices[w->n_slices++] = dec(
		obj_slice_decode,
		"{\"metadata\":{\"namespace\":\"default\",\"name\":\"web-1\",\"labels\":"
		"{\"kubernetes.io/service-name\":\"web\"}},\"endpoints\":[{\"nodeName\":\"n3\"}]}");
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
	for (i = 0; i < w->n_adv; i++)
		obj_l2adv_free(w->adv[i], NULL);
	for (i = 0; i < w->n_slices; i++)
		obj_slice_free(w->slices[i], NULL);
	for (i = 0; i < w->n_leases; i++)
		obj_lease_free(w->leases[i], NULL);
}

static void run(struct world *w, const char *self, struct reconcile_result *res)
{
	struct reconcile_input in = {
		.self = self,
		.services = (const struct obj_service *const *)w->svc,
		.n_services = w->n_svc,
		.nodes = (const struct obj_node *const *)w->nodes,
		.n_nodes = w->n_nodes,
		.pools = (const struct obj_pool *const *)w->pools,
		.n_pools = w->n_pools,
		.adverts = (const struct obj_l2adv *const *)w->adv,
		.n_adverts = w->n_adv,
		.foreach_slice = foreach_slice,
		.alive = alive,
		.iface_ok = iface_ok,
		.can_announce = can_announce,
		.announced = announced,
		.keep_ahead = w->keep,
		.n_keep_ahead = w->n_keep,
		.ud = w,
	};

	assert_int_equal(reconcile_run(&in, res), 0);
}

static const struct reconcile_addr *find(const struct reconcile_result *r, const char *ip)
{
	struct ip_addr a;

	assert_int_equal(ip_parse(ip, &a, NULL), 0);
	return reconcile_find(r, &a);
}

static void test_every_node_computes_the_same_single_owner(void **state)
{
	struct world w;
	struct reconcile_result r[3];
	const char *self[3] = { "n1", "n2", "n3" };
	const char *names[3] = { "n1", "n2", "n3" };
	struct ip_addr a;
	int owners = 0;

	(void)state;
	world_init(&w);
	ip_parse("192.0.2.200", &a, NULL);
	for (int i = 0; i < 3; i++) {
		const struct reconcile_addr *ra;

		run(&w, self[i], &r[i]);
		ra = find(&r[i], "192.0.2.200");
		assert_non_null(ra);
		assert_string_equal(ra->owner, names[election_owner(&a, names, 3)]);
		if (ra->role == RECONCILE_OWNER) {
			owners++;
			assert_string_equal(ra->owner, self[i]);
		} else {
			assert_int_equal(ra->role, RECONCILE_BACKUP);
			assert_true(ra->backup_pos == 1 || ra->backup_pos == 2);
		}
	}
	assert_int_equal(owners, 1);
	for (int i = 0; i < 3; i++)
		reconcile_result_clear(&r[i]);
	world_free(&w);
}

static void test_dead_owner_moves_address_to_first_backup(void **state)
{
	struct world w;
	struct reconcile_result r;
	const char *names[3] = { "n1", "n2", "n3" };
	size_t order[3];
	struct ip_addr a;

	(void)state;
	world_init(&w);
	ip_parse("192.0.2.200", &a, NULL);
	election_rank(&a, names, 3, order);
	w.dead[w.n_dead++] = names[order[0]];
	run(&w, names[order[1]], &r);
	assert_int_equal(find(&r, "192.0.2.200")->role, RECONCILE_OWNER);
	assert_string_equal(find(&r, "192.0.2.200")->owner, names[order[1]]);
	assert_int_equal(r.n_owned, 2); /* and the allowed externalIP */
	reconcile_result_clear(&r);
	world_free(&w);
}

static void test_external_ips_only_inside_an_allowing_pool(void **state)
{
	struct world w;
	struct reconcile_result r;

	(void)state;
	world_init(&w);
	run(&w, "n1", &r);
	assert_int_equal(r.n, 3);
	assert_int_not_equal(find(&r, "198.51.100.7")->role, RECONCILE_NOT_HANDLED);
	assert_int_equal(find(&r, "203.0.113.9")->role, RECONCILE_NOT_HANDLED);
	assert_null(find(&r, "203.0.113.9")->owner);
	reconcile_result_clear(&r);
	world_free(&w);
}

static void test_ineligible_node_reports_its_reason(void **state)
{
	struct world w;
	struct reconcile_result r;

	(void)state;
	world_init(&w);
	/* Only n3 has an endpoint; with Local policy only n3 may announce. */
	w.svc[0]->local = true;
	run(&w, "n1", &r);
	assert_int_equal(find(&r, "192.0.2.200")->role, RECONCILE_INELIGIBLE);
	assert_int_equal(find(&r, "192.0.2.200")->reason, ELIGIBILITY_NO_LOCAL_ENDPOINT);
	assert_string_equal(find(&r, "192.0.2.200")->owner, "n3");
	reconcile_result_clear(&r);
	run(&w, "n3", &r);
	assert_int_equal(find(&r, "192.0.2.200")->role, RECONCILE_OWNER);
	reconcile_result_clear(&r);
	/* No serving endpoint at all: nobody owns it. */
	w.slices[0]->eps[0].serving = false;
	run(&w, "n3", &r);
	assert_int_equal(find(&r, "192.0.2.200")->reason, ELIGIBILITY_NO_SERVING_ENDPOINT);
	assert_null(find(&r, "192.0.2.200")->owner);
	reconcile_result_clear(&r);
	world_free(&w);
}

static void test_node_selectors_interfaces_and_probe(void **state)
{
	struct world w;
	struct reconcile_result r;
	const struct reconcile_addr *ra;

	(void)state;
	world_init(&w);
	obj_l2adv_free(w.adv[0], NULL);
	w.adv[0] = dec(obj_l2adv_decode,
		       "{\"metadata\":{\"name\":\"b\"},\"spec\":{\"ipAddressPools\":[\"lab\"],"
		       "\"nodeSelectors\":[{\"matchLabels\":{\"zone\":\"b\"}}],\"interfaces\":"
		       "[\"eth0\"]}}");
	run(&w, "n1", &r);
	ra = find(&r, "192.0.2.200");
	assert_int_equal(ra->role, RECONCILE_INELIGIBLE);
	assert_int_equal(ra->reason, ELIGIBILITY_NODE_NOT_SELECTED);
	assert_string_equal(ra->owner, "n3");
	/* The externalIP's pool is selected by no advertisement now. */
	assert_int_equal(find(&r, "198.51.100.7")->reason, ELIGIBILITY_NO_ADVERTISEMENT);
	reconcile_result_clear(&r);
	run(&w, "n3", &r);
	ra = find(&r, "192.0.2.200");
	assert_int_equal(ra->role, RECONCILE_OWNER);
	assert_true(ra->probe);
	assert_int_equal(ra->n_ifnames, 1);
	assert_string_equal(reconcile_ifnames(&r, ra)[0], "eth0");
	reconcile_result_clear(&r);
	w.announced = true;
	run(&w, "n3", &r);
	assert_false(find(&r, "192.0.2.200")->probe);
	reconcile_result_clear(&r);
	/* An interface that is not usable here makes the node ineligible. */
	free(w.adv[0]->ifnames[0]);
	w.adv[0]->ifnames[0] = strdup("eth9");
	run(&w, "n3", &r);
	assert_int_equal(find(&r, "192.0.2.200")->reason, ELIGIBILITY_NO_INTERFACE);
	reconcile_result_clear(&r);
	world_free(&w);
}

static void test_excluded_node_unless_ignored(void **state)
{
	struct world w;
	struct reconcile_result r;

	(void)state;
	world_init(&w);
	for (size_t i = 0; i < w.n_nodes; i++)
		w.nodes[i]->exclude = true;
	run(&w, "n2", &r);
	assert_int_equal(find(&r, "192.0.2.200")->reason, ELIGIBILITY_EXCLUDED);
	assert_int_equal(r.n_owned, 0);
	reconcile_result_clear(&r);
	world_free(&w);
}

/* A node without a usable link on the address's subnet (its Lease lists
 * no prefix holding it) is ineligible on every speaker, itself included,
 * so all of them elect the same owner among the others; a node whose Lease
 * says nothing (no "prefixes": an older speaker) stays eligible. */
static void test_node_that_cannot_announce_is_ineligible_everywhere(void **state)
{
	struct world w;
	struct reconcile_result r[3];
	const char *names[3] = { "n1", "n2", "n3" };
	size_t order[3];
	struct ip_addr a;
	int owners = 0;

	(void)state;
	world_init(&w);
	ip_parse("192.0.2.200", &a, NULL);
	election_rank(&a, names, 3, order);
	/* The elected owner's data link is down: it publishes no prefix. */
	lease_add(&w, names[order[0]], "[\"203.0.113.0/24\"]");
	/* The next one publishes its subnet; the last publishes nothing. */
	lease_add(&w, names[order[1]], "[\"192.0.2.0/24\",\"2001:db8:2::/64\"]");
	lease_add(&w, names[order[2]], NULL);
	for (int i = 0; i < 3; i++) {
		const struct reconcile_addr *ra;

		w.can_calls = 0;
		run(&w, names[i], &r[i]);
		/* Asked for every node, not only this one. */
		assert_true(w.can_calls >= 3);
		ra = find(&r[i], "192.0.2.200");
		assert_non_null(ra);
		assert_string_equal(ra->owner, names[order[1]]);
		if (!strcmp(names[i], names[order[0]])) {
			assert_int_equal(ra->role, RECONCILE_INELIGIBLE);
			assert_int_equal(ra->reason, ELIGIBILITY_NO_INTERFACE);
		} else if (ra->role == RECONCILE_OWNER) {
			owners++;
			assert_string_equal(names[i], names[order[1]]);
			assert_int_equal(ra->n_ifnames, 0); /* the subnet's link */
		} else {
			assert_int_equal(ra->role, RECONCILE_BACKUP);
			assert_string_equal(names[i], names[order[2]]);
			assert_int_equal(ra->backup_pos, 1);
		}
	}
	assert_int_equal(owners, 1);
	for (int i = 0; i < 3; i++)
		reconcile_result_clear(&r[i]);

	/* The externalIP 198.51.100.7 lies in no published prefix of the first
	 * two: only the node whose Lease says nothing may take it. */
	run(&w, names[order[2]], &r[0]);
	assert_int_equal(find(&r[0], "198.51.100.7")->role, RECONCILE_OWNER);
	reconcile_result_clear(&r[0]);
	run(&w, names[order[1]], &r[0]);
	assert_int_equal(find(&r[0], "198.51.100.7")->role, RECONCILE_INELIGIBLE);
	assert_int_equal(find(&r[0], "198.51.100.7")->reason, ELIGIBILITY_NO_INTERFACE);
	assert_string_equal(find(&r[0], "198.51.100.7")->owner, names[order[2]]);
	reconcile_result_clear(&r[0]);

	/* No node can: nobody owns it, nobody claims it. */
	for (size_t i = 0; i < w.n_leases; i++) {
		w.leases[i]->has_prefixes = true;
		w.leases[i]->n_prefixes = 0;
	}
	for (int i = 0; i < 3; i++) {
		run(&w, names[i], &r[0]);
		assert_null(find(&r[0], "192.0.2.200")->owner);
		assert_int_equal(r[0].n_owned, 0);
		reconcile_result_clear(&r[0]);
	}
	world_free(&w);
}

/* Advertisements naming interfaces: other nodes' interfaces are unknown
 * here and taken as usable, the callback is not asked; with one naming
 * interfaces and one naming none, a node without a subnet link announces
 * on the named interface it has. */
static void test_named_interfaces_do_not_ask_can_announce(void **state)
{
	struct world w;
	struct reconcile_result r;
	const struct reconcile_addr *ra;

	(void)state;
	world_init(&w);
	obj_l2adv_free(w.adv[0], NULL);
	w.adv[0] = dec(obj_l2adv_decode, "{\"metadata\":{\"name\":\"named\"},\"spec\":"
					 "{\"interfaces\":[\"eth0\"]}}");
	lease_add(&w, "n1", "[]");
	lease_add(&w, "n2", "[]");
	lease_add(&w, "n3", "[]");
	w.can_calls = 0;
	run(&w, "n1", &r);
	assert_int_equal(w.can_calls, 0);
	assert_non_null(find(&r, "192.0.2.200")->owner);
	assert_int_not_equal(find(&r, "192.0.2.200")->role, RECONCILE_INELIGIBLE);
	reconcile_result_clear(&r);

	w.adv[w.n_adv++] = dec(obj_l2adv_decode, "{\"metadata\":{\"name\":\"subnet\"}}");
	for (int i = 0; i < 3; i++) {
		const char *self = i == 0 ? "n1" : i == 1 ? "n2" : "n3";

		run(&w, self, &r);
		ra = find(&r, "192.0.2.200");
		if (ra->role == RECONCILE_OWNER) {
			assert_int_equal(ra->n_ifnames, 1);
			assert_string_equal(reconcile_ifnames(&r, ra)[0], "eth0");
		}
		reconcile_result_clear(&r);
	}
	world_free(&w);
}

/* Appends ip to the pool's next addresses (as its status would give). */
static void set_next(struct obj_pool *p, const char *ip)
{
	assert_true(p->n_next < 2);
	assert_int_equal(ip_parse(ip, &p->next[p->n_next++], NULL), 0);
}

static const char *owner_of(const char *ip)
{
	static const char *names[3] = { "n1", "n2", "n3" };
	struct ip_addr a;

	assert_int_equal(ip_parse(ip, &a, NULL), 0);
	return names[election_owner(&a, names, 3)];
}

static void test_ahead_only_on_the_node_that_would_own_it(void **state)
{
	static const char *names[3] = { "n1", "n2", "n3" };
	struct world w;
	struct reconcile_result r;
	const char *own = owner_of("192.0.2.210");
	size_t n_owned[3];
	int got = 0;

	(void)state;
	world_init(&w);
	for (int i = 0; i < 3; i++) {
		run(&w, names[i], &r);
		assert_int_equal(r.n_ahead, 0);
		assert_null(r.ahead);
		n_owned[i] = r.n_owned;
		reconcile_result_clear(&r);
	}
	set_next(w.pools[0], "192.0.2.210");
	w.announced = true; /* ahead always probes */
	for (int i = 0; i < 3; i++) {
		run(&w, names[i], &r);
		assert_int_equal(r.n_owned, n_owned[i]);
		assert_int_equal(r.n, 3);
		assert_null(find(&r, "192.0.2.210"));
		if (!strcmp(names[i], own)) {
			char buf[IP_STRLEN];

			got++;
			assert_int_equal(r.n_ahead, 1);
			assert_string_equal(ip_format(&r.ahead[0].addr, buf, sizeof(buf)),
					    "192.0.2.210");
			assert_int_equal(r.ahead[0].role, RECONCILE_OWNER);
			assert_true(r.ahead[0].probe);
			assert_null(r.ahead[0].svc);
			assert_string_equal(r.ahead[0].owner, own);
		} else {
			assert_int_equal(r.n_ahead, 0);
		}
		reconcile_result_clear(&r);
		assert_null(r.ahead);
		assert_int_equal(r.n_ahead, 0);
	}
	assert_int_equal(got, 1);
	world_free(&w);
}

static void test_ahead_skips_addresses_services_hold(void **state)
{
	static const char *names[3] = { "n1", "n2", "n3" };
	struct world w;
	struct reconcile_result r;

	(void)state;
	world_init(&w);
	set_next(w.pools[0], "192.0.2.200");  /* the ingress of web */
	set_next(w.pools[1], "198.51.100.7"); /* an externalIP of web */
	for (int i = 0; i < 3; i++) {
		run(&w, names[i], &r);
		assert_int_equal(r.n_ahead, 0);
		assert_int_equal(r.n, 3);
		assert_non_null(find(&r, "192.0.2.200")->svc);
		reconcile_result_clear(&r);
	}
	world_free(&w);
}

static void test_ahead_needs_an_advertisement_selecting_the_pool(void **state)
{
	static const char *names[3] = { "n1", "n2", "n3" };
	struct world w;
	struct reconcile_result r;
	int got = 0;

	(void)state;
	world_init(&w);
	obj_l2adv_free(w.adv[0], NULL);
	w.adv[0] = dec(obj_l2adv_decode, "{\"metadata\":{\"name\":\"lab\"},\"spec\":"
					 "{\"ipAddressPools\":[\"lab\"]}}");
	set_next(w.pools[0], "192.0.2.210");  /* selected */
	set_next(w.pools[1], "198.51.100.9"); /* not selected */
	for (int i = 0; i < 3; i++) {
		run(&w, names[i], &r);
		for (size_t k = 0; k < r.n_ahead; k++) {
			char buf[IP_STRLEN];

			assert_string_equal(ip_format(&r.ahead[k].addr, buf, sizeof(buf)),
					    "192.0.2.210");
			got++;
		}
		reconcile_result_clear(&r);
	}
	assert_int_equal(got, 1);
	/* No advertisement at all: nobody. */
	w.n_adv = 0;
	for (int i = 0; i < 3; i++) {
		run(&w, names[i], &r);
		assert_int_equal(r.n_ahead, 0);
		reconcile_result_clear(&r);
	}
	w.n_adv = 1;
	world_free(&w);
}

static void test_ahead_same_address_in_two_pools_once(void **state)
{
	struct world w;
	struct reconcile_result r;
	const char *own = owner_of("192.0.2.230");

	(void)state;
	world_init(&w);
	obj_pool_free(w.pools[1], NULL);
	w.pools[1] = dec(obj_pool_decode,
			 "{\"metadata\":{\"name\":\"lab2\"},\"spec\":{\"addresses\":"
			 "[\"192.0.2.224/28\"]},\"status\":{\"nextIPv4\":\"192.0.2.230\"}}");
	assert_int_equal(w.pools[1]->n_next, 1);
	set_next(w.pools[0], "192.0.2.230");
	run(&w, own, &r);
	assert_int_equal(r.n_ahead, 1);
	assert_int_equal(r.ahead[0].role, RECONCILE_OWNER);
	reconcile_result_clear(&r);
	world_free(&w);
}

/* Addresses found in use ahead stay probed ahead though no pool names them
 * next (the controller skips them): only inside a pool, without a Service,
 * on the node that would own them, and once. */
static void test_ahead_keeps_addresses_found_in_use(void **state)
{
	static const char *names[3] = { "n1", "n2", "n3" };
	static const char *keep[4] = { "192.0.2.230", "192.0.2.200", "203.0.113.9", "192.0.2.215" };
	struct world w;
	struct reconcile_result r;
	char buf[IP_STRLEN];
	int got = 0;

	(void)state;
	world_init(&w);
	for (size_t k = 0; k < 4; k++)
		assert_int_equal(ip_parse(keep[k], &w.keep[w.n_keep++], NULL), 0);
	set_next(w.pools[0], "192.0.2.230"); /* kept and next: once */
	for (int i = 0; i < 3; i++) {
		run(&w, names[i], &r);
		for (size_t k = 0; k < r.n_ahead; k++) {
			ip_format(&r.ahead[k].addr, buf, sizeof(buf));
			/* Not the Service's address, not the one outside every pool. */
			assert_true(strcmp(buf, "192.0.2.230") == 0 ||
				    strcmp(buf, "192.0.2.215") == 0);
			assert_string_equal(owner_of(buf), names[i]);
			assert_true(r.ahead[k].probe);
			assert_null(r.ahead[k].svc);
			got++;
		}
		reconcile_result_clear(&r);
	}
	assert_int_equal(got, 2);
	/* One node alive: it probes both, sorted, the pool's next once. */
	w.dead[w.n_dead++] = "n2";
	w.dead[w.n_dead++] = "n3";
	run(&w, "n1", &r);
	assert_int_equal(r.n_ahead, 2);
	assert_string_equal(ip_format(&r.ahead[0].addr, buf, sizeof(buf)), "192.0.2.215");
	assert_string_equal(ip_format(&r.ahead[1].addr, buf, sizeof(buf)), "192.0.2.230");
	reconcile_result_clear(&r);
	/* Nothing kept: the pool's next alone. */
	w.n_keep = 0;
	run(&w, "n1", &r);
	assert_int_equal(r.n_ahead, 1);
	assert_string_equal(ip_format(&r.ahead[0].addr, buf, sizeof(buf)), "192.0.2.230");
	reconcile_result_clear(&r);
	world_free(&w);
}

static void test_ahead_dual_stack_sorted(void **state)
{
	struct world w;
	struct reconcile_result r;
	char buf[IP_STRLEN];

	(void)state;
	world_init(&w);
	obj_pool_free(w.pools[0], NULL);
	w.pools[0] = dec(obj_pool_decode,
			 "{\"metadata\":{\"name\":\"lab\"},\"spec\":{\"addresses\":"
			 "[\"192.0.2.200-192.0.2.239\",\"2001:db8::/120\"]},\"status\":"
			 "{\"nextIPv4\":\"192.0.2.230\",\"nextIPv6\":\"2001:db8::5\"}}");
	assert_int_equal(w.pools[0]->n_next, 2);
	/* n1 alone alive: it would own every address. */
	w.dead[w.n_dead++] = "n2";
	w.dead[w.n_dead++] = "n3";
	run(&w, "n1", &r);
	assert_int_equal(r.n_ahead, 2);
	assert_string_equal(ip_format(&r.ahead[0].addr, buf, sizeof(buf)), "192.0.2.230");
	assert_string_equal(ip_format(&r.ahead[1].addr, buf, sizeof(buf)), "2001:db8::5");
	reconcile_result_clear(&r);
	/* A second pool found later with a lower address: sorted still. */
	obj_pool_free(w.pools[1], NULL);
	w.pools[1] = dec(obj_pool_decode,
			 "{\"metadata\":{\"name\":\"low\"},\"spec\":{\"addresses\":"
			 "[\"192.0.2.201/32\"]},\"status\":{\"nextIPv4\":\"192.0.2.201\"}}");
	run(&w, "n1", &r);
	assert_int_equal(r.n_ahead, 3);
	assert_string_equal(ip_format(&r.ahead[0].addr, buf, sizeof(buf)), "192.0.2.201");
	assert_string_equal(ip_format(&r.ahead[1].addr, buf, sizeof(buf)), "192.0.2.230");
	assert_string_equal(ip_format(&r.ahead[2].addr, buf, sizeof(buf)), "2001:db8::5");
	for (size_t k = 0; k < r.n_ahead; k++) {
		assert_true(r.ahead[k].probe);
		assert_null(r.ahead[k].svc);
	}
	reconcile_result_clear(&r);
	world_free(&w);
}

static void test_ahead_not_on_excluded_or_unselected_node(void **state)
{
	static const char *names[3] = { "n1", "n2", "n3" };
	struct world w;
	struct reconcile_result r;
	const char *own = owner_of("192.0.2.210");
	int got = 0;

	(void)state;
	world_init(&w);
	set_next(w.pools[0], "192.0.2.210");
	/* The owner is excluded: it gets none, one of the others does. */
	for (size_t i = 0; i < w.n_nodes; i++)
		if (!strcmp(w.nodes[i]->name, own))
			w.nodes[i]->exclude = true;
	for (int i = 0; i < 3; i++) {
		run(&w, names[i], &r);
		if (!strcmp(names[i], own))
			assert_int_equal(r.n_ahead, 0);
		got += (int)r.n_ahead;
		reconcile_result_clear(&r);
	}
	assert_int_equal(got, 1);
	/* Every node excluded: nobody. */
	for (size_t i = 0; i < w.n_nodes; i++)
		w.nodes[i]->exclude = true;
	for (int i = 0; i < 3; i++) {
		run(&w, names[i], &r);
		assert_int_equal(r.n_ahead, 0);
		reconcile_result_clear(&r);
	}
	for (size_t i = 0; i < w.n_nodes; i++)
		w.nodes[i]->exclude = false;
	/* Only zone b (n3) selected: n3 alone gets it. */
	obj_l2adv_free(w.adv[0], NULL);
	w.adv[0] =
		dec(obj_l2adv_decode, "{\"metadata\":{\"name\":\"b\"},\"spec\":"
				      "{\"nodeSelectors\":[{\"matchLabels\":{\"zone\":\"b\"}}]}}");
	for (int i = 0; i < 3; i++) {
		run(&w, names[i], &r);
		assert_int_equal(r.n_ahead, i == 2 ? 1 : 0);
		reconcile_result_clear(&r);
	}
	world_free(&w);
}

static void test_ahead_bounded_sorted_and_distinct(void **state)
{
	enum { N = 70 };
	struct obj_pool *pools[N];
	struct world w;
	struct reconcile_result r;
	struct reconcile_input in;

	(void)state;
	world_init(&w);
	/* In descending order, so that sorting shows. */
	for (int i = 0; i < N; i++) {
		char text[256];

		snprintf(text, sizeof(text),
			 "{\"metadata\":{\"name\":\"p%d\"},\"spec\":{\"addresses\":"
			 "[\"198.51.100.0/24\"]},\"status\":{\"nextIPv4\":\"198.51.100.%d\"}}",
			 i, 200 - i);
		pools[i] = dec(obj_pool_decode, text);
	}
	w.dead[w.n_dead++] = "n2";
	w.dead[w.n_dead++] = "n3";
	in = (struct reconcile_input){
		.self = "n1",
		.nodes = (const struct obj_node *const *)w.nodes,
		.n_nodes = w.n_nodes,
		.pools = (const struct obj_pool *const *)pools,
		.n_pools = N,
		.adverts = (const struct obj_l2adv *const *)w.adv,
		.n_adverts = w.n_adv,
		.foreach_slice = foreach_slice,
		.alive = alive,
		.ud = &w,
	};
	assert_int_equal(reconcile_run(&in, &r), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.n_owned, 0);
	assert_int_equal(r.n_ahead, RECONCILE_MAX_AHEAD);
	for (size_t k = 1; k < r.n_ahead; k++)
		assert_true(ip_cmp(&r.ahead[k - 1].addr, &r.ahead[k].addr) < 0);
	reconcile_result_clear(&r);
	/* Every pool with the same next address: one entry. */
	for (int i = 0; i < N; i++)
		assert_int_equal(ip_parse("198.51.100.42", &pools[i]->next[0], NULL), 0);
	assert_int_equal(reconcile_run(&in, &r), 0);
	assert_int_equal(r.n_ahead, 1);
	reconcile_result_clear(&r);
	for (int i = 0; i < N; i++)
		obj_pool_free(pools[i], NULL);
	world_free(&w);
}

static void test_walk_finds_what_find_finds_for_ascending_addresses(void **state)
{
	static const char *const have[] = { "192.0.2.1", "192.0.2.5", "198.51.100.7", "2001:db8::1",
					    "2001:db8::9" };
	static const char *const ask[] = { "192.0.2.0",	 "192.0.2.1",	 "192.0.2.4",
					   "192.0.2.5",	 "198.51.100.7", "203.0.113.1",
					   "2001:db8::", "2001:db8::9",	 "2001:db8::a" };
	struct reconcile_addr addrs[5];
	struct reconcile_result r = { .addrs = addrs, .n = 5 };
	size_t pos = 0;

	(void)state;
	memset(addrs, 0, sizeof(addrs));
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(ip_parse(have[i], &addrs[i].addr, NULL), 0);
	for (size_t i = 0; i < sizeof(ask) / sizeof(ask[0]); i++) {
		struct ip_addr a;

		assert_int_equal(ip_parse(ask[i], &a, NULL), 0);
		assert_ptr_equal(reconcile_walk(&r, &pos, &a), reconcile_find(&r, &a));
	}
	assert_int_equal(pos, 5);
	/* An empty result finds nothing. */
	r.n = 0;
	pos = 0;
	assert_null(reconcile_walk(&r, &pos, &addrs[0].addr));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_node_computes_the_same_single_owner),
		cmocka_unit_test(test_walk_finds_what_find_finds_for_ascending_addresses),
		cmocka_unit_test(test_dead_owner_moves_address_to_first_backup),
		cmocka_unit_test(test_external_ips_only_inside_an_allowing_pool),
		cmocka_unit_test(test_ineligible_node_reports_its_reason),
		cmocka_unit_test(test_node_selectors_interfaces_and_probe),
		cmocka_unit_test(test_excluded_node_unless_ignored),
		cmocka_unit_test(test_node_that_cannot_announce_is_ineligible_everywhere),
		cmocka_unit_test(test_named_interfaces_do_not_ask_can_announce),
		cmocka_unit_test(test_ahead_only_on_the_node_that_would_own_it),
		cmocka_unit_test(test_ahead_skips_addresses_services_hold),
		cmocka_unit_test(test_ahead_needs_an_advertisement_selecting_the_pool),
		cmocka_unit_test(test_ahead_same_address_in_two_pools_once),
		cmocka_unit_test(test_ahead_keeps_addresses_found_in_use),
		cmocka_unit_test(test_ahead_dual_stack_sorted),
		cmocka_unit_test(test_ahead_not_on_excluded_or_unselected_node),
		cmocka_unit_test(test_ahead_bounded_sorted_and_distinct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
