/* Unit tests for lib/rbtree.c: the red-black invariants after every insert
 * and remove, in-order traversal against a sorted reference, floor/ceiling
 * and neighbour steps, duplicate keys, and clearing.
 *
 * Randomized parts use a fixed-seed generator and print the seed and step
 * on failure so a failing sequence can be replayed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ironlb/rbtree.h"

struct item {
	struct rb_node node;
	int key;
};

static int item_cmp(const struct rb_node *a, const struct rb_node *b)
{
	int ka = rb_entry(a, struct item, node)->key, kb = rb_entry(b, struct item, node)->key;

	return ka < kb ? -1 : ka > kb;
}

static int item_cmp_key(const void *key, const struct rb_node *n)
{
	int k = *(const int *)key, kn = rb_entry(n, struct item, node)->key;

	return k < kn ? -1 : k > kn;
}

static int key_of(const struct rb_node *n)
{
	return rb_entry(n, struct item, node)->key;
}

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: deterministic, good enough for shuffling test input. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static void free_item(struct rb_node *n, void *ctx)
{
	size_t *freed = ctx;

	(*freed)++;
	free(rb_entry(n, struct item, node));
}

/* Reference: a presence bitmap over [0, KEYSPACE). */
#define KEYSPACE 4096

static void check_against(const struct rb_tree *t, const bool *present, uint64_t seed, int step)
{
	const struct rb_node *n = rb_first(t);
	size_t count = 0;

	if (rb_validate(t, item_cmp) != 0)
		fail_msg("invariants broken (seed %llu, step %d)", (unsigned long long)seed, step);
	for (int k = 0; k < KEYSPACE; k++) {
		if (!present[k])
			continue;
		if (!n || key_of(n) != k)
			fail_msg("in-order walk: want %d (seed %llu, step %d)", k,
				 (unsigned long long)seed, step);
		n = rb_next(n);
		count++;
	}
	if (n)
		fail_msg("in-order walk has extra node %d", key_of(n));
	assert_int_equal(rb_count(t), count);
}

static void check_lookups(const struct rb_tree *t, const bool *present, int probe)
{
	int want_floor = -1, want_ceil = -1;
	struct rb_node *f, *c, *e;

	for (int k = probe; k >= 0; k--)
		if (present[k]) {
			want_floor = k;
			break;
		}
	for (int k = probe; k < KEYSPACE; k++)
		if (present[k]) {
			want_ceil = k;
			break;
		}
	f = rb_floor(t, &probe, item_cmp_key);
	c = rb_ceiling(t, &probe, item_cmp_key);
	e = rb_find(t, &probe, item_cmp_key);
	assert_int_equal(f ? key_of(f) : -1, want_floor);
	assert_int_equal(c ? key_of(c) : -1, want_ceil);
	assert_int_equal(e ? key_of(e) : -1, present[probe] ? probe : -1);
}

static void test_rbtree_empty_tree_has_nothing(void **state)
{
	struct rb_tree t = RB_TREE_INIT;
	int k = 5;

	assert_true(rb_empty(&t));
	assert_int_equal(rb_count(&t), 0);
	assert_null(rb_first(&t));
	assert_null(rb_last(&t));
	assert_null(rb_find(&t, &k, item_cmp_key));
	assert_null(rb_floor(&t, &k, item_cmp_key));
	assert_null(rb_ceiling(&t, &k, item_cmp_key));
	assert_int_equal(rb_validate(&t, item_cmp), 0);
	assert_null(rb_entry_safe(rb_first(&t), struct item, node));
	rb_clear(&t, NULL, NULL);
}

static void test_rbtree_duplicate_insert_returns_existing(void **state)
{
	struct rb_tree t;
	struct item a = { .key = 7 }, b = { .key = 7 }, c = { .key = 3 };

	rb_init(&t);
	assert_null(rb_insert(&t, &a.node, item_cmp));
	assert_ptr_equal(rb_insert(&t, &b.node, item_cmp), &a.node);
	assert_null(rb_insert(&t, &c.node, item_cmp));
	assert_int_equal(rb_count(&t), 2);
	assert_ptr_equal(rb_first(&t), &c.node);
	assert_ptr_equal(rb_last(&t), &a.node);
	rb_remove(&t, &a.node);
	assert_null(rb_insert(&t, &b.node, item_cmp));
	assert_int_equal(rb_validate(&t, item_cmp), 0);
}

static void test_rbtree_sorted_inserts_stay_balanced(void **state)
{
	enum { N = 1 << 14 };
	struct item *items = calloc(N, sizeof(*items));
	struct rb_tree t = RB_TREE_INIT;
	int depth = 0;

	assert_non_null(items);
	for (int i = 0; i < N; i++) {
		items[i].key = i;
		assert_null(rb_insert(&t, &items[i].node, item_cmp));
	}
	assert_int_equal(rb_validate(&t, item_cmp), 0);
	/* Height of a red-black tree is at most 2 log2(n + 1). */
	for (const struct rb_node *n = rb_first(&t); n; n = rb_next(n)) {
		int d = 0;

		for (const struct rb_node *p = n; p != t.root; d++)
			p = (const struct rb_node *)(p->parent_color & ~(uintptr_t)1);
		if (d > depth)
			depth = d;
	}
	assert_true(depth <= 2 * 15);
	/* Descending removal exercises the mirror-image cases. */
	for (int i = N - 1; i >= 0; i--) {
		rb_remove(&t, &items[i].node);
		if (i % 1024 == 0)
			assert_int_equal(rb_validate(&t, item_cmp), 0);
	}
	assert_true(rb_empty(&t));
	free(items);
}

static void test_rbtree_random_operations_match_reference(void **state)
{
	const uint64_t seed = 0x5eed0001;
	static bool present[KEYSPACE];
	static struct item *by_key[KEYSPACE];
	struct rb_tree t = RB_TREE_INIT;
	size_t freed = 0, live = 0;

	memset(present, 0, sizeof(present));
	memset(by_key, 0, sizeof(by_key));
	rng_state = seed;
	for (int step = 0; step < 40000; step++) {
		int k = (int)(rng() % KEYSPACE);

		if (rng() % 3 != 0) {
			struct item *it = malloc(sizeof(*it));

			assert_non_null(it);
			it->key = k;
			if (rb_insert(&t, &it->node, item_cmp)) {
				assert_true(present[k]);
				free(it);
			} else {
				assert_false(present[k]);
				present[k] = true;
				by_key[k] = it;
				live++;
			}
		} else if (present[k]) {
			rb_remove(&t, &by_key[k]->node);
			free(by_key[k]);
			by_key[k] = NULL;
			present[k] = false;
			live--;
		}
		if (step % 97 == 0)
			check_against(&t, present, seed, step);
		check_lookups(&t, present, (int)(rng() % KEYSPACE));
	}
	check_against(&t, present, seed, -1);
	rb_clear(&t, free_item, &freed);
	assert_int_equal(freed, live);
	assert_true(rb_empty(&t));
}

static void test_rbtree_floor_ceiling_next_prev_on_sparse_keys(void **state)
{
	struct item items[] = { { .key = 10 }, { .key = 20 }, { .key = 30 }, { .key = 40 } };
	struct rb_tree t = RB_TREE_INIT;
	int k;

	for (size_t i = 0; i < 4; i++)
		assert_null(rb_insert(&t, &items[i].node, item_cmp));
	k = 25;
	assert_int_equal(key_of(rb_floor(&t, &k, item_cmp_key)), 20);
	assert_int_equal(key_of(rb_ceiling(&t, &k, item_cmp_key)), 30);
	k = 30;
	assert_int_equal(key_of(rb_floor(&t, &k, item_cmp_key)), 30);
	assert_int_equal(key_of(rb_ceiling(&t, &k, item_cmp_key)), 30);
	k = 5;
	assert_null(rb_floor(&t, &k, item_cmp_key));
	assert_int_equal(key_of(rb_ceiling(&t, &k, item_cmp_key)), 10);
	k = 45;
	assert_int_equal(key_of(rb_floor(&t, &k, item_cmp_key)), 40);
	assert_null(rb_ceiling(&t, &k, item_cmp_key));

	assert_int_equal(key_of(rb_next(&items[1].node)), 30);
	assert_int_equal(key_of(rb_prev(&items[1].node)), 10);
	assert_null(rb_next(&items[3].node));
	assert_null(rb_prev(&items[0].node));
	assert_int_equal(key_of(rb_last(&t)), 40);
	/* Walk backwards from the last. */
	k = 40;
	for (struct rb_node *n = rb_last(&t); n; n = rb_prev(n), k -= 10)
		assert_int_equal(key_of(n), k);
	assert_int_equal(k, 0);
}

static void test_rbtree_clear_visits_every_node_once(void **state)
{
	struct rb_tree t = RB_TREE_INIT;
	size_t freed = 0;

	rng_state = 42;
	for (int i = 0; i < 1000; i++) {
		struct item *it = malloc(sizeof(*it));

		assert_non_null(it);
		it->key = (int)(rng() % 100000);
		if (rb_insert(&t, &it->node, item_cmp))
			free(it);
	}
	{
		size_t n = rb_count(&t);

		rb_clear(&t, free_item, &freed);
		assert_int_equal(freed, n);
	}
	assert_int_equal(rb_count(&t), 0);
	assert_null(rb_first(&t));
}

static void test_rbtree_validate_detects_broken_order(void **state)
{
	struct item a = { .key = 1 }, b = { .key = 2 };
	struct rb_tree t = RB_TREE_INIT;

	assert_null(rb_insert(&t, &a.node, item_cmp));
	assert_null(rb_insert(&t, &b.node, item_cmp));
	b.key = 0; /* now out of order */
	assert_int_equal(rb_validate(&t, item_cmp), -EINVAL);
	assert_int_equal(rb_validate(&t, NULL), 0);
	t.count = 5;
	assert_int_equal(rb_validate(&t, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rbtree_empty_tree_has_nothing),
		cmocka_unit_test(test_rbtree_duplicate_insert_returns_existing),
		cmocka_unit_test(test_rbtree_sorted_inserts_stay_balanced),
		cmocka_unit_test(test_rbtree_random_operations_match_reference),
		cmocka_unit_test(test_rbtree_floor_ceiling_next_prev_on_sparse_keys),
		cmocka_unit_test(test_rbtree_clear_visits_every_node_once),
		cmocka_unit_test(test_rbtree_validate_detects_broken_order),
	};

	return cmocka_run_group_tests_name("rbtree", tests, NULL, NULL);
}
