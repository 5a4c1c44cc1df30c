/* Intrusive red-black tree (see include/ironlb/rbtree.h).
 *
 * The algorithms are the textbook ones (Cormen et al., chapter 13) with NULL
 * leaves: removal passes the parent of the moved-up child explicitly because
 * that child may be NULL. The colour is the low bit of the parent pointer;
 * struct rb_node holds pointers, so that bit is always free.
 */
#include "ironlb/rbtree.h"

#include <errno.h>

#define RB_RED 0u
#define RB_BLACK 1u

static inline struct rb_node *parent_of(const struct rb_node *n)
{
	return (struct rb_node *)(n->parent_color & ~(uintptr_t)1);
}

static inline unsigned color_of(const struct rb_node *n)
{
	return (unsigned)(n->parent_color & 1);
}

static inline bool is_red(const struct rb_node *n)
{
	return n && color_of(n) == RB_RED;
}

static inline void set_parent(struct rb_node *n, struct rb_node *p)
{
	n->parent_color = (uintptr_t)p | (n->parent_color & 1);
}

static inline void set_color(struct rb_node *n, unsigned c)
{
	n->parent_color = (n->parent_color & ~(uintptr_t)1) | c;
}

void rb_init(struct rb_tree *t)
{
	t->root = NULL;
	t->count = 0;
}

/* Puts v where u was under u's parent (v may be NULL). */
static void replace_child(struct rb_tree *t, struct rb_node *u, struct rb_node *v)
{
	struct rb_node *p = parent_of(u);

	if (!p)
		t->root = v;
	else if (p->left == u)
		p->left = v;
	else
		p->right = v;
	if (v)
		set_parent(v, p);
}

static void rotate_left(struct rb_tree *t, struct rb_node *x)
{
	struct rb_node *y = x->right;

	x->right = y->left;
	if (y->left)
		set_parent(y->left, x);
	replace_child(t, x, y);
	y->left = x;
	set_parent(x, y);
}

static void rotate_right(struct rb_tree *t, struct rb_node *x)
{
	struct rb_node *y = x->left;

	x->left = y->right;
	if (y->right)
		set_parent(y->right, x);
	replace_child(t, x, y);
	y->right = x;
	set_parent(x, y);
}

static void insert_fixup(struct rb_tree *t, struct rb_node *z)
{
	struct rb_node *p;

	while ((p = parent_of(z)) && is_red(p)) {
		/* A red node is never the root, so g exists. */
		struct rb_node *g = parent_of(p);

		if (p == g->left) {
			struct rb_node *u = g->right;

			if (is_red(u)) {
				set_color(p, RB_BLACK);
				set_color(u, RB_BLACK);
				set_color(g, RB_RED);
				z = g;
				continue;
			}
			if (z == p->right) {
				rotate_left(t, p);
				z = p;
				p = parent_of(z);
			}
			set_color(p, RB_BLACK);
			set_color(g, RB_RED);
			rotate_right(t, g);
		} else {
			struct rb_node *u = g->left;

			if (is_red(u)) {
				set_color(p, RB_BLACK);
				set_color(u, RB_BLACK);
				set_color(g, RB_RED);
				z = g;
				continue;
			}
			if (z == p->left) {
				rotate_right(t, p);
				z = p;
				p = parent_of(z);
			}
			set_color(p, RB_BLACK);
			set_color(g, RB_RED);
			rotate_left(t, g);
		}
	}
	set_color(t->root, RB_BLACK);
}

struct rb_node *rb_insert(struct rb_tree *t, struct rb_node *node, rb_cmp_fn cmp)
{
	struct rb_node **link = &t->root, *parent = NULL;

	while (*link) {
		int c;

		parent = *link;
		c = cmp(node, parent);
		if (c < 0)
			link = &parent->left;
		else if (c > 0)
			link = &parent->right;
		else
			return parent;
	}
	node->left = node->right = NULL;
	node->parent_color = (uintptr_t)parent | RB_RED;
	*link = node;
	t->count++;
	insert_fixup(t, node);
	return NULL;
}

/* x (possibly NULL) carries an extra black; p is its parent. */
static void remove_fixup(struct rb_tree *t, struct rb_node *x, struct rb_node *p)
{
	while (x != t->root && !is_red(x)) {
		/* The removed black node left p's other side one black
		 * deeper, so the sibling w exists. */
		if (x == p->left) {
			struct rb_node *w = p->right;

			if (is_red(w)) {
				set_color(w, RB_BLACK);
				set_color(p, RB_RED);
				rotate_left(t, p);
				w = p->right;
			}
			if (!is_red(w->left) && !is_red(w->right)) {
				set_color(w, RB_RED);
				x = p;
				p = parent_of(x);
			} else {
				if (!is_red(w->right)) {
					set_color(w->left, RB_BLACK);
					set_color(w, RB_RED);
					rotate_right(t, w);
					w = p->right;
				}
				set_color(w, color_of(p));
				set_color(p, RB_BLACK);
				set_color(w->right, RB_BLACK);
				rotate_left(t, p);
				x = t->root;
			}
		} else {
			struct rb_node *w = p->left;

			if (is_red(w)) {
				set_color(w, RB_BLACK);
				set_color(p, RB_RED);
				rotate_right(t, p);
				w = p->left;
			}
			if (!is_red(w->left) && !is_red(w->right)) {
				set_color(w, RB_RED);
				x = p;
				p = parent_of(x);
			} else {
				if (!is_red(w->left)) {
					set_color(w->right, RB_BLACK);
					set_color(w, RB_RED);
					rotate_left(t, w);
					w = p->left;
				}
				set_color(w, color_of(p));
				set_color(p, RB_BLACK);
				set_color(w->left, RB_BLACK);
				rotate_right(t, p);
				x = t->root;
			}
		}
	}
	if (x)
		set_color(x, RB_BLACK);
}

void rb_remove(struct rb_tree *t, struct rb_node *z)
{
	struct rb_node *x, *x_parent;
	unsigned removed_color = color_of(z);

	if (!z->left) {
		x = z->right;
		x_parent = parent_of(z);
		replace_child(t, z, x);
	} else if (!z->right) {
		x = z->left;
		x_parent = parent_of(z);
		replace_child(t, z, x);
	} else {
		/* Two children: z's successor y takes z's place and colour. */
		struct rb_node *y = z->right;

		while (y->left)
			y = y->left;
		removed_color = color_of(y);
		x = y->right;
		if (parent_of(y) == z) {
			x_parent = y;
		} else {
			x_parent = parent_of(y);
			replace_child(t, y, x);
			y->right = z->right;
			set_parent(y->right, y);
		}
		replace_child(t, z, y);
		y->left = z->left;
		set_parent(y->left, y);
		set_color(y, color_of(z));
	}
	t->count--;
	if (removed_color == RB_BLACK)
		remove_fixup(t, x, x_parent);
	z->parent_color = 0;
	z->left = z->right = NULL;
}

struct rb_node *rb_find(const struct rb_tree *t, const void *key, rb_key_cmp_fn cmp)
{
	struct rb_node *n = t->root;

	while (n) {
		int c = cmp(key, n);

		if (c == 0)
			return n;
		n = c < 0 ? n->left : n->right;
	}
	return NULL;
}

struct rb_node *rb_floor(const struct rb_tree *t, const void *key, rb_key_cmp_fn cmp)
{
	struct rb_node *n = t->root, *best = NULL;

	while (n) {
		int c = cmp(key, n);

		if (c == 0)
			return n;
		if (c < 0) {
			n = n->left;
		} else {
			best = n;
			n = n->right;
		}
	}
	return best;
}

struct rb_node *rb_ceiling(const struct rb_tree *t, const void *key, rb_key_cmp_fn cmp)
{
	struct rb_node *n = t->root, *best = NULL;

	while (n) {
		int c = cmp(key, n);

		if (c == 0)
			return n;
		if (c > 0) {
			n = n->right;
		} else {
			best = n;
			n = n->left;
		}
	}
	return best;
}

struct rb_node *rb_first(const struct rb_tree *t)
{
	struct rb_node *n = t->root;

	if (!n)
		return NULL;
	while (n->left)
		n = n->left;
	return n;
}

struct rb_node *rb_last(const struct rb_tree *t)
{
	struct rb_node *n = t->root;

	if (!n)
		return NULL;
	while (n->right)
		n = n->right;
	return n;
}

struct rb_node *rb_next(const struct rb_node *n)
{
	struct rb_node *p;

	if (n->right) {
		n = n->right;
		while (n->left)
			n = n->left;
		return (struct rb_node *)n;
	}
	while ((p = parent_of(n)) && n == p->right)
		n = p;
	return p;
}

struct rb_node *rb_prev(const struct rb_node *n)
{
	struct rb_node *p;

	if (n->left) {
		n = n->left;
		while (n->right)
			n = n->right;
		return (struct rb_node *)n;
	}
	while ((p = parent_of(n)) && n == p->left)
		n = p;
	return p;
}

void rb_clear(struct rb_tree *t, void (*fn)(struct rb_node *n, void *ctx), void *ctx)
{
	struct rb_node *n = t->root;

	/* Post-order without a stack: descend to a leaf, cut it off, and go
	 * back up; a node becomes a leaf once both its subtrees are gone. */
	while (n) {
		struct rb_node *p;

		if (n->left) {
			n = n->left;
			continue;
		}
		if (n->right) {
			n = n->right;
			continue;
		}
		p = parent_of(n);
		if (p) {
			if (p->left == n)
				p->left = NULL;
			else
				p->right = NULL;
		}
		if (fn)
			fn(n, ctx);
		n = p;
	}
	t->root = NULL;
	t->count = 0;
}

/* Returns the black height of the subtree at n, or -1 on a violation;
 * counts nodes into *count. */
static int validate_subtree(const struct rb_node *n, const struct rb_node *parent, size_t *count)
{
	int lh, rh;

	if (!n)
		return 1;
	if (parent_of(n) != parent)
		return -1;
	if (is_red(n) && (is_red(n->left) || is_red(n->right)))
		return -1;
	(*count)++;
	lh = validate_subtree(n->left, n, count);
	rh = validate_subtree(n->right, n, count);
	if (lh < 0 || rh < 0 || lh != rh)
		return -1;
	return lh + (color_of(n) == RB_BLACK);
}

int rb_validate(const struct rb_tree *t, rb_cmp_fn cmp)
{
	size_t count = 0;

	if (t->root && is_red(t->root))
		return -EINVAL;
	if (validate_subtree(t->root, NULL, &count) < 0)
		return -EINVAL;
	if (count != t->count)
		return -EINVAL;
	if (cmp) {
		const struct rb_node *prev = NULL;

		for (const struct rb_node *n = rb_first(t); n; n = rb_next(n)) {
			if (prev && cmp(prev, n) >= 0)
				return -EINVAL;
			prev = n;
		}
	}
	return 0;
}
