/* Informer: list, then watch, keep a cache, tell the daemon what changed.
 *
 * States: LISTING (pages in flight) -> WATCHING -> (server ends the watch)
 * WATCHING again, or -> BACKOFF -> LISTING/WATCHING. What happens after a
 * watch ends:
 *   clean end (timeoutSeconds)           -> watch again from the last RV
 *   410 Gone (HTTP or ERROR event)       -> list again (immediately, unless
 *                                           410s repeat without progress)
 *   garbage or oversized line            -> list again after a backoff: we
 *                                           may have lost an event, the
 *                                           list repairs that
 *   transport error, 5xx, 429            -> watch again from the last RV
 *                                           after a backoff
 *   other 4xx                            -> list again after a backoff
 *
 * A list is applied page by page: each object is compared with the cache
 * (same resourceVersion: nothing to do, not even a decode), and marked with
 * the list's generation; when the last page is in, cached objects without
 * the mark are the ones deleted while we were not watching, and handlers
 * get on_delete for them. Nothing is buffered beyond one page.
 */
#include "ironlb/informer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "ironlb/kube.h"
#include "ironlb/kube_util.h"
#include "ironlb/loop.h"
#include "ironlb/watch.h"

#define INFORMER_PAGE_SIZE 500
#define INFORMER_BACKOFF_INITIAL_US 800000u
#define INFORMER_BACKOFF_MAX_US 30000000u
#define INFORMER_WATCH_MIN_S 300
#define INFORMER_WATCH_MAX_S 600
/* A watch that ends cleanly sooner than this without any event counts as
 * a failure: a server (or proxy) that closes at once must not make us spin. */
#define INFORMER_SHORT_WATCH_US 1000000u

/* One cached object, in one allocation with its key and, while it fits,
 * its resourceVersion: rv points into the entry's tail (rv_cap bytes after
 * the key), or to a heap copy of a longer one. */
struct inf_entry {
	void *item;
	char *rv;
	uint32_t gen;
	uint32_t rv_cap;
	char key[];
};

/* Room in an entry for its resourceVersion: the current one, rounded up
 * so that it can grow by a digit or two in place. */
#define ENTRY_RV_ROUND 8

/* The entries with one index value. Most values have one entry (the
 * EndpointSlice of a Service): it is held in place of the array then. */
struct idx_bucket {
	union {
		struct inf_entry **many; /* cap > 0 */
		struct inf_entry *one;	 /* cap == 0, n <= 1 */
	} u;
	uint32_t n, cap;
	char value[];
};

static struct inf_entry *bucket_at(const struct idx_bucket *b, size_t i)
{
	return b->cap ? b->u.many[i] : b->u.one;
}

struct inf_index {
	struct inf_index *next;
	char *name;
	informer_index_fn fn;
	void *userdata;
	struct kube_map buckets;
};

struct informer_emitter {
	char **values;
	size_t n, cap;
	bool oom;
};

enum inf_next { NEXT_LIST, NEXT_WATCH };

struct informer {
	struct kube_client *c;
	struct loop *loop;
	struct informer_opts o;
	char *ns, *label_selector, *field_selector;
	struct kube_map cache;
	struct inf_index *indexes;
	bool started;
	bool synced;
	char *rv;
	char *cont;
	uint32_t gen;
	struct kube_request *req;
	struct watch_framer *framer;
	struct loop_timer *timer;
	enum inf_next next;
	struct kube_backoff backoff;
	uint64_t rng;
	bool watch_progress;
	uint64_t watch_started_us;
	unsigned expired_streak;
	/* why we stopped the stream ourselves, for the done callback */
	int stream_err;
	char stream_why[160];
	long stream_code;
	char stream_reason[64];
	struct informer_stats st;
};

/* ---- entries ---- */

static const char *entry_key(const void *v)
{
	return ((const struct inf_entry *)v)->key;
}

static const char *bucket_key(const void *v)
{
	return ((const struct idx_bucket *)v)->value;
}

static void item_free(struct informer *inf, void *item)
{
	if (inf->o.free_item)
		inf->o.free_item(item, inf->o.userdata);
	else if (!inf->o.decode)
		json_decref(item);
}

static char *entry_rv_inline(struct inf_entry *e)
{
	return e->key + strlen(e->key) + 1;
}

/* A new entry for key at resourceVersion rv, or NULL. */
static struct inf_entry *entry_new(const char *key, const char *rv)
{
	size_t lk = strlen(key) + 1, lr = strlen(rv) + 1;
	size_t cap = (lr + ENTRY_RV_ROUND - 1) / ENTRY_RV_ROUND * ENTRY_RV_ROUND;
	struct inf_entry *e;

	if (cap > UINT32_MAX)
		return NULL;
	e = calloc(1, sizeof(*e) + lk + cap);
	if (!e)
		return NULL;
	memcpy(e->key, key, lk);
	e->rv_cap = (uint32_t)cap;
	e->rv = memcpy(entry_rv_inline(e), rv, lr);
	return e;
}

/* Sets e's resourceVersion: in place when it fits. 0 or -ENOMEM (then e
 * is unchanged). */
static int entry_set_rv(struct inf_entry *e, const char *rv)
{
	char *in = entry_rv_inline(e), *p;
	size_t lr = strlen(rv) + 1;

	if (lr <= e->rv_cap)
		p = memcpy(in, rv, lr);
	else if (!(p = strdup(rv)))
		return -ENOMEM;
	if (e->rv != in)
		free(e->rv);
	e->rv = p;
	return 0;
}

static void entry_free(struct informer *inf, struct inf_entry *e)
{
	item_free(inf, e->item);
	if (e->rv != entry_rv_inline(e))
		free(e->rv);
	free(e);
}

/* ---- indexes ---- */

void informer_index_emit(struct informer_emitter *emit, const char *value)
{
	char *v;

	for (size_t i = 0; i < emit->n; i++)
		if (!strcmp(emit->values[i], value))
			return;
	if (emit->n == emit->cap) {
		size_t cap = emit->cap ? emit->cap * 2 : 4;
		char **p = realloc(emit->values, cap * sizeof(*p));

		if (!p) {
			emit->oom = true;
			return;
		}
		emit->values = p;
		emit->cap = cap;
	}
	v = strdup(value);
	if (!v) {
		emit->oom = true;
		return;
	}
	emit->values[emit->n++] = v;
}

static void emitter_clear(struct informer_emitter *emit)
{
	for (size_t i = 0; i < emit->n; i++)
		free(emit->values[i]);
	free(emit->values);
	memset(emit, 0, sizeof(*emit));
}

static void index_insert(struct inf_index *ix, struct inf_entry *e)
{
	struct informer_emitter emit = { 0 };

	ix->fn(e->key, e->item, &emit, ix->userdata);
	for (size_t i = 0; i < emit.n; i++) {
		struct idx_bucket *b = kube_map_get(&ix->buckets, emit.values[i]);

		if (!b) {
			size_t len = strlen(emit.values[i]);

			b = calloc(1, sizeof(*b) + len + 1);
			if (!b)
				continue;
			memcpy(b->value, emit.values[i], len + 1);
			if (kube_map_put(&ix->buckets, b, NULL) < 0) {
				free(b);
				continue;
			}
		}
		if (b->n == 0 && b->cap == 0) {
			b->u.one = e;
			b->n = 1;
			continue;
		}
		if (b->n == b->cap || b->cap == 0) { /* full, or holding one */
			uint32_t cap = b->cap ? b->cap * 2 : 4;
			struct inf_entry **p =
				cap > b->cap ? realloc(b->cap ? b->u.many : NULL, cap * sizeof(*p))
					     : NULL;

			/* Out of memory: the index misses this item, which is
			 * all we can do without failing the whole update. */
			if (!p)
				continue;
			if (!b->cap)
				p[0] = b->u.one;
			b->u.many = p;
			b->cap = cap;
		}
		b->u.many[b->n++] = e;
	}
	emitter_clear(&emit);
}

static void index_delete(struct inf_index *ix, struct inf_entry *e)
{
	struct informer_emitter emit = { 0 };

	/* The item has not changed since it was indexed, so the function
	 * gives the same values: no need to store them per entry. */
	ix->fn(e->key, e->item, &emit, ix->userdata);
	for (size_t i = 0; i < emit.n; i++) {
		struct idx_bucket *b = kube_map_get(&ix->buckets, emit.values[i]);

		if (!b)
			continue;
		for (size_t j = 0; j < b->n; j++) {
			if (bucket_at(b, j) != e)
				continue;
			if (b->cap)
				b->u.many[j] = b->u.many[b->n - 1];
			b->n--;
			break;
		}
		if (b->n == 0) {
			kube_map_remove(&ix->buckets, b->value);
			if (b->cap)
				free(b->u.many);
			free(b);
		}
	}
	emitter_clear(&emit);
}

static void indexes_insert(struct informer *inf, struct inf_entry *e)
{
	for (struct inf_index *ix = inf->indexes; ix; ix = ix->next)
		index_insert(ix, e);
}

static void indexes_delete(struct informer *inf, struct inf_entry *e)
{
	for (struct inf_index *ix = inf->indexes; ix; ix = ix->next)
		index_delete(ix, e);
}

static struct inf_index *index_find(const struct informer *inf, const char *name)
{
	for (struct inf_index *ix = inf->indexes; ix; ix = ix->next)
		if (!strcmp(ix->name, name))
			return ix;
	return NULL;
}

int informer_add_index(struct informer *inf, const char *name, informer_index_fn fn, void *userdata)
{
	struct inf_index *ix;

	if (!name || !fn || inf->started)
		return -EINVAL;
	if (index_find(inf, name))
		return -EEXIST;
	ix = calloc(1, sizeof(*ix));
	if (!ix)
		return -ENOMEM;
	ix->name = strdup(name);
	if (!ix->name) {
		free(ix);
		return -ENOMEM;
	}
	ix->fn = fn;
	ix->userdata = userdata;
	kube_map_init(&ix->buckets, bucket_key);
	ix->next = inf->indexes;
	inf->indexes = ix;
	return 0;
}

static void index_free(struct inf_index *ix)
{
	size_t pos = 0;
	struct idx_bucket *b;

	while ((b = kube_map_next(&ix->buckets, &pos))) {
		if (b->cap)
			free(b->u.many);
		free(b);
	}
	kube_map_free(&ix->buckets);
	free(ix->name);
	free(ix);
}

int informer_index_foreach(const struct informer *inf, const char *index, const char *value,
			   informer_each_fn fn, void *userdata)
{
	struct inf_index *ix = index_find(inf, index);
	struct idx_bucket *b;

	if (!ix)
		return -ENOENT;
	b = kube_map_get(&ix->buckets, value);
	for (size_t i = 0; b && i < b->n; i++) {
		const struct inf_entry *e = bucket_at(b, i);
		int r = fn(e->key, e->item, userdata);

		if (r)
			return r;
	}
	return 0;
}

size_t informer_index_count(const struct informer *inf, const char *index, const char *value)
{
	struct inf_index *ix = index_find(inf, index);
	struct idx_bucket *b = ix ? kube_map_get(&ix->buckets, value) : NULL;

	return b ? b->n : 0;
}

void informer_index_by_label(const char *key, const void *item, struct informer_emitter *emit,
			     void *userdata)
{
	const char *label = userdata, *v = kube_label_get((json_t *)item, label);
	const char *slash = strchr(key, '/');
	struct kube_buf b = { 0 };
	char *s;

	if (!v)
		return;
	if (slash)
		kube_buf_append(&b, key, (size_t)(slash - key) + 1);
	kube_buf_puts(&b, v);
	s = kube_buf_steal(&b);
	if (!s) {
		emit->oom = true;
		return;
	}
	informer_index_emit(emit, s);
	free(s);
}

/* ---- errors ---- */

static void report(struct informer *inf, enum informer_error_kind kind, const char *key, int err,
		   long code, const char *reason, const char *message, uint64_t retry_in)
{
	struct informer_error e = {
		.kind = kind,
		.resource = inf->o.res->plural,
		.key = key ? key : "",
		.err = err,
		.code = code,
		.reason = reason ? reason : "",
		.message = message ? message : "",
		.retry_in_us = retry_in,
	};

	if (inf->o.on_error)
		inf->o.on_error(inf, &e, inf->o.userdata);
}

/* ---- cache changes ---- */

static int set_str(char **dst, const char *s)
{
	char *p = strdup(s);

	if (!p)
		return -ENOMEM;
	free(*dst);
	*dst = p;
	return 0;
}

static void cache_delete(struct informer *inf, struct inf_entry *e)
{
	kube_map_remove(&inf->cache, e->key);
	indexes_delete(inf, e);
	if (inf->o.on_delete)
		inf->o.on_delete(inf, e->key, e->item, inf->o.userdata);
	entry_free(inf, e);
}

static int default_decode(json_t *obj, void **ret_item)
{
	*ret_item = json_incref(obj); /* new reference, kept by the cache */
	return 0;
}

/* Applies the current state of one object (from a list page or an
 * ADDED/MODIFIED event). obj is borrowed. */
static void cache_apply(struct informer *inf, json_t *obj)
{
	struct kube_meta m;
	struct inf_entry *e;
	const char *why = NULL;
	char key[512];
	void *item = NULL;
	int r;

	r = kube_meta_get(obj, true, true, &m, &why);
	if (r == 0 &&
	    kube_key_format(inf->o.res->namespaced ? m.ns : NULL, m.name, key, sizeof(key)) < 0) {
		r = -ENAMETOOLONG;
		why = "namespace/name too long";
	}
	if (r < 0) {
		inf->st.decode_errors++;
		report(inf, INFORMER_ERR_DECODE, "", r, 0, "", why, 0);
		return;
	}
	e = kube_map_get(&inf->cache, key);
	if (e && !strcmp(e->rv, m.resource_version)) {
		e->gen = inf->gen;
		return;
	}
	why = NULL;
	r = inf->o.decode ? inf->o.decode(obj, inf->o.userdata, &item, &why)
			  : default_decode(obj, &item);
	if (r == 0 && !item) {
		r = -EINVAL;
		why = "decode returned no item";
	}
	if (r != 0) {
		if (r < 0) {
			inf->st.decode_errors++;
			report(inf, INFORMER_ERR_DECODE, key, r, 0, "", why ? why : "decode failed",
			       0);
		}
		if (e)
			cache_delete(inf, e);
		return;
	}
	if (e) {
		void *old = e->item;

		if (entry_set_rv(e, m.resource_version) < 0) {
			item_free(inf, item);
			return;
		}
		indexes_delete(inf, e);
		e->item = item;
		e->gen = inf->gen;
		indexes_insert(inf, e);
		if (inf->o.on_update)
			inf->o.on_update(inf, e->key, old, item, inf->o.userdata);
		item_free(inf, old);
		return;
	}
	e = entry_new(key, m.resource_version);
	if (!e) {
		item_free(inf, item);
		return;
	}
	e->item = item;
	e->gen = inf->gen;
	if (kube_map_put(&inf->cache, e, NULL) < 0) {
		entry_free(inf, e);
		return;
	}
	indexes_insert(inf, e);
	if (inf->o.on_add)
		inf->o.on_add(inf, e->key, item, inf->o.userdata);
}

static void cache_remove_key(struct informer *inf, const char *ns, const char *name)
{
	char key[512];
	struct inf_entry *e;

	if (kube_key_format(inf->o.res->namespaced ? ns : NULL, name, key, sizeof(key)) < 0)
		return;
	e = kube_map_get(&inf->cache, key);
	if (e)
		cache_delete(inf, e);
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp((*(struct inf_entry *const *)a)->key, (*(struct inf_entry *const *)b)->key);
}

/* After the last page: what the list did not mark is gone. Deletions are
 * delivered in key order, so that what a daemon logs does not depend on
 * hashing. */
static void cache_sweep(struct informer *inf)
{
	struct inf_entry **gone = NULL, *e;
	size_t n = 0, cap = 0, pos = 0;

	while ((e = kube_map_next(&inf->cache, &pos))) {
		if (e->gen == inf->gen)
			continue;
		if (n == cap) {
			size_t c = cap ? cap * 2 : 16;
			struct inf_entry **p = realloc(gone, c * sizeof(*p));

			if (!p)
				break; /* the next relist sweeps the rest */
			gone = p;
			cap = c;
		}
		gone[n++] = e;
	}
	if (n > 1)
		qsort(gone, n, sizeof(*gone), entry_cmp);
	for (size_t i = 0; i < n; i++)
		cache_delete(inf, gone[i]);
	free(gone);
}

/* A list parses pages of up to page_size objects into jansson trees: a
 * few MiB that glibc keeps in the middle of the heap once freed, because
 * the decoded items allocated meanwhile sit above them. Lists are rare
 * (start, 410), so giving those pages back to the kernel then is cheap;
 * for 10,000 Services it halves the resident anonymous memory. */
static void release_memory(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/* ---- state machine ---- */

static void list_start(struct informer *inf);
static void list_page(struct informer *inf);
static void watch_start(struct informer *inf);

/* Goes to BACKOFF and arms the timer for the next step; a failure counts
 * for the backoff, anything else runs at once (through the loop, so that
 * no request is started from deep inside another's callback chain). */
static uint64_t schedule(struct informer *inf, enum inf_next next, bool failure)
{
	uint64_t delay = 0;

	if (failure) {
		delay = kube_backoff_next(&inf->backoff);
		inf->st.failures++;
		inf->st.last_backoff_us = delay;
	}
	inf->next = next;
	inf->st.state = INFORMER_BACKOFF;
	loop_timer_arm(inf->timer, delay);
	return delay;
}

static void on_timer(struct loop_timer *t, void *userdata)
{
	struct informer *inf = userdata;

	(void)t;
	if (inf->next == NEXT_LIST)
		list_start(inf);
	else
		watch_start(inf);
}

static void list_failed(struct informer *inf, int err, long code, const char *reason,
			const char *message)
{
	uint64_t d = schedule(inf, NEXT_LIST, true);

	report(inf, INFORMER_ERR_LIST, "", err, code, reason, message, d);
}

static void list_done(struct informer *inf, const char *rv)
{
	bool first = !inf->synced;

	if (set_str(&inf->rv, rv) < 0) {
		list_failed(inf, -ENOMEM, 0, "", "out of memory");
		return;
	}
	cache_sweep(inf);
	release_memory();
	inf->st.lists++;
	if (!first)
		inf->st.relists++;
	inf->synced = true;
	if (first && inf->o.on_synced)
		inf->o.on_synced(inf, inf->o.userdata);
	watch_start(inf);
}

static void on_list(const struct kube_result *res, void *userdata)
{
	struct informer *inf = userdata;
	json_t *items, *md, *v, *item;
	const char *rv, *cont = NULL;
	size_t i;

	inf->req = NULL;
	if (res->err < 0) {
		if (res->code == 410 && inf->cont)
			inf->st.expired++; /* the continue token expired */
		list_failed(inf, res->err, res->code, res->reason, res->message);
		return;
	}
	items = json_object_get(res->body, "items"); /* borrowed */
	md = json_object_get(res->body, "metadata"); /* borrowed */
	v = json_object_get(md, "resourceVersion");  /* borrowed */
	if (!(json_is_array(items) || json_is_null(items)) || !json_is_string(v) ||
	    !json_string_length(v)) {
		list_failed(inf, -EBADMSG, res->code, "",
			    "list answer without items or metadata.resourceVersion");
		return;
	}
	rv = json_string_value(v);
	v = json_object_get(md, "continue"); /* borrowed */
	if (json_is_string(v) && json_string_length(v))
		cont = json_string_value(v);
	inf->st.list_pages++;
	json_array_foreach (items, i, item)
		cache_apply(inf, item);
	if (cont) {
		if (set_str(&inf->cont, cont) < 0) {
			list_failed(inf, -ENOMEM, 0, "", "out of memory");
			return;
		}
		list_page(inf);
		return;
	}
	free(inf->cont);
	inf->cont = NULL;
	list_done(inf, rv);
}

static void list_page(struct informer *inf)
{
	struct kube_list_opts lo = {
		.label_selector = inf->label_selector,
		.field_selector = inf->field_selector,
		.limit = inf->o.page_size,
		.continue_token = inf->cont,
	};
	int r;

	inf->st.state = INFORMER_LISTING;
	r = kube_list(inf->c, inf->o.res, inf->ns, &lo, on_list, inf, &inf->req);
	if (r < 0)
		list_failed(inf, r, 0, "", "could not start the list request");
}

static void list_start(struct informer *inf)
{
	inf->gen++;
	free(inf->cont);
	inf->cont = NULL;
	list_page(inf);
}

/* Handles one parsed event. Returns 0, or a negative errno to stop the
 * stream (with stream_* filled in). */
static int watch_event_apply(struct informer *inf, struct watch_event *ev)
{
	switch (ev->type) {
	case WATCH_ADDED:
	case WATCH_MODIFIED:
		cache_apply(inf, ev->object);
		break;
	case WATCH_DELETED:
		cache_remove_key(inf, ev->ns, ev->name);
		break;
	case WATCH_BOOKMARK:
		inf->st.bookmarks++;
		break;
	case WATCH_ERROR:
		inf->stream_code = ev->code;
		snprintf(inf->stream_reason, sizeof(inf->stream_reason), "%s", ev->reason);
		snprintf(inf->stream_why, sizeof(inf->stream_why), "%s", ev->message);
		inf->stream_err = ev->code == 410 ? -ETIME : kube_code_errno(ev->code, ev->reason);
		if (!inf->stream_err)
			inf->stream_err = -EPROTO;
		return inf->stream_err;
	}
	if (ev->type != WATCH_BOOKMARK)
		inf->st.events++;
	if (set_str(&inf->rv, ev->resource_version) < 0) {
		inf->stream_err = -ENOMEM;
		return -ENOMEM;
	}
	if (!inf->watch_progress) {
		inf->watch_progress = true;
		inf->expired_streak = 0;
		kube_backoff_reset(&inf->backoff);
	}
	return 0;
}

static int on_watch_data(const char *data, size_t len, void *userdata)
{
	struct informer *inf = userdata;
	const char *line;
	size_t n;
	int r;

	/* An overflow still leaves the complete lines before it to apply. */
	watch_framer_feed(inf->framer, data, len);
	while ((r = watch_framer_next(inf->framer, &line, &n)) == 1) {
		struct watch_event ev;
		const char *why = NULL;

		r = watch_event_parse(line, n, &ev, &why);
		if (r < 0) {
			inf->st.bad_lines++;
			inf->stream_err = -EBADMSG;
			snprintf(inf->stream_why, sizeof(inf->stream_why),
				 "unparseable watch event: %s", why ? why : "?");
			return -EBADMSG;
		}
		r = watch_event_apply(inf, &ev);
		watch_event_clear(&ev);
		if (r < 0)
			return r;
	}
	if (r == -EMSGSIZE) {
		inf->st.long_lines++;
		inf->stream_err = -EMSGSIZE;
		snprintf(inf->stream_why, sizeof(inf->stream_why),
			 "watch event longer than %zu bytes", inf->o.max_line);
		return -EMSGSIZE;
	}
	return 0;
}

static void on_watch_done(const struct kube_result *res, void *userdata)
{
	struct informer *inf = userdata;
	int serr = inf->stream_err;
	uint64_t d;

	inf->req = NULL;
	inf->stream_err = 0;
	if (serr == -ETIME || res->code == 410) {
		/* Expired: relist. At once the first time; if 410s repeat
		 * without the watch making progress, back off. */
		inf->st.expired++;
		inf->expired_streak++;
		d = schedule(inf, NEXT_LIST, inf->expired_streak > 1);
		report(inf, INFORMER_ERR_EXPIRED, "", -ETIME, 410,
		       serr ? inf->stream_reason : res->reason,
		       serr ? inf->stream_why : res->message, d);
		return;
	}
	if (serr == -EBADMSG || serr == -EMSGSIZE) {
		d = schedule(inf, NEXT_LIST, true);
		report(inf, INFORMER_ERR_STREAM, "", serr, res->code, "", inf->stream_why, d);
		return;
	}
	if (serr < 0) {
		/* An ERROR event other than 410. */
		d = schedule(inf,
			     inf->stream_code >= 500 || inf->stream_code == 429 ? NEXT_WATCH
										: NEXT_LIST,
			     true);
		report(inf, INFORMER_ERR_WATCH, "", serr, inf->stream_code, inf->stream_reason,
		       inf->stream_why, d);
		return;
	}
	if (res->err == 0) {
		if (inf->watch_progress ||
		    loop_now_us() - inf->watch_started_us >= INFORMER_SHORT_WATCH_US) {
			kube_backoff_reset(&inf->backoff);
			watch_start(inf);
			return;
		}
		d = schedule(inf, NEXT_WATCH, true);
		report(inf, INFORMER_ERR_WATCH, "", -ECONNRESET, res->code, "",
		       "watch ended at once without events", d);
		return;
	}
	/* Transport errors and server trouble: resume from where we were.
	 * Client errors (400 bad resourceVersion, 403...): start over. */
	d = schedule(inf,
		     res->code >= 400 && res->code < 500 && res->code != 429 ? NEXT_LIST
									     : NEXT_WATCH,
		     true);
	report(inf, INFORMER_ERR_WATCH, "", res->err, res->code, res->reason, res->message, d);
}

static void watch_start(struct informer *inf)
{
	struct kube_list_opts lo = {
		.label_selector = inf->label_selector,
		.field_selector = inf->field_selector,
		.resource_version = inf->rv,
		.allow_bookmarks = true,
	};
	int r;

	lo.timeout_s = (unsigned)kube_rand_range(&inf->rng, inf->o.watch_timeout_min_s,
						 inf->o.watch_timeout_max_s);
	inf->st.last_watch_timeout_s = lo.timeout_s;
	watch_framer_reset(inf->framer);
	inf->watch_progress = false;
	inf->stream_err = 0;
	inf->stream_code = 0;
	inf->stream_reason[0] = inf->stream_why[0] = '\0';
	inf->watch_started_us = loop_now_us();
	inf->st.state = INFORMER_WATCHING;
	inf->st.watches++;
	r = kube_watch(inf->c, inf->o.res, inf->ns, &lo, on_watch_data, on_watch_done, inf,
		       &inf->req);
	if (r < 0) {
		uint64_t d = schedule(inf, NEXT_WATCH, true);

		report(inf, INFORMER_ERR_WATCH, "", r, 0, "", "could not start the watch request",
		       d);
	}
}

/* ---- public ---- */

static int dup_opt(char **dst, const char *s)
{
	if (!s || !s[0])
		return 0;
	*dst = strdup(s);
	return *dst ? 0 : -ENOMEM;
}

struct informer *informer_new(struct kube_client *client, struct loop *loop,
			      const struct informer_opts *opts)
{
	struct informer *inf;

	if (!opts || !opts->res)
		return NULL;
	inf = calloc(1, sizeof(*inf));
	if (!inf)
		return NULL;
	inf->c = client;
	inf->loop = loop;
	inf->o = *opts;
	if (!inf->o.page_size)
		inf->o.page_size = INFORMER_PAGE_SIZE;
	if (!inf->o.watch_timeout_min_s)
		inf->o.watch_timeout_min_s = INFORMER_WATCH_MIN_S;
	if (!inf->o.watch_timeout_max_s)
		inf->o.watch_timeout_max_s = INFORMER_WATCH_MAX_S;
	if (inf->o.watch_timeout_max_s < inf->o.watch_timeout_min_s)
		inf->o.watch_timeout_max_s = inf->o.watch_timeout_min_s;
	if (!inf->o.backoff_initial_us)
		inf->o.backoff_initial_us = INFORMER_BACKOFF_INITIAL_US;
	if (!inf->o.backoff_max_us)
		inf->o.backoff_max_us = INFORMER_BACKOFF_MAX_US;
	if (!inf->o.max_line)
		inf->o.max_line = WATCH_MAX_LINE_DEFAULT;
	inf->rng = inf->o.seed ? inf->o.seed : kube_rand_seed();
	kube_backoff_init(&inf->backoff, inf->o.backoff_initial_us, inf->o.backoff_max_us,
			  kube_rand_next(&inf->rng));
	kube_map_init(&inf->cache, entry_key);
	inf->framer = watch_framer_new(inf->o.max_line);
	inf->timer = loop_timer_new(loop, on_timer, inf);
	if (!inf->framer || !inf->timer ||
	    dup_opt(&inf->ns, opts->res->namespaced ? opts->ns : NULL) < 0 ||
	    dup_opt(&inf->label_selector, opts->label_selector) < 0 ||
	    dup_opt(&inf->field_selector, opts->field_selector) < 0) {
		informer_free(inf);
		return NULL;
	}
	inf->o.ns = inf->ns;
	inf->o.label_selector = inf->label_selector;
	inf->o.field_selector = inf->field_selector;
	return inf;
}

void informer_free(struct informer *inf)
{
	struct inf_entry *e;
	size_t pos = 0;

	if (!inf)
		return;
	kube_request_cancel(inf->req);
	loop_timer_free(inf->timer);
	watch_framer_free(inf->framer);
	while ((e = kube_map_next(&inf->cache, &pos)))
		entry_free(inf, e);
	kube_map_free(&inf->cache);
	while (inf->indexes) {
		struct inf_index *ix = inf->indexes;

		inf->indexes = ix->next;
		index_free(ix);
	}
	free(inf->ns);
	free(inf->label_selector);
	free(inf->field_selector);
	free(inf->rv);
	free(inf->cont);
	free(inf);
}

int informer_start(struct informer *inf)
{
	if (inf->started)
		return -EALREADY;
	inf->started = true;
	list_start(inf);
	return 0;
}

bool informer_synced(const struct informer *inf)
{
	return inf->synced;
}

const char *informer_resource_version(const struct informer *inf)
{
	return inf->rv ? inf->rv : "";
}

size_t informer_count(const struct informer *inf)
{
	return inf->cache.len;
}

void *informer_get_key(const struct informer *inf, const char *key)
{
	struct inf_entry *e = kube_map_get(&inf->cache, key);

	return e ? e->item : NULL;
}

const char *informer_get_rv(const struct informer *inf, const char *key)
{
	struct inf_entry *e = kube_map_get(&inf->cache, key);

	return e ? e->rv : NULL;
}

void *informer_get(const struct informer *inf, const char *ns, const char *name)
{
	char key[512];

	if (kube_key_format(inf->o.res->namespaced ? ns : NULL, name, key, sizeof(key)) < 0)
		return NULL;
	return informer_get_key(inf, key);
}

int informer_foreach(const struct informer *inf, informer_each_fn fn, void *userdata)
{
	struct inf_entry *e;
	size_t pos = 0;

	while ((e = kube_map_next(&inf->cache, &pos))) {
		int r = fn(e->key, e->item, userdata);

		if (r)
			return r;
	}
	return 0;
}

void informer_get_stats(const struct informer *inf, struct informer_stats *ret)
{
	*ret = inf->st;
	if (!inf->started)
		ret->state = INFORMER_IDLE;
}
