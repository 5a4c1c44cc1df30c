/* Unit tests for speaker/eligibility.c: each input that makes a node
 * ineligible, the order in which reasons are reported, the eligible set
 * across nodes, and the texts shown by ironlbctl.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../speaker/election.h"
#include "../../speaker/eligibility.h"

static const struct eligibility_advert selected_ok[] = { { .node_selected = true,
							   .interface_ok = true } };

static struct eligibility_service svc_cluster(void)
{
	return (struct eligibility_service){ .has_serving_endpoint = true };
}

static struct eligibility_node good_node(const char *name)
{
	return (struct eligibility_node){
		.name = name,
		.adverts = selected_ok,
		.n_adverts = 1,
	};
}

static void test_healthy_node_is_eligible(void **state)
{
	struct eligibility_service svc = svc_cluster();
	struct eligibility_node n = good_node("worker-1");

	(void)state;
	assert_int_equal(eligibility_check(&svc, &n), ELIGIBILITY_OK);
	assert_string_equal(eligibility_reason_str(ELIGIBILITY_OK), "eligible");
}

static void test_network_unavailable_node_is_not_eligible(void **state)
{
	struct eligibility_service svc = svc_cluster();
	struct eligibility_node n = good_node("worker-1");

	(void)state;
	n.network_unavailable = true;
	assert_int_equal(eligibility_check(&svc, &n), ELIGIBILITY_NETWORK_UNAVAILABLE);
}

static void test_exclude_label_makes_node_ineligible_unless_ignored(void **state)
{
	struct eligibility_service svc = svc_cluster();
	struct eligibility_node n = good_node("worker-1");

	(void)state;
	n.exclude_label = true;
	assert_int_equal(eligibility_check(&svc, &n), ELIGIBILITY_EXCLUDED);
	svc.ignore_exclude_lb = true;
	assert_int_equal(eligibility_check(&svc, &n), ELIGIBILITY_OK);
}

static void test_no_advertisement_for_pool_is_not_eligible(void **state)
{
	struct eligibility_service svc = svc_cluster();
	struct eligibility_node n = good_node("worker-1");

	(void)state;
	n.adverts = NULL;
	n.n_adverts = 0;
	assert_int_equal(eligibility_check(&svc, &n), ELIGIBILITY_NO_ADVERTISEMENT);
	/* A count without an array is treated as none. */
	n.n_adverts = 3;
	assert_int_equal(eligibility_check(&svc, &n), ELIGIBILITY_NO_ADVERTISEMENT);
}

static void test_node_selectors_not_matching_is_not_eligible(void **state)
{
	const struct eligibility_advert adv[] = {
		{ .node_selected = false, .interface_ok = true },
		{ .node_selected = false, .interface_ok = true },
	};
	struct eligibility_service svc = svc_cluster();
	struct eligibility_node n = good_node("worker-1");

	(void)state;
	n.adverts = adv;
	n.n_adverts = 2;
	assert_int_equal(eligibility_check(&svc, &n), ELIGIBILITY_NODE_NOT_SELECTED);
}

static void test_selected_without_usable_interface_is_not_eligible(void **state)
{
	/* The one that has the interface does not select the node. */
	const struct eligibility_advert adv[] = {
		{ .node_selected = true, .interface_ok = false },
		{ .node_selected = false, .interface_ok = true },
	};
	struct eligibility_service svc = svc_cluster();
	struct eligibility_node n = good_node("worker-1");

	(void)state;
	n.adverts = adv;
	n.n_adverts = 2;
	assert_int_equal(eligibility_check(&svc, &n), ELIGIBILITY_NO_INTERFACE);
}

static void test_any_selecting_advertisement_with_interface_suffices(void **state)
{
	const struct eligibility_advert adv[] = {
		{ .node_selected = false, .interface_ok = false },
		{ .node_selected = true, .interface_ok = false },
		{ .node_selected = true, .interface_ok = true },
	};
	struct eligibility_service svc = svc_cluster();
	struct eligibility_node n = good_node("worker-1");

	(void)state;
	n.adverts = adv;
	n.n_adverts = 3;
	assert_int_equal(eligibility_check(&svc, &n), ELIGIBILITY_OK);
}

static void test_service_without_serving_endpoint_is_not_announced(void **state)
{
	struct eligibility_service svc = svc_cluster();
	struct eligibility_node n = good_node("worker-1");

	(void)state;
	svc.has_serving_endpoint = false;
	n.has_ready_local_endpoint = true; /* inconsistent input: still refused */
	assert_int_equal(eligibility_check(&svc, &n), ELIGIBILITY_NO_SERVING_ENDPOINT);
	svc.traffic_policy_local = true;
	assert_int_equal(eligibility_check(&svc, &n), ELIGIBILITY_NO_SERVING_ENDPOINT);
}

static void test_local_policy_requires_ready_local_endpoint(void **state)
{
	struct eligibility_service svc = svc_cluster();
	struct eligibility_node n = good_node("worker-1");

	(void)state;
	svc.traffic_policy_local = true;
	assert_int_equal(eligibility_check(&svc, &n), ELIGIBILITY_NO_LOCAL_ENDPOINT);
	assert_string_equal(eligibility_reason_str(ELIGIBILITY_NO_LOCAL_ENDPOINT),
			    "no ready local endpoint (externalTrafficPolicy Local)");
	assert_string_equal(eligibility_reason_id(ELIGIBILITY_NO_LOCAL_ENDPOINT),
			    "no_local_endpoint");
	n.has_ready_local_endpoint = true;
	assert_int_equal(eligibility_check(&svc, &n), ELIGIBILITY_OK);
}

static void test_cluster_policy_ignores_local_endpoints(void **state)
{
	struct eligibility_service svc = svc_cluster();
	struct eligibility_node n = good_node("worker-1");

	(void)state;
	n.has_ready_local_endpoint = false;
	assert_int_equal(eligibility_check(&svc, &n), ELIGIBILITY_OK);
}

static void test_first_failing_check_is_reported(void **state)
{
	struct eligibility_service svc = { .traffic_policy_local = true };
	struct eligibility_node n = { .name = "w",
				      .exclude_label = true,
				      .network_unavailable = true };

	(void)state;
	/* Everything wrong: the reasons come off one at a time, in enum order. */
	assert_int_equal(eligibility_check(&svc, &n), ELIGIBILITY_NETWORK_UNAVAILABLE);
	n.network_unavailable = false;
	assert_int_equal(eligibility_check(&svc, &n), ELIGIBILITY_EXCLUDED);
	n.exclude_label = false;
	assert_int_equal(eligibility_check(&svc, &n), ELIGIBILITY_NO_ADVERTISEMENT);
	n.adverts = (const struct eligibility_advert[]){ { .node_selected = false } };
	n.n_adverts = 1;
	assert_int_equal(eligibility_check(&svc, &n), ELIGIBILITY_NODE_NOT_SELECTED);
	n.adverts = (const struct eligibility_advert[]){ { .node_selected = true } };
	assert_int_equal(eligibility_check(&svc, &n), ELIGIBILITY_NO_INTERFACE);
	n.adverts = selected_ok;
	assert_int_equal(eligibility_check(&svc, &n), ELIGIBILITY_NO_SERVING_ENDPOINT);
	svc.has_serving_endpoint = true;
	assert_int_equal(eligibility_check(&svc, &n), ELIGIBILITY_NO_LOCAL_ENDPOINT);
	n.has_ready_local_endpoint = true;
	assert_int_equal(eligibility_check(&svc, &n), ELIGIBILITY_OK);
}

static void test_select_keeps_eligible_nodes_in_input_order(void **state)
{
	struct eligibility_service svc = svc_cluster();
	struct eligibility_node nodes[5];
	size_t idx[5];

	(void)state;
	for (int i = 0; i < 5; i++)
		nodes[i] = good_node((const char *[]){ "a", "b", "c", "d", "e" }[i]);
	nodes[1].exclude_label = true;
	nodes[3].network_unavailable = true;
	assert_int_equal(eligibility_select(&svc, nodes, 5, idx), 3);
	assert_int_equal(idx[0], 0);
	assert_int_equal(idx[1], 2);
	assert_int_equal(idx[2], 4);
	svc.has_serving_endpoint = false;
	assert_int_equal(eligibility_select(&svc, nodes, 5, idx), 0);
	assert_int_equal(eligibility_select(&svc, nodes, 0, idx), 0);
}

static void test_local_policy_elects_only_nodes_with_endpoints(void **state)
{
	const char *names[] = { "worker-1", "worker-2", "worker-3", "worker-4" };
	struct eligibility_service svc = svc_cluster();
	struct eligibility_node nodes[4];
	size_t idx[4], k;
	const char *eligible[4];

	(void)state;
	svc.traffic_policy_local = true;
	for (int i = 0; i < 4; i++) {
		nodes[i] = good_node(names[i]);
		nodes[i].has_ready_local_endpoint = i == 1 || i == 3;
	}
	k = eligibility_select(&svc, nodes, 4, idx);
	assert_int_equal(k, 2);
	for (size_t i = 0; i < k; i++)
		eligible[i] = nodes[idx[i]].name;
	for (uint32_t h = 0; h < 200; h++) {
		struct ip_addr a;
		const char *owner;

		ip_from_u128(AF_INET, 0xc0000200u + h, &a);
		owner = eligible[election_owner(&a, eligible, k)];
		assert_true(strcmp(owner, "worker-2") == 0 || strcmp(owner, "worker-4") == 0);
	}
}

static void test_every_reason_has_distinct_text_and_token(void **state)
{
	(void)state;
	for (int r = 0; r < ELIGIBILITY_REASON_MAX; r++) {
		const char *id = eligibility_reason_id(r), *str = eligibility_reason_str(r);

		assert_non_null(id);
		assert_non_null(str);
		assert_true(strlen(str) > 0);
		for (const char *p = id; *p; p++)
			assert_true((*p >= 'a' && *p <= 'z') || *p == '_');
		for (int q = 0; q < r; q++) {
			assert_string_not_equal(id, eligibility_reason_id(q));
			assert_string_not_equal(str, eligibility_reason_str(q));
		}
	}
	assert_string_equal(eligibility_reason_id(ELIGIBILITY_REASON_MAX), "unknown");
	assert_string_equal(eligibility_reason_str((enum eligibility_reason) - 1),
			    "unknown reason");
	assert_non_null(strstr(eligibility_reason_str(ELIGIBILITY_EXCLUDED),
			       "node.kubernetes.io/exclude-from-external-load-balancers"));
}

int main(void)
{
	const struct CMUnitTest eligibility_tests[] = {
		cmocka_unit_test(test_healthy_node_is_eligible),
		cmocka_unit_test(test_network_unavailable_node_is_not_eligible),
		cmocka_unit_test(test_exclude_label_makes_node_ineligible_unless_ignored),
		cmocka_unit_test(test_no_advertisement_for_pool_is_not_eligible),
		cmocka_unit_test(test_node_selectors_not_matching_is_not_eligible),
		cmocka_unit_test(test_selected_without_usable_interface_is_not_eligible),
		cmocka_unit_test(test_any_selecting_advertisement_with_interface_suffices),
		cmocka_unit_test(test_service_without_serving_endpoint_is_not_announced),
		cmocka_unit_test(test_local_policy_requires_ready_local_endpoint),
		cmocka_unit_test(test_cluster_policy_ignores_local_endpoints),
		cmocka_unit_test(test_first_failing_check_is_reported),
		cmocka_unit_test(test_select_keeps_eligible_nodes_in_input_order),
		cmocka_unit_test(test_local_policy_elects_only_nodes_with_endpoints),
		cmocka_unit_test(test_every_reason_has_distinct_text_and_token),
	};

	return cmocka_run_group_tests(eligibility_tests, NULL, NULL);
}
