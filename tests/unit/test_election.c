/* Unit tests for speaker/election.c: SipHash-2-4 known answers, and the
 * properties rendezvous hashing promises: one owner whatever the order of
 * the nodes, minimal movement when a node joins or leaves, a roughly uniform
 * spread, a total order for backups and for the step-down rule. All inputs
 * are fixed, so every bound below is checked against one deterministic
 * outcome; the bounds are what a good hash meets with overwhelming
 * probability, so a failure means the hash or its encoding broke.
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

#include "ironlb/addr.h"
#include "../../speaker/election.h"

#define N_ADDRS 10000

static struct ip_addr v4(uint32_t host)
{
	struct ip_addr a;

	/* 198.51.100.0 upwards (past the /24 for large host numbers: only the
	 * bits matter here). */
	ip_from_u128(AF_INET, (ip_u128)0xc6336400u + host, &a);
	return a;
}

static struct ip_addr v6(uint32_t host)
{
	struct ip_addr a;

	ip_from_u128(AF_INET6, ((ip_u128)0x20010db8u << 96) + host, &a);
	return a;
}

static struct ip_addr parse(const char *s)
{
	struct ip_addr a;

	assert_int_equal(ip_parse(s, &a, NULL), 0);
	return a;
}

static void test_siphash24_matches_reference_vectors(void **state)
{
	/* Key 00..0f, message 00..n-1: the reference implementation's table. */
	static const uint64_t want[] = {
		0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL, 0x0d6c8009d9a94f5aULL,
		0x85676696d7fb7e2dULL, 0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL,
		0xcbc9466e58fee3ceULL, 0xab0200f58b01d137ULL, 0x93f5f5799a932462ULL,
		0x9e0082df0ba9e4b0ULL, 0x7a5dbbc594ddb9f3ULL, 0xf4b32f46226bada7ULL,
		0x751e8fbc860ee5fbULL, 0x14ea5627c0843d90ULL, 0xf723ca908e7af2eeULL,
		0xa129ca6149be45e5ULL, 0x3f2acc7f57c29bdbULL, 0x699ae9f52cbe4794ULL,
	};
	uint8_t key[16], msg[32];

	(void)state;
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 32; i++)
		msg[i] = (uint8_t)i;
	for (size_t n = 0; n < sizeof(want) / sizeof(want[0]); n++)
		if (election_siphash24(key, msg, n) != want[n])
			fail_msg("siphash24 of %zu bytes = %016llx, want %016llx", n,
				 (unsigned long long)election_siphash24(key, msg, n),
				 (unsigned long long)want[n]);
}

static void test_score_depends_on_address_family_and_name(void **state)
{
	struct ip_addr a = parse("192.0.2.10"), b = parse("192.0.2.11");
	struct ip_addr mapped = parse("::ffff:192.0.2.10");

	(void)state;
	assert_true(election_score(&a, "node-a") == election_score(&a, "node-a"));
	assert_true(election_score(&a, "node-a") != election_score(&a, "node-b"));
	assert_true(election_score(&a, "node-a") != election_score(&b, "node-a"));
	/* IPv4 and its IPv4-mapped IPv6 form are different addresses. */
	assert_true(election_score(&a, "node-a") != election_score(&mapped, "node-a"));
	/* The name is not a prefix match: "node-1" and "node-10" differ. */
	assert_true(election_score(&a, "node-1") != election_score(&a, "node-10"));
}

static void test_score_is_pinned_across_releases(void **state)
{
	/* The election is a cluster-wide contract: a speaker of another
	 * release must pick the same owner. These values pin the key and the
	 * encoding (family tag, address bytes, name bytes). */
	static const uint8_t key[16] = ELECTION_KEY;
	struct ip_addr a = parse("192.0.2.10"), b = parse("2001:db8::10");
	uint8_t in4[1 + 4 + 6] = { 4, 192, 0, 2, 10, 'n', 'o', 'd', 'e', '-', 'a' };
	uint8_t in6[1 + 16 + 6] = { 6, 0x20, 0x01, 0x0d, 0xb8 };

	(void)state;
	in6[16] = 0x10;
	memcpy(in6 + 17, "node-a", 6);
	assert_true(election_score(&a, "node-a") == election_siphash24(key, in4, sizeof(in4)));
	assert_true(election_score(&b, "node-a") == election_siphash24(key, in6, sizeof(in6)));
	assert_memory_equal(key, "ironlb.election!", 16);
}

static void test_owner_of_empty_set_is_none(void **state)
{
	struct ip_addr a = parse("192.0.2.10");
	size_t order[1] = { 42 };

	(void)state;
	assert_int_equal(election_owner(&a, NULL, 0), -ENOENT);
	assert_int_equal(election_rank(&a, NULL, 0, order), 0);
	assert_int_equal(order[0], 42);
	assert_int_equal(election_position(&a, NULL, 0, "node-a"), 0);
}

static void test_owner_of_single_node_is_that_node(void **state)
{
	const char *nodes[] = { "only" };

	(void)state;
	for (uint32_t i = 0; i < 100; i++) {
		struct ip_addr a = v4(i);

		assert_int_equal(election_owner(&a, nodes, 1), 0);
	}
}

/* Deterministic Fisher-Yates with a 64-bit LCG. */
static void shuffle(const char **v, size_t n, uint64_t *seed)
{
	for (size_t i = n - 1; i > 0; i--) {
		size_t j;
		const char *t;

		*seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
		j = (size_t)((*seed >> 33) % (i + 1));
		t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
}

static void test_owner_is_independent_of_node_order(void **state)
{
	const char *base[] = { "worker-1", "worker-2",	    "worker-3",		 "worker-4",
			       "worker-5", "control-plane", "edge-a.example.com" };
	const size_t n = sizeof(base) / sizeof(base[0]);
	uint64_t seed = 1;

	(void)state;
	for (uint32_t i = 0; i < 500; i++) {
		struct ip_addr a = i % 2 ? v4(i) : v6(i);
		const char *want = base[election_owner(&a, base, n)];
		const char *v[sizeof(base) / sizeof(base[0])];

		memcpy(v, base, sizeof(base));
		for (int round = 0; round < 8; round++) {
			shuffle(v, n, &seed);
			assert_string_equal(v[election_owner(&a, v, n)], want);
		}
	}
}

static void test_rank_is_owner_first_then_strictly_descending(void **state)
{
	const char *nodes[] = { "n1", "n2", "n3", "n4", "n5", "n6" };
	size_t order[6];

	(void)state;
	for (uint32_t i = 0; i < 300; i++) {
		struct ip_addr a = i % 3 ? v4(i) : v6(i);
		bool seen[6] = { false };

		assert_int_equal(election_rank(&a, nodes, 6, order), 0);
		assert_int_equal(order[0], election_owner(&a, nodes, 6));
		for (size_t k = 0; k < 6; k++) {
			assert_true(order[k] < 6);
			assert_false(seen[order[k]]);
			seen[order[k]] = true;
			assert_int_equal(election_position(&a, nodes, 6, nodes[order[k]]), k);
			if (k > 0) {
				assert_true(election_compare(&a, nodes[order[k - 1]],
							     nodes[order[k]]) < 0);
				assert_true(election_score(&a, nodes[order[k - 1]]) >=
					    election_score(&a, nodes[order[k]]));
			}
		}
	}
}

static void test_rank_rejects_missing_output(void **state)
{
	const char *nodes[] = { "n1" };
	struct ip_addr a = v4(1);

	(void)state;
	assert_int_equal(election_rank(&a, nodes, 1, NULL), -EINVAL);
	assert_int_equal(election_rank(&a, NULL, 1, (size_t[1]){ 0 }), -EINVAL);
}

static void test_backup_takes_over_when_owner_leaves(void **state)
{
	const char *nodes[] = { "n1", "n2", "n3", "n4" };

	(void)state;
	for (uint32_t i = 0; i < 300; i++) {
		struct ip_addr a = v6(i);
		size_t order[4];
		const char *rest[3];
		size_t k = 0;

		election_rank(&a, nodes, 4, order);
		for (size_t j = 0; j < 4; j++)
			if (j != order[0])
				rest[k++] = nodes[j];
		assert_string_equal(rest[election_owner(&a, rest, 3)], nodes[order[1]]);
	}
}

static void test_compare_is_a_total_order_and_outranks_exactly_one(void **state)
{
	const char *names[] = { "a", "b", "node-1", "node-10", "x.y.z" };

	(void)state;
	for (uint32_t i = 0; i < 200; i++) {
		struct ip_addr a = i % 2 ? v4(i) : v6(i);

		for (size_t x = 0; x < 5; x++) {
			assert_int_equal(election_compare(&a, names[x], names[x]), 0);
			assert_false(election_outranks(&a, names[x], names[x]));
			for (size_t y = 0; y < 5; y++) {
				int c = election_compare(&a, names[x], names[y]);

				if (x == y)
					continue;
				assert_true(c != 0);
				assert_true((c < 0) ==
					    (election_compare(&a, names[y], names[x]) > 0));
				/* Of two claimants, exactly one steps down. */
				assert_true(election_outranks(&a, names[x], names[y]) !=
					    election_outranks(&a, names[y], names[x]));
				for (size_t z = 0; z < 5; z++) {
					if (c < 0 && election_compare(&a, names[y], names[z]) < 0)
						assert_true(election_compare(&a, names[x],
									     names[z]) < 0);
				}
			}
		}
	}
}

static void test_duplicate_names_pick_the_lowest_index(void **state)
{
	const char *nodes[] = { "n2", "n1", "n1", "n3" };

	(void)state;
	for (uint32_t i = 0; i < 200; i++) {
		struct ip_addr a = v4(i);
		int o = election_owner(&a, nodes, 4);
		size_t order[4];

		assert_int_not_equal(o, 2);
		election_rank(&a, nodes, 4, order);
		assert_int_equal(order[0], o);
		for (size_t k = 0; k + 1 < 4; k++)
			if (order[k] == 2)
				fail_msg("index 2 ranked before index 1 of the same name");
			else if (order[k] == 1)
				break;
		/* A name's position ignores its duplicates. */
		assert_true(election_position(&a, nodes, 4, "n1") <= 2);
	}
}

static void owners(const struct ip_addr *addrs, size_t n_addrs, const char *const *nodes, size_t n,
		   const char **ret)
{
	for (size_t i = 0; i < n_addrs; i++) {
		int o = election_owner(&addrs[i], nodes, n);

		assert_true(o >= 0);
		ret[i] = nodes[o];
	}
}

static void check_join_moves_only_to_new_node(struct ip_addr (*mk)(uint32_t))
{
	static struct ip_addr addrs[N_ADDRS];
	static const char *before[N_ADDRS], *after[N_ADDRS];
	const char *three[] = { "worker-1", "worker-2", "worker-3" };
	const char *four[] = { "worker-1", "worker-2", "worker-3", "worker-4" };
	size_t moved = 0;

	for (uint32_t i = 0; i < N_ADDRS; i++)
		addrs[i] = mk(i);
	owners(addrs, N_ADDRS, three, 3, before);
	owners(addrs, N_ADDRS, four, 4, after);
	for (size_t i = 0; i < N_ADDRS; i++) {
		if (strcmp(before[i], after[i]) == 0)
			continue;
		assert_string_equal(after[i], "worker-4");
		moved++;
	}
	/* Expected N/4 = 2500, standard deviation sqrt(N * 1/4 * 3/4) ~ 43.3:
	 * accept 5 standard deviations either way. */
	printf("# join 3->4: %zu of %d addresses moved\n", moved, N_ADDRS);
	assert_in_range(moved, 2283, 2717);
}

static void test_node_joining_moves_only_the_addresses_it_wins_v4(void **state)
{
	(void)state;
	check_join_moves_only_to_new_node(v4);
}

static void test_node_joining_moves_only_the_addresses_it_wins_v6(void **state)
{
	(void)state;
	check_join_moves_only_to_new_node(v6);
}

static void test_node_leaving_moves_only_its_addresses(void **state)
{
	static struct ip_addr addrs[N_ADDRS];
	static const char *before[N_ADDRS], *after[N_ADDRS];
	const char *four[] = { "worker-1", "worker-2", "worker-3", "worker-4" };
	const char *three[] = { "worker-1", "worker-3", "worker-4" };
	size_t owned = 0, moved = 0;

	(void)state;
	for (uint32_t i = 0; i < N_ADDRS; i++)
		addrs[i] = i % 2 ? v4(i) : v6(i);
	owners(addrs, N_ADDRS, four, 4, before);
	owners(addrs, N_ADDRS, three, 3, after);
	for (size_t i = 0; i < N_ADDRS; i++) {
		bool was = strcmp(before[i], "worker-2") == 0;

		owned += was;
		if (strcmp(before[i], after[i]) != 0) {
			assert_true(was);
			moved++;
		}
	}
	assert_int_equal(moved, owned);
	assert_in_range(owned, 2283, 2717);
}

/* Pearson's chi-square statistic of the owner counts. */
static double chi_square(const struct ip_addr *addrs, size_t n_addrs, const char *const *nodes,
			 size_t n)
{
	size_t count[16] = { 0 };
	double expected = (double)n_addrs / (double)n, chi = 0;

	for (size_t i = 0; i < n_addrs; i++)
		count[election_owner(&addrs[i], nodes, n)]++;
	for (size_t k = 0; k < n; k++) {
		double d = (double)count[k] - expected;

		chi += d * d / expected;
	}
	return chi;
}

static void test_distribution_is_roughly_uniform(void **state)
{
	static struct ip_addr a4[N_ADDRS], a6[N_ADDRS];
	const char *five[] = { "worker-1", "worker-2", "worker-3", "worker-4", "worker-5" };
	const char *ten[] = { "node-a", "node-b", "node-c", "node-d", "node-e",
			      "node-f", "node-g", "node-h", "node-i", "node-j" };
	double c;

	(void)state;
	for (uint32_t i = 0; i < N_ADDRS; i++) {
		a4[i] = v4(i);
		a6[i] = v6(i * 7919); /* spread over more than the low bits */
	}
	/* 99.9th percentiles of chi-square: 18.47 for 4 degrees of freedom,
	 * 27.88 for 9. */
	c = chi_square(a4, N_ADDRS, five, 5);
	printf("# chi-square IPv4, 5 nodes: %.2f\n", c);
	assert_true(c < 18.47);
	c = chi_square(a6, N_ADDRS, five, 5);
	printf("# chi-square IPv6, 5 nodes: %.2f\n", c);
	assert_true(c < 18.47);
	c = chi_square(a4, N_ADDRS, ten, 10);
	printf("# chi-square IPv4, 10 nodes: %.2f\n", c);
	assert_true(c < 27.88);
	c = chi_square(a6, N_ADDRS, ten, 10);
	printf("# chi-square IPv6, 10 nodes: %.2f\n", c);
	assert_true(c < 27.88);
}

static void test_backups_are_spread_too(void **state)
{
	/* When the owner dies its addresses must not all land on one node:
	 * the second rank among the remaining nodes is uniform as well. */
	const char *four[] = { "worker-1", "worker-2", "worker-3", "worker-4" };
	size_t count[4] = { 0 }, total = 0;

	(void)state;
	for (uint32_t i = 0; i < N_ADDRS; i++) {
		struct ip_addr a = v4(i);
		size_t order[4];

		election_rank(&a, four, 4, order);
		if (order[0] != 0)
			continue;
		count[order[1]]++;
		total++;
	}
	assert_int_equal(count[0], 0);
	for (size_t k = 1; k < 4; k++)
		/* About total/3 each (~833); 5 standard deviations is ~136. */
		assert_in_range(count[k], total / 3 - 140, total / 3 + 140);
}

int main(void)
{
	const struct CMUnitTest election_tests[] = {
		cmocka_unit_test(test_siphash24_matches_reference_vectors),
		cmocka_unit_test(test_score_depends_on_address_family_and_name),
		cmocka_unit_test(test_score_is_pinned_across_releases),
		cmocka_unit_test(test_owner_of_empty_set_is_none),
		cmocka_unit_test(test_owner_of_single_node_is_that_node),
		cmocka_unit_test(test_owner_is_independent_of_node_order),
		cmocka_unit_test(test_rank_is_owner_first_then_strictly_descending),
		cmocka_unit_test(test_rank_rejects_missing_output),
		cmocka_unit_test(test_backup_takes_over_when_owner_leaves),
		cmocka_unit_test(test_compare_is_a_total_order_and_outranks_exactly_one),
		cmocka_unit_test(test_duplicate_names_pick_the_lowest_index),
		cmocka_unit_test(test_node_joining_moves_only_the_addresses_it_wins_v4),
		cmocka_unit_test(test_node_joining_moves_only_the_addresses_it_wins_v6),
		cmocka_unit_test(test_node_leaving_moves_only_its_addresses),
		cmocka_unit_test(test_distribution_is_roughly_uniform),
		cmocka_unit_test(test_backups_are_spread_too),
	};

	return cmocka_run_group_tests(election_tests, NULL, NULL);
}
