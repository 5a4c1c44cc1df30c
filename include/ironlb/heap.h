/* An intrusive binary min-heap of items that carry their own key and
 * position: the heap holds pointers, each item a uint64_t key and a
 * uint32_t position (1 + its index in the heap, 0 when not in it) at fixed
 * offsets. Push, remove and re-key are O(log n); the minimum is O(1).
 * Equal keys come out in no particular order.
 *
 *	struct job { uint64_t due; uint32_t pos; ... };
 *	struct heap h = HEAP_INIT(struct job, due, pos);
 *	heap_push(&h, &job);		// -ENOMEM unless room was reserved
 *	job.due = later; heap_fix(&h, &job);
 *	while ((j = heap_top(&h)) && j->due <= now) { heap_remove(&h, j); ... }
 *	heap_free(&h);			// the array only, not the items
 *
 * Used by the event loop's timers (lib/loop.c) and the L2 claims' due
 * ticks (speaker/l2.c).
 */
#ifndef IRONLB_HEAP_H
#define IRONLB_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct heap {
	void **v;
	size_t n, cap;
	size_t key_off, pos_off;
};

#define HEAP_INIT(type, key, pos)                                                                  \
	((struct heap){ .key_off = offsetof(type, key), .pos_off = offsetof(type, pos) })

/* Room for n items in all, so that pushing up to n never fails. 0 or
 * -ENOMEM (nothing changed). */
int heap_reserve(struct heap *h, size_t n);
/* Adds item (not in the heap). 0 or -ENOMEM (item left out). */
int heap_push(struct heap *h, void *item);
/* Takes item out; nothing if it is not in. */
void heap_remove(struct heap *h, void *item);
/* Puts item back in order after its key changed (item in the heap). */
void heap_fix(struct heap *h, void *item);
/* Frees the array; items are the caller's. */
void heap_free(struct heap *h);

static inline uint64_t heap_key(const struct heap *h, const void *item)
{
	return *(const uint64_t *)((const char *)item + h->key_off);
}

static inline bool heap_contains(const struct heap *h, const void *item)
{
	return *(const uint32_t *)((const char *)item + h->pos_off) != 0;
}

/* The item with the least key, or NULL when empty. */
static inline void *heap_top(const struct heap *h)
{
	return h->n ? h->v[0] : NULL;
}

static inline size_t heap_count(const struct heap *h)
{
	return h->n;
}

#endif
