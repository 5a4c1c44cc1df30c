/* An intrusive red-black tree: ordered sets and maps with O(log n) insert,
 * remove, exact lookup, floor/ceiling and neighbour steps.
 *
 * Intrusive: the caller embeds a struct rb_node in its own struct and gets
 * back to it with rb_entry(); the tree never allocates. Ordering comes from
 * a comparison function given at each call, so one struct can sit in several
 * trees ordered differently. The node colour lives in the low bit of the
 * parent pointer, so a node costs three pointers.
 *
 *	struct run { struct rb_node node; uint64_t lo, hi; };
 *
 *	static int run_cmp_key(const void *key, const struct rb_node *n)
 *	{
 *		uint64_t k = *(const uint64_t *)key, lo = rb_entry(n, struct run, node)->lo;
 *		return k < lo ? -1 : k > lo;
 *	}
 *	// greatest run starting at or before v:
 *	struct rb_node *n = rb_floor(&tree, &v, run_cmp_key);
 *
 * Nothing here allocates, logs or keeps global state.
 */
#ifndef IRONLB_RBTREE_H
#define IRONLB_RBTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rb_node {
	uintptr_t parent_color; /* parent pointer | colour bit */
	struct rb_node *left;
	struct rb_node *right;
};

struct rb_tree {
	struct rb_node *root;
	size_t count;
};

#define RB_TREE_INIT                                                                               \
	{                                                                                          \
		NULL, 0                                                                            \
	}

/* The struct that embeds node as member. */
#define rb_entry(node, type, member) ((type *)(void *)((char *)(node)-offsetof(type, member)))
/* Same, but NULL stays NULL. */
#define rb_entry_safe(node, type, member)                                                          \
	({                                                                                         \
		struct rb_node *rb_entry_n_ = (node);                                              \
		rb_entry_n_ ? rb_entry(rb_entry_n_, type, member) : (type *)NULL;                  \
	})

/* Orders two nodes: <0, 0, >0. */
typedef int (*rb_cmp_fn)(const struct rb_node *a, const struct rb_node *b);
/* Orders a search key against a node: <0 if key sorts before n, 0, >0. */
typedef int (*rb_key_cmp_fn)(const void *key, const struct rb_node *n);

void rb_init(struct rb_tree *t);

static inline size_t rb_count(const struct rb_tree *t)
{
	return t->count;
}

static inline bool rb_empty(const struct rb_tree *t)
{
	return t->root == NULL;
}

/* Inserts node. Returns NULL when inserted, or the node already in the tree
 * that compares equal (and then node is not inserted). */
struct rb_node *rb_insert(struct rb_tree *t, struct rb_node *node, rb_cmp_fn cmp);
/* Removes node, which must be in t. */
void rb_remove(struct rb_tree *t, struct rb_node *node);

/* Lookups: the node equal to key; the greatest node <= key (floor); the
 * least node >= key (ceiling). NULL when there is none. */
struct rb_node *rb_find(const struct rb_tree *t, const void *key, rb_key_cmp_fn cmp);
struct rb_node *rb_floor(const struct rb_tree *t, const void *key, rb_key_cmp_fn cmp);
struct rb_node *rb_ceiling(const struct rb_tree *t, const void *key, rb_key_cmp_fn cmp);

/* In-order traversal; NULL past either end. */
struct rb_node *rb_first(const struct rb_tree *t);
struct rb_node *rb_last(const struct rb_tree *t);
struct rb_node *rb_next(const struct rb_node *n);
struct rb_node *rb_prev(const struct rb_node *n);

/* Empties the tree in O(n) without rebalancing, calling fn (if not NULL) on
 * every node after it is unlinked; fn may free the node. */
void rb_clear(struct rb_tree *t, void (*fn)(struct rb_node *n, void *ctx), void *ctx);

/* Checks every red-black and ordering invariant (cmp may be NULL to skip the
 * order), parent links and the count. Returns 0 or -EINVAL. For tests. */
int rb_validate(const struct rb_tree *t, rb_cmp_fn cmp);

#endif
