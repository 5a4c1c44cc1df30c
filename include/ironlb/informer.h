/* Informers: a local, always up to date cache of one kind of object, kept
 * by list-then-watch, with change notifications and secondary indexes.
 *
 * The informer lists the resource in pages (limit/continue), then watches
 * from the list's resourceVersion with bookmarks, renewing the watch when
 * the server ends it (timeoutSeconds, randomised 5-10 min like client-go).
 * When the watch cannot resume (410 Gone: the resourceVersion was
 * compacted) or the stream turns to garbage, it lists again and delivers
 * the difference against its cache: handlers see every add, update and
 * delete exactly as if they had watched throughout, deletions included.
 * Failures retry with jittered exponential backoff (under 1 s at first,
 * capped at 30 s, reset after success).
 *
 * MEMORY: the informer does not keep API objects. Each object goes through
 * the daemon's decode callback, which returns a compact struct of what the
 * daemon needs (like client-go's transform); the JSON is dropped at once.
 * Per object the informer keeps one allocation with the key ("ns/name")
 * and the resourceVersion, a hash table slot, and the decoded item.
 * Without decode it keeps the json_t itself.
 *
 *	static int svc_decode(json_t *obj, void *ud, void **ret_item, const char **ret_why);
 *	struct informer_opts o = {
 *		.res = &KUBE_SERVICES,
 *		.decode = svc_decode, .free_item = svc_free,
 *		.on_add = svc_add, .on_update = svc_update, .on_delete = svc_delete,
 *		.on_synced = svc_synced, .on_error = svc_error, .userdata = ctl,
 *	};
 *	struct informer *inf = informer_new(client, loop, &o);
 *	informer_start(inf);
 */
#ifndef IRONLB_INFORMER_H
#define IRONLB_INFORMER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ironlb/kube_resource.h"

struct informer;
struct kube_client;
struct loop;

/* Return of decode for an object the daemon is not interested in (a
 * Service of another type): treated as absent, without an error. */
#define INFORMER_SKIP 1

/* Turns an API object (borrowed; do not keep it without json_incref) into
 * the item the cache stores. 0 with *ret_item set (not NULL),
 * INFORMER_SKIP, or a negative errno with a reason in *ret_why (static or
 * owned by userdata, read before the next decode). A failed object is
 * reported to on_error and treated as absent: an item that stops decoding
 * is deleted, since acting on a stale copy of something the user has since
 * changed is worse than not acting. */
typedef int (*informer_decode_fn)(json_t *obj, void *userdata, void **ret_item,
				  const char **ret_why);
typedef void (*informer_free_fn)(void *item, void *userdata);

/* Handlers. key is "namespace/name" ("name" for cluster-scoped objects).
 * Items are owned by the informer: old items are freed after on_update /
 * on_delete return. Handlers may read the cache and submit requests; they
 * must not free the informer. */
typedef void (*informer_add_fn)(struct informer *inf, const char *key, void *item, void *userdata);
typedef void (*informer_update_fn)(struct informer *inf, const char *key, void *old_item,
				   void *new_item, void *userdata);
typedef void (*informer_delete_fn)(struct informer *inf, const char *key, void *old_item,
				   void *userdata);
typedef void (*informer_synced_fn)(struct informer *inf, void *userdata);

enum informer_error_kind {
	INFORMER_ERR_DECODE,  /* one object skipped: key, message */
	INFORMER_ERR_LIST,    /* a list failed; retrying after retry_in_us */
	INFORMER_ERR_WATCH,   /* a watch failed; retrying after retry_in_us */
	INFORMER_ERR_STREAM,  /* a garbage or oversized line; relisting */
	INFORMER_ERR_EXPIRED, /* 410 Gone: relisting (normal after compaction) */
};

/* Everything a daemon needs to log one clear line; borrowed for the call. */
struct informer_error {
	enum informer_error_kind kind;
	const char *resource; /* plural: "services" */
	const char *key;      /* DECODE: the object's key; else "" */
	int err;	      /* negative errno */
	long code;	      /* HTTP code, 0 if none */
	const char *reason;   /* Status reason or "" */
	const char *message;  /* detail */
	uint64_t retry_in_us; /* LIST/WATCH/STREAM: when the next attempt starts */
};
typedef void (*informer_error_fn)(struct informer *inf, const struct informer_error *e,
				  void *userdata);

struct informer_opts {
	const struct kube_resource *res;
	const char *ns; /* NULL: all namespaces */
	const char *label_selector;
	const char *field_selector;
	unsigned page_size; /* default 500 */
	/* watch timeoutSeconds is uniform in [min, max]; default 300..600 */
	unsigned watch_timeout_min_s;
	unsigned watch_timeout_max_s;
	uint64_t backoff_initial_us; /* default 800 ms */
	uint64_t backoff_max_us;     /* default 30 s */
	size_t max_line;	     /* default WATCH_MAX_LINE_DEFAULT */
	informer_decode_fn decode;   /* NULL: keep the json_t (a reference) */
	informer_free_fn free_item;  /* NULL with decode NULL: json_decref */
	informer_add_fn on_add;
	informer_update_fn on_update;
	informer_delete_fn on_delete;
	informer_synced_fn on_synced;
	informer_error_fn on_error;
	void *userdata;
	uint64_t seed; /* jitter; 0: random */
};

/* Copies opts (and its strings). NULL on allocation failure or bad opts. */
struct informer *informer_new(struct kube_client *client, struct loop *loop,
			      const struct informer_opts *opts);
/* Stops and frees, freeing every item (no handlers called). NULL is a no-op. */
void informer_free(struct informer *inf);
int informer_start(struct informer *inf);

/* True once the first full list has been delivered. */
bool informer_synced(const struct informer *inf);
/* The resourceVersion the cache is at. */
const char *informer_resource_version(const struct informer *inf);

size_t informer_count(const struct informer *inf);
/* The item of ns/name (ns ignored for cluster-scoped), or NULL. */
void *informer_get(const struct informer *inf, const char *ns, const char *name);
void *informer_get_key(const struct informer *inf, const char *key);
/* Its resourceVersion, or NULL. */
const char *informer_get_rv(const struct informer *inf, const char *key);
/* Calls fn for every item, in no particular order. fn must not change the
 * cache (it cannot: changes only come from the loop). Returns the first
 * non-zero value fn returns, which stops the walk, or 0. */
typedef int (*informer_each_fn)(const char *key, void *item, void *userdata);
int informer_foreach(const struct informer *inf, informer_each_fn fn, void *userdata);

/* ---- indexes ----
 * An index maps values computed from each item to the items that have
 * them: e.g. EndpointSlices by "namespace/service-name". The index function
 * calls informer_index_emit() for each value of an item (any number,
 * duplicates ignored); it must be deterministic for a given item. */
struct informer_emitter;
typedef void (*informer_index_fn)(const char *key, const void *item, struct informer_emitter *emit,
				  void *userdata);
void informer_index_emit(struct informer_emitter *emit, const char *value);

/* Before informer_start(). 0, -EEXIST (name taken), -ENOMEM. */
int informer_add_index(struct informer *inf, const char *name, informer_index_fn fn,
		       void *userdata);
/* Calls fn for each item with value in the index; returns like
 * informer_foreach, or -ENOENT for an unknown index. */
int informer_index_foreach(const struct informer *inf, const char *index, const char *value,
			   informer_each_fn fn, void *userdata);
size_t informer_index_count(const struct informer *inf, const char *index, const char *value);

/* An index function for a label: indexes items (json_t, the default decode)
 * by "namespace/<value of label userdata>". For decoded items the daemon
 * writes its own. */
void informer_index_by_label(const char *key, const void *item, struct informer_emitter *emit,
			     void *userdata);

enum informer_state {
	INFORMER_IDLE,
	INFORMER_LISTING,
	INFORMER_WATCHING,
	INFORMER_BACKOFF,
};

struct informer_stats {
	enum informer_state state;
	uint64_t lists;	     /* complete lists */
	uint64_t list_pages; /* pages received */
	uint64_t relists;    /* lists after the first */
	uint64_t watches;    /* watch requests started */
	uint64_t events;     /* watch events applied */
	uint64_t bookmarks;
	uint64_t expired;    /* 410 Gone seen (relist) */
	uint64_t failures;   /* list/watch failures that led to backoff */
	uint64_t bad_lines;  /* unparseable watch lines */
	uint64_t long_lines; /* watch lines over max_line */
	uint64_t decode_errors;
	unsigned last_watch_timeout_s;
	uint64_t last_backoff_us;
};
void informer_get_stats(const struct informer *inf, struct informer_stats *ret);

#endif
