/* Unit tests for controller/pool.c: decoding an IPAddressPool, the problems
 * it reports (each naming the field), sizes per family with avoidBuggyIPs,
 * serviceAllocation matching, ordering, and overlaps between pools.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../controller/pool.h"
#include "../../controller/service.h"

static json_t *j(const char *text)
{
	char *buf = strdup(text);
	json_error_t e;
	json_t *v;

	assert_non_null(buf);
	for (char *p = buf; *p; p++)
		if (*p == '\'')
			*p = '"';
	v = json_loads(buf, JSON_DECODE_ANY, &e);
	if (!v)
		fail_msg("bad test JSON %s: %s", buf, e.text);
	free(buf);
	return v;
}

/* A pool named name, created at second `created` of 2024, with spec. */
static struct pool *P(const char *name, int created, const char *spec)
{
	char buf[8192], err[POOL_ERR_MAX] = "";
	struct pool *p = NULL;
	json_t *v;

	snprintf(buf, sizeof(buf),
		 "{'apiVersion':'ironlb.io/v1beta1','kind':'IPAddressPool','metadata':{'name':'%s',"
		 "'namespace':'ironlb-system','generation':3,'creationTimestamp':"
		 "'2024-01-01T00:%02d:%02dZ'},'spec':%s}",
		 name, created / 60, created % 60, spec);
	v = j(buf);
	if (pool_from_json(v, &p, err, sizeof(err)) != 0)
		fail_msg("pool %s rejected: %s", name, err);
	json_decref(v);
	return p;
}

static struct ip_addr ip(const char *s)
{
	struct ip_addr a;

	assert_int_equal(ip_parse(s, &a, NULL), 0);
	return a;
}

static bool contains(const struct pool *p, const char *s)
{
	struct ip_addr a = ip(s);

	return pool_contains(p, &a);
}

static void has_problem(const struct pool *p, const char *want)
{
	for (size_t i = 0; i < p->nproblems; i++)
		if (strcmp(p->problems[i], want) == 0)
			return;
	for (size_t i = 0; i < p->noverlaps; i++)
		if (strcmp(p->overlaps[i], want) == 0)
			return;
	{
		char *msg = pool_condition_message(p);

		fail_msg("pool %s lacks problem \"%s\"; has: %s", p->name, want, msg);
	}
}

static void test_pool_decodes_valid_pool(void **state)
{
	struct pool *p =
		P("default", 1,
		  "{'addresses':['198.51.100.0/24','2001:db8::/64','203.0.113.10-203.0.113.19',"
		  "'192.0.2.7']}");
	char buf[POOL_COUNT_STRLEN];

	assert_true(pool_valid(p));
	assert_string_equal(p->name, "default");
	assert_int_equal(p->generation, 3);
	assert_int_equal(p->nranges, 4);
	/* Sorted by address, IPv4 first; spec positions kept for messages. */
	assert_int_equal(p->ranges[0].index, 3);
	assert_int_equal(p->ranges[1].index, 0);
	assert_int_equal(p->ranges[2].index, 2);
	assert_int_equal(p->ranges[3].index, 1);
	assert_string_equal(p->ranges[1].text, "198.51.100.0/24");
	assert_true(p->auto_assign);
	assert_false(p->avoid_buggy_ips);
	assert_false(p->allow_external_ips);
	assert_false(p->has_priority);
	assert_false(p->unparsed);
	assert_true(p->size4 == 256 + 10 + 1);
	assert_string_equal(pool_format_count(p->size6, buf), "18446744073709551616");
	assert_true(pool_has_family(p, AF_INET));
	assert_true(pool_has_family(p, AF_INET6));
	assert_string_equal(pool_condition_reason(p), "Valid");
	{
		char *msg = pool_condition_message(p);

		assert_string_equal(msg, "");
		free(msg);
	}
	pool_free(p);
}

static void test_pool_flags_and_allocation_decoded(void **state)
{
	struct pool *p =
		P("gold", 1,
		  "{'addresses':['198.51.100.0/28'],'autoAssign':false,'avoidBuggyIPs':true,"
		  "'allowExternalIPs':true,'serviceAllocation':{'priority':5,'namespaces':"
		  "['web','db'],'namespaceSelectors':[{'matchLabels':{'team':'a'}}],"
		  "'serviceSelectors':[{'matchExpressions':[{'key':'tier','operator':'In',"
		  "'values':['front']}]}]}}");

	assert_true(pool_valid(p));
	assert_false(p->auto_assign);
	assert_true(p->avoid_buggy_ips);
	assert_true(p->allow_external_ips);
	assert_true(p->has_priority);
	assert_int_equal(p->priority, 5);
	assert_int_equal(p->nnamespaces, 2);
	assert_int_equal(p->nns_selectors, 1);
	assert_int_equal(p->nsvc_selectors, 1);
	/* .0 is skipped with avoidBuggyIPs; .15 is not a .255. */
	assert_true(p->size4 == 15);
	pool_free(p);
}

static void test_pool_bad_entry_named_and_others_kept(void **state)
{
	struct pool *p = P("p", 1,
			   "{'addresses':['198.51.100.0/25','203.0.113.0/24','198.51.100.5/24',"
			   "'2001:db8::/64',7,'198.51.100.300']}");

	assert_false(pool_valid(p));
	assert_true(p->unparsed);
	has_problem(p, "spec.addresses[2]: \"198.51.100.5/24\": host bits set");
	has_problem(p, "spec.addresses[4]: not a string");
	has_problem(p, "spec.addresses[5]: \"198.51.100.300\": IPv4 octet out of range");
	assert_int_equal(p->nproblems, 3);
	assert_int_equal(p->nranges, 3);
	assert_true(contains(p, "198.51.100.1"));
	assert_true(contains(p, "2001:db8::1"));
	assert_false(contains(p, "198.51.100.200"));
	assert_string_equal(pool_condition_reason(p), "InvalidAddresses");
	{
		char *msg = pool_condition_message(p);

		assert_string_equal(msg, "spec.addresses[2]: \"198.51.100.5/24\": host bits set; "
					 "spec.addresses[4]: not a string; spec.addresses[5]: "
					 "\"198.51.100.300\": IPv4 octet out of range");
		free(msg);
	}
	pool_free(p);
}

static void test_pool_overlap_inside_pool_names_both_entries(void **state)
{
	struct pool *p = P("p", 1,
			   "{'addresses':['198.51.100.0/24','203.0.113.0/24','198.51.100.128/25',"
			   "'198.51.100.10-198.51.100.12']}");

	assert_false(pool_valid(p));
	assert_false(p->unparsed);
	has_problem(p, "spec.addresses[2]: \"198.51.100.128/25\" overlaps spec.addresses[0] "
		       "\"198.51.100.0/24\"");
	has_problem(p, "spec.addresses[3]: \"198.51.100.10-198.51.100.12\" overlaps "
		       "spec.addresses[0] \"198.51.100.0/24\"");
	assert_int_equal(p->nproblems, 2);
	assert_string_equal(pool_condition_reason(p), "Overlap");
	/* Containment still answers for the overlapping entries. */
	assert_true(contains(p, "198.51.100.200"));
	assert_true(contains(p, "203.0.113.1"));
	pool_free(p);
}

static void test_pool_empty_and_missing_addresses(void **state)
{
	struct pool *p = P("p", 1, "{'addresses':[]}");

	assert_false(pool_valid(p));
	assert_false(p->unparsed);
	has_problem(p, "spec.addresses: empty");
	assert_string_equal(pool_condition_reason(p), "Empty");
	pool_free(p);
	p = P("p", 1, "{}");
	has_problem(p, "spec.addresses: missing");
	assert_true(p->unparsed);
	assert_string_equal(pool_condition_reason(p), "InvalidSpec");
	pool_free(p);
	p = P("p", 1, "{'addresses':'198.51.100.0/24'}");
	has_problem(p, "spec.addresses: not an array");
	pool_free(p);
	p = P("p", 1, "[]");
	has_problem(p, "spec: not an object");
	assert_true(p->unparsed);
	pool_free(p);
}

static void test_pool_wrong_types_name_the_field(void **state)
{
	struct pool *p =
		P("p", 1,
		  "{'addresses':['198.51.100.0/24'],'autoAssign':'yes','avoidBuggyIPs':1,"
		  "'allowExternalIPs':null,'serviceAllocation':{'priority':'high','namespaces':"
		  "['ok','Bad_NS',3],'namespaceSelectors':[{'matchLabels':{'a':'b'}},"
		  "{'matchExpressions':[{'key':'x','operator':'Near'}]}],'serviceSelectors':{}}}");

	assert_false(pool_valid(p));
	has_problem(p, "spec.autoAssign: not a boolean");
	has_problem(p, "spec.avoidBuggyIPs: not a boolean");
	has_problem(p, "spec.serviceAllocation.priority: not an integer");
	has_problem(p, "spec.serviceAllocation.namespaces[1]: \"Bad_NS\" is not a valid namespace "
		       "name");
	has_problem(p, "spec.serviceAllocation.namespaces[2]: not a string");
	has_problem(p, "spec.serviceAllocation.namespaceSelectors[1].matchExpressions[0].operator: "
		       "\"Near\" is not one of In, NotIn, Exists, DoesNotExist");
	has_problem(p, "spec.serviceAllocation.serviceSelectors: not an array");
	assert_int_equal(p->nproblems, 7);
	/* Defaults stand where the value was unusable. */
	assert_true(p->auto_assign);
	assert_false(p->unparsed);
	assert_string_equal(pool_condition_reason(p), "InvalidSpec");
	pool_free(p);
	p = P("p", 1, "{'addresses':['198.51.100.0/24'],'serviceAllocation':7}");
	has_problem(p, "spec.serviceAllocation: not an object");
	pool_free(p);
}

static void test_pool_without_name_is_rejected(void **state)
{
	char err[POOL_ERR_MAX];
	struct pool *p = (struct pool *)0x1;
	json_t *v = j("{'metadata':{},'spec':{'addresses':['198.51.100.0/24']}}");

	assert_int_equal(pool_from_json(v, &p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "metadata.name: missing");
	json_decref(v);
	v = j("{'spec':{}}");
	assert_int_equal(pool_from_json(v, &p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "metadata: missing");
	json_decref(v);
	v = j("7");
	assert_int_equal(pool_from_json(v, &p, NULL, 0), -EINVAL);
	json_decref(v);
	assert_ptr_equal(p, (struct pool *)0x1);
	pool_free(NULL);
}

static void test_pool_avoid_buggy_ips_excludes_dot0_and_dot255(void **state)
{
	struct pool *p = P("p", 1,
			   "{'addresses':['198.51.100.0/23','2001:db8::/126'],"
			   "'avoidBuggyIPs':true}");

	assert_false(contains(p, "198.51.100.0"));
	assert_false(contains(p, "198.51.100.255"));
	assert_false(contains(p, "198.51.101.0"));
	assert_true(contains(p, "198.51.100.1"));
	assert_true(contains(p, "198.51.101.254"));
	/* IPv6 is unaffected. */
	assert_true(contains(p, "2001:db8::"));
	assert_true(p->size4 == 512 - 4);
	assert_true(p->size6 == 4);
	assert_true(pool_ip_buggy(&(struct ip_addr){ .family = AF_INET, .bytes = { 1, 2, 3, 0 } }));
	assert_false(pool_ip_buggy(&(struct ip_addr){ .family = AF_INET6 }));
	pool_free(p);
	/* A range of only buggy addresses has none to give. */
	p = P("p", 1, "{'addresses':['198.51.100.255-198.51.101.0'],'avoidBuggyIPs':true}");
	assert_true(p->size4 == 0);
	assert_false(pool_has_family(p, AF_INET));
	pool_free(p);
}

static void test_pool_sizes_saturate(void **state)
{
	struct pool *p = P("p", 1, "{'addresses':['::/0','0.0.0.0/0']}");
	char buf[POOL_COUNT_STRLEN];

	assert_true(p->size6 == ~(ip_u128)0);
	assert_string_equal(pool_format_count(p->size6, buf),
			    "340282366920938463463374607431768211455");
	assert_string_equal(pool_format_count(p->size4, buf), "4294967296");
	assert_string_equal(pool_format_count(0, buf), "0");
	pool_free(p);
}

static void test_pool_serves_namespaces_and_selectors(void **state)
{
	struct pool *all = P("all", 1, "{'addresses':['198.51.100.0/24']}");
	struct pool *ns =
		P("ns", 1,
		  "{'addresses':['198.51.100.0/24'],'serviceAllocation':{"
		  "'namespaces':['web'],'namespaceSelectors':[{'matchLabels':{'team':'a'}}]}}");
	struct pool *svc = P("svc", 1,
			     "{'addresses':['198.51.100.0/24'],'serviceAllocation':{"
			     "'serviceSelectors':[{'matchLabels':{'tier':'front'}},"
			     "{'matchLabels':{'tier':'edge'}}]}}");
	struct pool *both =
		P("both", 1,
		  "{'addresses':['198.51.100.0/24'],'serviceAllocation':{"
		  "'namespaces':['web'],'serviceSelectors':[{'matchLabels':{'tier':'front'}}]}}");
	struct labels *team_a = NULL, *team_b = NULL, *front = NULL, *edge = NULL, *back = NULL;
	json_t *v;

	v = j("{'team':'a'}");
	labels_from_json(v, "x", &team_a, NULL, 0);
	json_decref(v);
	v = j("{'team':'b'}");
	labels_from_json(v, "x", &team_b, NULL, 0);
	json_decref(v);
	v = j("{'tier':'front'}");
	labels_from_json(v, "x", &front, NULL, 0);
	json_decref(v);
	v = j("{'tier':'edge'}");
	labels_from_json(v, "x", &edge, NULL, 0);
	json_decref(v);
	v = j("{'tier':'back'}");
	labels_from_json(v, "x", &back, NULL, 0);
	json_decref(v);

	assert_true(pool_serves(all, "any", NULL, NULL));
	assert_true(pool_serves(ns, "web", NULL, NULL));
	assert_true(pool_serves(ns, "other", team_a, NULL));
	assert_false(pool_serves(ns, "other", team_b, NULL));
	assert_false(pool_serves(ns, "other", NULL, front));
	assert_true(pool_serves(svc, "any", NULL, front));
	assert_true(pool_serves(svc, "any", NULL, edge));
	assert_false(pool_serves(svc, "any", NULL, back));
	assert_false(pool_serves(svc, "any", NULL, NULL));
	assert_true(pool_serves(both, "web", NULL, front));
	assert_false(pool_serves(both, "web", NULL, back));
	assert_false(pool_serves(both, "db", NULL, front));

	labels_free(team_a);
	labels_free(team_b);
	labels_free(front);
	labels_free(edge);
	labels_free(back);
	pool_free(all);
	pool_free(ns);
	pool_free(svc);
	pool_free(both);
}

static void test_pool_priority_order(void **state)
{
	struct pool *a = P("a", 1, "{'addresses':['198.51.100.0/28']}");
	struct pool *b =
		P("b", 1, "{'addresses':['198.51.100.16/28'],'serviceAllocation':{'priority':10}}");
	struct pool *c =
		P("c", 1, "{'addresses':['198.51.100.32/28'],'serviceAllocation':{'priority':1}}");
	struct pool *d =
		P("d", 1, "{'addresses':['198.51.100.48/28'],'serviceAllocation':{'priority':1}}");

	/* Lowest priority value first, ties by name, pools without one last. */
	assert_true(pool_cmp_priority(c, d) < 0);
	assert_true(pool_cmp_priority(d, b) < 0);
	assert_true(pool_cmp_priority(b, a) < 0);
	assert_true(pool_cmp_priority(a, c) > 0);
	assert_int_equal(pool_cmp_priority(a, a), 0);
	pool_free(a);
	pool_free(b);
	pool_free(c);
	pool_free(d);
}

static void test_pool_overlap_between_pools_older_stays_valid(void **state)
{
	struct pool *young = P("aaa", 30, "{'addresses':['198.51.100.128/25','2001:db8::/64']}");
	struct pool *old = P("zzz", 10, "{'addresses':['198.51.100.0/24']}");
	struct pool *other = P("other", 20, "{'addresses':['203.0.113.0/24','2001:db8:1::/64']}");
	struct pool *pools[] = { young, old, other };

	assert_int_equal(pool_check_overlaps(pools, 3), 0);
	assert_true(pool_valid(old));
	assert_true(pool_valid(other));
	assert_false(pool_valid(young));
	has_problem(young, "spec.addresses[0]: \"198.51.100.128/25\" overlaps \"198.51.100.0/24\" "
			   "(spec.addresses[0]) of the older IPAddressPool \"zzz\"");
	assert_int_equal(young->noverlaps, 1);
	assert_string_equal(pool_condition_reason(young), "Overlap");
	/* Re-checking without the older pool clears the problem. */
	pools[1] = other;
	assert_int_equal(pool_check_overlaps(pools, 2), 0);
	assert_true(pool_valid(young));
	pool_free(young);
	pool_free(old);
	pool_free(other);
}

static void test_pool_overlap_same_age_decided_by_name(void **state)
{
	struct pool *b = P("b", 5, "{'addresses':['198.51.100.10-198.51.100.20']}");
	struct pool *a = P("a", 5, "{'addresses':['198.51.100.20-198.51.100.30']}");
	struct pool *pools[] = { b, a };

	pool_check_overlaps(pools, 2);
	assert_true(pool_valid(a));
	assert_false(pool_valid(b));
	has_problem(b, "spec.addresses[0]: \"198.51.100.10-198.51.100.20\" overlaps "
		       "\"198.51.100.20-198.51.100.30\" (spec.addresses[0]) of the older "
		       "IPAddressPool \"a\"");
	/* Different families never overlap. */
	pool_free(a);
	pool_free(b);
	a = P("a", 5, "{'addresses':['::ffff:198.51.100.20/128']}");
	b = P("b", 5, "{'addresses':['198.51.100.20']}");
	pools[0] = a;
	pools[1] = b;
	pool_check_overlaps(pools, 2);
	assert_true(pool_valid(a) && pool_valid(b));
	pool_free(a);
	pool_free(b);
}

static void test_pool_problems_are_capped(void **state)
{
	char spec[4096] = "{'addresses':[";
	struct pool *p;
	char *msg;

	for (int i = 0; i < 40; i++)
		snprintf(spec + strlen(spec), sizeof(spec) - strlen(spec), "%s'bad%d'",
			 i ? "," : "", i);
	strcat(spec, "]}");
	p = P("p", 1, spec);
	assert_int_equal(p->nproblems, POOL_MAX_PROBLEMS);
	msg = pool_condition_message(p);
	assert_non_null(strstr(msg, "; and 24 more"));
	free(msg);
	pool_free(p);
}

static void test_pool_too_many_entries_is_a_problem(void **state)
{
	json_t *v = j("{'metadata':{'name':'big'},'spec':{'addresses':[]}}");
	json_t *arr = json_object_get(json_object_get(v, "spec"), "addresses");
	struct pool *p = NULL;

	for (int i = 0; i < POOL_MAX_ENTRIES + 10; i++) {
		char buf[64];

		snprintf(buf, sizeof(buf), "10.%d.%d.0/24", i / 256, i % 256);
		json_array_append_new(arr, json_string(buf));
	}
	assert_int_equal(pool_from_json(v, &p, NULL, 0), 0);
	assert_int_equal(p->nranges, POOL_MAX_ENTRIES);
	assert_true(p->unparsed);
	has_problem(p, "spec.addresses: more than 4096 entries; the rest is ignored");
	pool_free(p);
	json_decref(v);
}

static void test_pool_overlap_check_is_not_quadratic_on_hostile_input(void **state)
{
	enum { NP = 8 };
	struct pool *pools[NP];
	clock_t t0 = clock();

	/* Every entry of every pool overlaps every other: 8 x 4096 entries
	 * would be half a billion pairs if compared naively. */
	for (int i = 0; i < NP; i++) {
		json_t *v = j("{'metadata':{'name':'x'},'spec':{'addresses':[]}}");
		json_t *arr = json_object_get(json_object_get(v, "spec"), "addresses");
		char name[16];

		for (int e = 0; e < POOL_MAX_ENTRIES; e++) {
			char buf[64];

			snprintf(buf, sizeof(buf), "10.0.0.%d-10.255.255.255", e % 200);
			json_array_append_new(arr, json_string(buf));
		}
		snprintf(name, sizeof(name), "p%d", i);
		json_object_set_new(json_object_get(v, "metadata"), "name", json_string(name));
		assert_int_equal(pool_from_json(v, &pools[i], NULL, 0), 0);
		json_decref(v);
	}
	assert_int_equal(pool_check_overlaps(pools, NP), 0);
	assert_true(pool_valid(pools[0]) == false); /* overlaps itself */
	for (int i = 1; i < NP; i++)
		assert_true(pools[i]->noverlaps > 0);
	for (int i = 0; i < NP; i++)
		pool_free(pools[i]);
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 20.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_decodes_valid_pool),
		cmocka_unit_test(test_pool_flags_and_allocation_decoded),
		cmocka_unit_test(test_pool_bad_entry_named_and_others_kept),
		cmocka_unit_test(test_pool_overlap_inside_pool_names_both_entries),
		cmocka_unit_test(test_pool_empty_and_missing_addresses),
		cmocka_unit_test(test_pool_wrong_types_name_the_field),
		cmocka_unit_test(test_pool_without_name_is_rejected),
		cmocka_unit_test(test_pool_avoid_buggy_ips_excludes_dot0_and_dot255),
		cmocka_unit_test(test_pool_sizes_saturate),
		cmocka_unit_test(test_pool_serves_namespaces_and_selectors),
		cmocka_unit_test(test_pool_priority_order),
		cmocka_unit_test(test_pool_overlap_between_pools_older_stays_valid),
		cmocka_unit_test(test_pool_overlap_same_age_decided_by_name),
		cmocka_unit_test(test_pool_problems_are_capped),
		cmocka_unit_test(test_pool_too_many_entries_is_a_problem),
		cmocka_unit_test(test_pool_overlap_check_is_not_quadratic_on_hostile_input),
	};

	return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
