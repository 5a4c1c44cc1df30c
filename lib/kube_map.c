/* A string-keyed hash map for the informer cache, its indexes and the event
 * recorder: open addressing, linear probing, backward-shift deletion (no
 * tombstones, so lookups stay short however much churn there is). The key
 * lives in the value, read through key_fn, so the map itself costs 12 bytes
 * a slot: the value and 32 bits of its hash (enough for the slot index of
 * any table that fits in memory, and to skip most string compares). The hash is FNV-1a seeded per
 * map: object names come from the API server, and a per-process seed keeps them from being chosen
 * to collide.
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
	free(m->values);
	m->values = NULL;
	m->hashes = NULL;
	m->cap = m->len = 0;
}

static size_t find_slot(const struct kube_map *m, const char *key, uint32_t h)
{
	size_t mask = m->cap - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		const void *v = m->values[i];

		if (!v || (m->hashes[i] == h && strcmp(m->key(v), key) == 0))
			return i;
	}
}

void *kube_map_get(const struct kube_map *m, const char *key)
{
	size_t i;

	if (!m->cap)
		return NULL;
	i = find_slot(m, key, (uint32_t)map_hash(m, key));
	return m->values[i];
}

/* Moves every member into a new table of cap slots (a power of two, at
 * least the member count). -ENOMEM: m unchanged. */
static int map_rehash(struct kube_map *m, size_t cap)
{
	void **values, **old = m->values;
	uint32_t *hashes, *old_h = m->hashes;
	size_t old_cap = m->cap, mask = cap - 1;

	if (cap > SIZE_MAX / (sizeof(*values) + sizeof(*hashes)))
		return -ENOMEM;
	/* The hashes after the values: 8-byte aligned, as cap is even. */
	values = calloc(cap, sizeof(*values) + sizeof(*hashes));
	if (!values)
		return -ENOMEM;
	hashes = (uint32_t *)(void *)(values + cap);
	for (size_t i = 0; i < old_cap; i++) {
		if (old[i]) {
			size_t j = old_h[i] & mask;

			while (values[j])
				j = (j + 1) & mask;
			values[j] = old[i];
			hashes[j] = old_h[i];
		}
	}
	free(old);
	m->values = values;
	m->hashes = hashes;
	m->cap = cap;
	return 0;
}

static int map_grow(struct kube_map *m)
{
	return map_rehash(m, m->cap ? m->cap * 2 : MAP_MIN_CAP);
}

/* Gives memory back after a mass deletion (a namespace deleted). */
static void map_shrink(struct kube_map *m)
{
	if (m->cap / 2 >= MAP_MIN_CAP)
		(void)map_rehash(m, m->cap / 2); /* kept as is without memory */
}

int kube_map_put(struct kube_map *m, void *value, void **ret_old)
{
	const char *key = m->key(value);
	uint32_t h = (uint32_t)map_hash(m, key);
	size_t i;

	/* Keep the load factor under 3/4. */
	if ((m->len + 1) * 4 > m->cap * 3) {
		int r = map_grow(m);

		if (r < 0)
			return r;
	}
	i = find_slot(m, key, h);
	if (ret_old)
		*ret_old = m->values[i];
	if (!m->values[i])
		m->len++;
	m->values[i] = value;
	m->hashes[i] = h;
	return 0;
}

void *kube_map_remove(struct kube_map *m, const char *key)
{
	size_t mask, i, j;
	void *value;

	if (!m->cap)
		return NULL;
	mask = m->cap - 1;
	i = find_slot(m, key, (uint32_t)map_hash(m, key));
	value = m->values[i];
	if (!value)
		return NULL;
	/* Backward shift: move later members of the probe run into the hole
	 * when their home slot is at or before it (cyclically). */
	for (j = (i + 1) & mask; m->values[j]; j = (j + 1) & mask) {
		size_t home = m->hashes[j] & mask;

		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->values[i] = m->values[j];
			m->hashes[i] = m->hashes[j];
			i = j;
		}
	}
	m->values[i] = NULL;
	m->hashes[i] = 0;
	m->len--;
	if (m->cap > MAP_MIN_CAP && m->len * 8 < m->cap)
		map_shrink(m);
	return value;
}

void *kube_map_next(const struct kube_map *m, size_t *pos)
{
	while (*pos < m->cap) {
		void *v = m->values[(*pos)++];

		if (v)
			return v;
	}
	return NULL;
}
