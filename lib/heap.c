/* The intrusive min-heap (see heap.h). */
#include "ironlb/heap.h"

#include <errno.h>
#include <stdlib.h>

static uint32_t *pos_of(const struct heap *h, void *item)
{
	return (uint32_t *)((char *)item + h->pos_off);
}

static void place(struct heap *h, size_t i, void *item)
{
	h->v[i] = item;
	*pos_of(h, item) = (uint32_t)(i + 1);
}

static void sift_up(struct heap *h, size_t i)
{
	void *item = h->v[i];
	uint64_t key = heap_key(h, item);

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (heap_key(h, h->v[parent]) <= key)
			break;
		place(h, i, h->v[parent]);
		i = parent;
	}
	place(h, i, item);
}

static void sift_down(struct heap *h, size_t i)
{
	void *item = h->v[i];
	uint64_t key = heap_key(h, item);

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && heap_key(h, h->v[c + 1]) < heap_key(h, h->v[c]))
			c++;
		if (key <= heap_key(h, h->v[c]))
			break;
		place(h, i, h->v[c]);
		i = c;
	}
	place(h, i, item);
}

int heap_reserve(struct heap *h, size_t n)
{
	void **v;

	if (n <= h->cap)
		return 0;
	if (n > UINT32_MAX)
		return -ENOMEM;
	v = realloc(h->v, n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	h->v = v;
	h->cap = n;
	return 0;
}

int heap_push(struct heap *h, void *item)
{
	if (h->n == h->cap && heap_reserve(h, h->cap ? 2 * h->cap : 16) < 0)
		return -ENOMEM;
	h->v[h->n++] = item;
	sift_up(h, h->n - 1);
	return 0;
}

void heap_remove(struct heap *h, void *item)
{
	uint32_t *pos = pos_of(h, item);
	size_t i;

	if (!*pos)
		return;
	i = *pos - 1;
	*pos = 0;
	if (--h->n != i) {
		void *moved = h->v[h->n];

		place(h, i, moved);
		sift_up(h, i);
		sift_down(h, *pos_of(h, moved) - 1);
	}
}

void heap_fix(struct heap *h, void *item)
{
	size_t i = *pos_of(h, item) - 1;

	sift_up(h, i);
	sift_down(h, *pos_of(h, item) - 1);
}

void heap_free(struct heap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}
