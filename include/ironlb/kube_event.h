/* Kubernetes Events (core/v1), recorded the way client-go's recorder does:
 * repeats of the same event on the same object (same uid, type, reason and
 * message) become one Event whose count and lastTimestamp are PATCHed,
 * rather than one Event per repeat; each object has a rate limit (token
 * bucket: 25 events, then one per 5 minutes); and what is remembered for
 * aggregation is bounded (LRU).
 *
 * Recording never blocks and never fails because the API server is away:
 * the Event is sent in the background (at most max_in_flight requests at
 * once, the rest waiting in order) and errors go to on_error.
 */
#ifndef IRONLB_KUBE_EVENT_H
#define IRONLB_KUBE_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kube_client;
struct loop;
struct kube_event_recorder;

/* The object an Event is about. kind and name are required; uid should be
 * set (it is the aggregation key; without it kind/namespace/name is). */
struct kube_object_ref {
	const char *api_version; /* "v1", "ironlb.io/v1beta1"; may be NULL */
	const char *kind;
	const char *ns; /* NULL or "" for cluster-scoped objects (the Event goes to "default") */
	const char *name;
	const char *uid;
	const char *resource_version; /* optional */
	const char *field_path;	      /* optional */
};

enum kube_event_type { KUBE_EVENT_NORMAL, KUBE_EVENT_WARNING };

/* A failed write, for the daemon to log; borrowed for the call. */
struct kube_event_error {
	int err;
	long code;
	const char *status_reason;
	const char *message;
	const char *event_ns;
	const char *event_name;
	const char *object; /* "Kind ns/name" */
	const char *reason; /* the Event's reason */
};

struct kube_event_opts {
	const char *component; /* source.component, e.g. "ironlb-controller" (required) */
	const char *host;      /* source.host: the node name; may be NULL */
	size_t max_entries;    /* events remembered for aggregation; default 1024 */
	unsigned burst;	       /* per-object rate limit; default 25 */
	uint64_t refill_us;    /* one more event per object every; default 5 min */
	size_t max_message;    /* longer messages are cut; default 1024 bytes */
	/* Event requests in flight at once; more wait, in order, as compact
	 * records (not as built requests), and go out as answers come back.
	 * Default 8. They are the client's background requests: they wait
	 * while the daemon's own queued writes do. */
	unsigned max_in_flight;
	void (*on_error)(const struct kube_event_error *e, void *userdata);
	void *userdata;
};

struct kube_event_recorder *kube_event_recorder_new(struct kube_client *client, struct loop *loop,
						    const struct kube_event_opts *opts);
/* Cancels what is in flight. NULL is a no-op. */
void kube_event_recorder_free(struct kube_event_recorder *rec);

/* Records an event. 0 when sent, queued or aggregated, -EBUSY when the object's
 * rate limit dropped it, -EINVAL for a bad reference or an empty reason,
 * -ENOMEM. The strings are copied. */
int kube_event_record(struct kube_event_recorder *rec, const struct kube_object_ref *obj,
		      enum kube_event_type type, const char *reason, const char *message);
int kube_event_recordf(struct kube_event_recorder *rec, const struct kube_object_ref *obj,
		       enum kube_event_type type, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

struct kube_event_stats {
	uint64_t recorded;   /* accepted calls */
	uint64_t posted;     /* Events created */
	uint64_t patched;    /* count updates sent */
	uint64_t aggregated; /* repeats folded into an existing Event */
	uint64_t rate_limited;
	uint64_t errors;
	size_t entries;	    /* remembered aggregates */
	unsigned in_flight; /* requests not yet answered */
	size_t waiting;	    /* aggregates waiting for a request slot */
};
void kube_event_get_stats(const struct kube_event_recorder *rec, struct kube_event_stats *ret);

#endif
