/* Small helpers shared by the Kubernetes client modules (kube_*.c, watch.c,
 * informer.c, leader.c): a growable string buffer, URL escaping, the
 * Kubernetes time formats, a seeded random generator and jittered
 * exponential backoff, and a compact string-keyed hash map. No I/O, no clock
 * and no globals, except kube_rand_seed() which asks the kernel for a seed.
 */
#ifndef IRONLB_KUBE_UTIL_H
#define IRONLB_KUBE_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- growable buffer ----
 * Zero-initialise to start. Appends never fail silently: the first
 * allocation failure makes the buffer "oom" for good, every later append
 * returns -ENOMEM and kube_buf_steal() returns NULL, so a caller can build a
 * string with many appends and check once at the end. */
struct kube_buf {
	char *data; /* NUL-terminated when len > 0 */
	size_t len, cap;
	bool oom;
};

int kube_buf_append(struct kube_buf *b, const void *p, size_t n);
int kube_buf_puts(struct kube_buf *b, const char *s);
int kube_buf_printf(struct kube_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s percent-encoded: everything but RFC 3986 unreserved characters
 * (A-Z a-z 0-9 - . _ ~) becomes %XX. Safe for path segments and for query
 * keys and values alike. */
int kube_buf_escape(struct kube_buf *b, const char *s);
/* Hands the NUL-terminated string to the caller (never NULL for a buffer
 * that is empty but not oom: returns ""), and resets the buffer. NULL if
 * the buffer is oom. */
char *kube_buf_steal(struct kube_buf *b);
/* Frees the contents and zeroes the buffer. */
void kube_buf_free(struct kube_buf *b);

/* ---- time ---- */

/* "2006-01-02T15:04:05Z" plus NUL. */
#define KUBE_TIME_STRLEN 21
/* "2006-01-02T15:04:05.000000Z" plus NUL. */
#define KUBE_MICROTIME_STRLEN 28

/* Formats a wall-clock time (microseconds since the epoch, UTC) the way
 * metav1.Time (seconds) and metav1.MicroTime (microseconds) serialise. */
void kube_time_format(uint64_t wall_us, char buf[KUBE_TIME_STRLEN]);
void kube_microtime_format(uint64_t wall_us, char buf[KUBE_MICROTIME_STRLEN]);
/* Parses RFC 3339 ("2006-01-02T15:04:05[.frac](Z|+hh:mm|-hh:mm)"), the
 * superset of both. 0 or -EINVAL (times before 1970 are -EINVAL too). */
int kube_time_parse(const char *s, uint64_t *ret_wall_us);

/* ---- random ---- */

/* A 64-bit seed from getrandom(2), falling back to the clocks and the pid:
 * jitter only needs to differ between processes, not to be secret. */
uint64_t kube_rand_seed(void);
/* xorshift64*: the next value of the sequence in *state (never 0 state). */
uint64_t kube_rand_next(uint64_t *state);
/* Uniform in [lo, hi] (inclusive). lo <= hi. */
uint64_t kube_rand_range(uint64_t *state, uint64_t lo, uint64_t hi);

/* ---- backoff ----
 * Exponential backoff with "equal jitter": the n-th delay is uniform in
 * [d/2, d] with d = min(max, initial * 2^n). The spread keeps clients that
 * failed together (an API server restart) from retrying in lockstep, and
 * the lower bound keeps a retry from coming right back. */
struct kube_backoff {
	uint64_t initial_us;
	uint64_t max_us;
	uint64_t cur_us; /* the d of the next delay */
	unsigned failures;
	uint64_t rng;
};

void kube_backoff_init(struct kube_backoff *b, uint64_t initial_us, uint64_t max_us, uint64_t seed);
/* The delay before the next attempt; each call counts one more failure. */
uint64_t kube_backoff_next(struct kube_backoff *b);
/* After a success: the next failure starts from initial_us again. */
void kube_backoff_reset(struct kube_backoff *b);

/* ---- hash map ----
 * Open addressing with linear probing and backward-shift deletion, keyed
 * by a string the stored value carries itself (key_fn), so an entry costs
 * one pointer and one hash: the informer keeps 10,000s of them. Values are
 * not owned. Not safe to modify while iterating. */
typedef const char *(*kube_map_key_fn)(const void *value);

struct kube_map {
	/* Slot i holds values[i] (NULL: empty) with the low 32 bits of its
	 * key's hash in hashes[i]; both arrays in one allocation. */
	void **values;
	uint32_t *hashes;
	size_t cap; /* power of two, or 0 */
	size_t len;
	kube_map_key_fn key;
	uint64_t seed;
};

void kube_map_init(struct kube_map *m, kube_map_key_fn key);
/* Frees the table, not the values. */
void kube_map_free(struct kube_map *m);
void *kube_map_get(const struct kube_map *m, const char *key);
/* Inserts value, or replaces the value with the same key; the replaced one
 * is returned through *ret_old (NULL if none). 0 or -ENOMEM. */
int kube_map_put(struct kube_map *m, void *value, void **ret_old);
/* Removes and returns the value with this key, or NULL. */
void *kube_map_remove(struct kube_map *m, const char *key);
/* Iteration: start with *pos = 0; returns the next value or NULL at the end. */
void *kube_map_next(const struct kube_map *m, size_t *pos);

#endif
