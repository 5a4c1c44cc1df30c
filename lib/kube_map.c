/* A string-keyed hash map for the informer cache, its indexes and the event
 * recorder: open addressing, linear probing, backward-shift deletion (no
 * tombstones, so lookups stay short however much churn there is). The key
 * lives in the value, read through key_fn, so the map itself costs 16 bytes
 * a slot. The hash is FNV-1a seeded per map: object names come from the API
 * server, and a per-process seed keeps them from being chosen to collide.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ironlb/kube_util.h"

#define MAP_MIN_CAP 16

static uint64_t map_hash(const struct kube_map *m, const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull ^ m->seed;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	/* Final mix so the low bits (the slot index) depend on every byte. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

void kube_map_init(struct kube_map *m, kube_map_key_fn key)
{
	static uint64_t seed;

	if (!seed)
		seed = kube_rand_seed();
	memset(m, 0, sizeof(*m));
	m->key = key;
	m->seed = seed;
}

void kube_map_free(struct kube_map *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->len = 0;
}

static size_t find_slot(const struct kube_map *m, const char *key, uint64_t h)
{
	size_t mask = m->cap - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		const struct kube_map_slot *s = &m->slots[i];

		if (!s->value || (s->hash == h && strcmp(m->key(s->value), key) == 0))
			return i;
	}
}

void *kube_map_get(const struct kube_map *m, const char *key)
{
	size_t i;

	if (!m->cap)
		return NULL;
	i = find_slot(m, key, map_hash(m, key));
	return m->slots[i].value;
}

static int map_grow(struct kube_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : MAP_MIN_CAP;
	struct kube_map_slot *slots = calloc(cap, sizeof(*slots)), *old = m->slots;
	size_t old_cap = m->cap;

	if (!slots)
		return -ENOMEM;
	m->slots = slots;
	m->cap = cap;
	for (size_t i = 0; i < old_cap; i++) {
		if (old[i].value) {
			size_t mask = cap - 1, j = old[i].hash & mask;

			while (slots[j].value)
				j = (j + 1) & mask;
			slots[j] = old[i];
		}
	}
	free(old);
	return 0;
}

/* Gives memory back after a mass deletion (a namespace deleted). */
static void map_shrink(struct kube_map *m)
{
	struct kube_map_slot *slots, *old = m->slots;
	size_t cap = m->cap / 2, old_cap = m->cap;

	if (cap < MAP_MIN_CAP)
		return;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return;
	m->slots = slots;
	m->cap = cap;
	for (size_t i = 0; i < old_cap; i++) {
		if (old[i].value) {
			size_t mask = cap - 1, j = old[i].hash & mask;

			while (slots[j].value)
				j = (j + 1) & mask;
			slots[j] = old[i];
		}
	}
	free(old);
}

int kube_map_put(struct kube_map *m, void *value, void **ret_old)
{
	const char *key = m->key(value);
	uint64_t h = map_hash(m, key);
	size_t i;

	/* Keep the load factor under 3/4. */
	if ((m->len + 1) * 4 > m->cap * 3) {
		int r = map_grow(m);

		if (r < 0)
			return r;
	}
	i = find_slot(m, key, h);
	if (ret_old)
		*ret_old = m->slots[i].value;
	if (!m->slots[i].value)
		m->len++;
	m->slots[i].value = value;
	m->slots[i].hash = h;
	return 0;
}

void *kube_map_remove(struct kube_map *m, const char *key)
{
	size_t mask, i, j;
	void *value;

	if (!m->cap)
		return NULL;
	mask = m->cap - 1;
	i = find_slot(m, key, map_hash(m, key));
	value = m->slots[i].value;
	if (!value)
		return NULL;
	/* Backward shift: move later members of the probe run into the hole
	 * when their home slot is at or before it (cyclically). */
	for (j = (i + 1) & mask; m->slots[j].value; j = (j + 1) & mask) {
		size_t home = m->slots[j].hash & mask;

		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].value = NULL;
	m->slots[i].hash = 0;
	m->len--;
	if (m->cap > MAP_MIN_CAP && m->len * 8 < m->cap)
		map_shrink(m);
	return value;
}

void *kube_map_next(const struct kube_map *m, size_t *pos)
{
	while (*pos < m->cap) {
		void *v = m->slots[(*pos)++].value;

		if (v)
			return v;
	}
	return NULL;
}
