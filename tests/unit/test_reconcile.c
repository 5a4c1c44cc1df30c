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
		.announced = announced,
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
	assert_string_equal(ra->ifnames[0], "eth0");
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_node_computes_the_same_single_owner),
		cmocka_unit_test(test_dead_owner_moves_address_to_first_backup),
		cmocka_unit_test(test_external_ips_only_inside_an_allowing_pool),
		cmocka_unit_test(test_ineligible_node_reports_its_reason),
		cmocka_unit_test(test_node_selectors_interfaces_and_probe),
		cmocka_unit_test(test_excluded_node_unless_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
