/* Unit tests for lib/heap.c: the intrusive min-heap. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "ironlb/heap.h"

struct item {
	char pad[3]; /* the key and position are not at offset 0 */
	uint64_t key;
	uint32_t pos;
};

/* Every item's position names its slot, and every parent's key is at most
 * its children's. */
static void check_heap(const struct heap *h)
{
	for (size_t i = 0; i < h->n; i++) {
		const struct item *it = h->v[i];

		assert_int_equal(it->pos, i + 1);
		if (i)
			assert_true(((const struct item *)h->v[(i - 1) / 2])->key <= it->key);
	}
}

static void test_empty_heap(void **state)
{
	struct heap h = HEAP_INIT(struct item, key, pos);
	struct item a = { .key = 5 };

	(void)state;
	assert_null(heap_top(&h));
	assert_int_equal(heap_count(&h), 0);
	assert_false(heap_contains(&h, &a));
	heap_remove(&h, &a); /* not in: nothing */
	assert_int_equal(heap_count(&h), 0);
	heap_free(&h);
}

static void test_pops_in_key_order(void **state)
{
	struct heap h = HEAP_INIT(struct item, key, pos);
	uint64_t keys[] = { 50, 10, 40, 10, 30, 20, 60, 0, 70, 25 };
	struct item it[10];
	uint64_t last = 0;

	(void)state;
	for (size_t i = 0; i < 10; i++) {
		it[i] = (struct item){ .key = keys[i] };
		assert_int_equal(heap_push(&h, &it[i]), 0);
		assert_true(heap_contains(&h, &it[i]));
		check_heap(&h);
	}
	assert_int_equal(heap_key(&h, heap_top(&h)), 0);
	for (size_t i = 0; i < 10; i++) {
		struct item *top = heap_top(&h);

		assert_true(top->key >= last);
		last = top->key;
		heap_remove(&h, top);
		assert_false(heap_contains(&h, top));
		check_heap(&h);
	}
	assert_null(heap_top(&h));
	heap_free(&h);
}

/* Random pushes, removals from anywhere and re-keys against a plain scan. */
static void test_random_operations_keep_order_and_positions(void **state)
{
	enum { N = 300 };
	struct heap h = HEAP_INIT(struct item, key, pos);
	struct item *it = calloc(N, sizeof(*it));
	unsigned seed = 12345;

	(void)state;
	assert_non_null(it);
	for (int round = 0; round < 20000; round++) {
		struct item *x = &it[rand_r(&seed) % N];
		int op = rand_r(&seed) % 3;

		if (!heap_contains(&h, x)) {
			x->key = (uint64_t)(rand_r(&seed) % 1000);
			assert_int_equal(heap_push(&h, x), 0);
		} else if (op == 0) {
			heap_remove(&h, x);
		} else {
			x->key = (uint64_t)(rand_r(&seed) % 1000);
			heap_fix(&h, x);
		}
		if (round % 97 == 0) {
			uint64_t min = UINT64_MAX;
			size_t n = 0;

			check_heap(&h);
			for (size_t i = 0; i < N; i++) {
				if (!heap_contains(&h, &it[i]))
					continue;
				n++;
				if (it[i].key < min)
					min = it[i].key;
			}
			assert_int_equal(n, heap_count(&h));
			if (n)
				assert_int_equal(heap_key(&h, heap_top(&h)), min);
		}
	}
	heap_free(&h);
	free(it);
}

static void test_reserved_room_is_used_without_growing(void **state)
{
	struct heap h = HEAP_INIT(struct item, key, pos);
	struct item it[40];
	void **arr;

	(void)state;
	assert_int_equal(heap_reserve(&h, 40), 0);
	arr = h.v;
	for (size_t i = 0; i < 40; i++) {
		it[i] = (struct item){ .key = 40 - i };
		assert_int_equal(heap_push(&h, &it[i]), 0);
	}
	assert_ptr_equal(h.v, arr);
	assert_int_equal(h.cap, 40);
	/* Reserving less than there is room for changes nothing. */
	assert_int_equal(heap_reserve(&h, 10), 0);
	assert_ptr_equal(h.v, arr);
	assert_int_equal(heap_key(&h, heap_top(&h)), 1);
	heap_free(&h);
	assert_null(h.v);
	assert_int_equal(heap_count(&h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_heap),
		cmocka_unit_test(test_pops_in_key_order),
		cmocka_unit_test(test_random_operations_keep_order_and_positions),
		cmocka_unit_test(test_reserved_room_is_used_without_growing),
	};

	return cmocka_run_group_tests_name("heap", tests, NULL, NULL);
}
