/* The controller's I/O layer (see controller.h): informers in, allocator
 * decisions out as status writes, annotations, Events, pool status and
 * metrics.
 *
 * Memory: each Service is decoded once into a compact struct service,
 * shared (service_ref) by the informer cache (struct svc_item, with the
 * value of the annotation we write) and the allocator. Pools and
 * Namespaces are few; their cache keeps the JSON.
 *
 * Speaker Leases: each speaker reports in its Lease the addresses it
 * found answered by a host outside ironlb ("inUse"); the union over the
 * Leases still fresh is the set automatic assignment skips
 * (alloc_set_skipped), re-computed on every Lease event and when the
 * earliest reporting Lease expires.
 *
 * Leadership: the allocator exists only while this replica leads. On
 * becoming leader (or at start without election) once every cache is
 * synced, a fresh allocator is fed pools, Namespaces and every Service
 * (alloc_restore adopts the addresses already in status), and its
 * decisions are applied; from then on each informer event is one
 * allocator call and a drain. Losing leadership drops the allocator; the
 * client's write gate already refuses every write from that moment.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alloc.h"
#include "bgp_report.h"
#include "controller.h"
#include "ironlb/informer.h"
#include "ironlb/kube.h"
#include "ironlb/kube_event.h"
#include "ironlb/kube_resource.h"
#include "ironlb/kube_util.h"
#include "ironlb/leader.h"
#include "ironlb/log.h"
#include "ironlb/loop.h"
#include "ironlb/metrics.h"
#include "pool.h"
#include "service.h"
#include "speakers.h"

#define COMP "controller"
/* Pool status writes are coalesced over this delay. */
#define POOL_FLUSH_DELAY_US 100000
/* Writes (status, annotations, pool status) outstanding at once. Beyond
 * it, changed Services wait as keys (tens of bytes each) and the
 * allocator keeps its pending decisions, so that a burst of 10,000
 * Services costs 10,000 keys, not 10,000 built requests. Four times the
 * client's in-flight cap keeps its queue from running dry. */
#define MAX_WRITES_OUTSTANDING 64
/* Services whose write failed are re-decided after this delay. */
#define REQUEUE_DELAY_US 1000000

/* A Service as the informer cache keeps it. */
struct svc_item {
	struct service *svc;
	char *allocated_from; /* ironlb.io/ip-allocated-from-pool, or NULL */
};

/* One write in flight, so that controller_free can cancel it. */
struct write_op {
	struct controller *c;
	struct write_op *prev, *next;
	struct kube_request *req;
	struct kube_retry *retry;
	/* clear_status: the addresses to remove, and whether to clear all */
	size_t nreleased;
	struct ip_addr released[2];
	bool clear_all;
	/* status and annotation writes: what is being written, so that the
	 * same write is not sent again while it is in flight (an echo of an
	 * earlier change can arrive before it completes) */
	bool in_map;
	size_t naddrs;
	struct ip_addr addrs[2];
	char *annot;	  /* the annotation value to write (after the status) */
	bool annot_set;	  /* annot is to be written (NULL: removed) */
	char *ns, *name;  /* point into mkey's allocation */
	const char *what; /* "status", "annotation", "pool status" */
	char *key;	  /* ns/name (points into mkey) */
	char mkey[];	  /* "s|ns/name", "a|ns/name", "p|name" */
};

struct requeue {
	struct requeue *next;
	char key[];
};

/* A FIFO of Service keys without duplicates. */
struct key_ent {
	struct key_ent *next;
	char *value; /* lazy annotations: the value to write, or NULL */
	bool has_value;
	char key[];
};

struct key_fifo {
	struct kube_map set;
	struct key_ent *head, *tail;
};

struct controller {
	struct loop *loop;
	struct kube_client *client;
	struct metrics *metrics;
	struct controller_config cfg;
	char *namespace, *lb_class, *identity;

	struct informer *svc_inf, *ns_inf, *pool_inf;
	struct informer *lease_inf; /* speaker Leases: addresses found in use */
	struct bgp_report *bgp;	    /* BGPPeer/BGPAdvertisement/BFDProfile status */
	struct leader *leader;
	struct kube_event_recorder *events;
	struct alloc *alloc; /* only while active */
	bool synced;
	bool leading;
	bool stopping;

	struct loop_timer *pool_timer;
	struct loop_timer *requeue_timer;
	struct loop_timer *lease_timer; /* the earliest expiry of a reporting Lease */
	struct requeue *requeue;
	struct write_op *writes;
	struct kube_map pending; /* write_op by mkey: status and annotation writes */
	unsigned nwrites;	 /* write_ops alive */
	/* Changed Services to decide once writes are below
	 * MAX_WRITES_OUTSTANDING (then the allocator's own pending decisions,
	 * then the annotations put off while status writes were waiting). */
	struct key_fifo deferred;
	struct key_fifo lazy_annot;
	bool dirty_left; /* the last drain stopped with decisions left */
	/* A pool status flush skipped a pool whose last write was in flight. */
	bool pool_flush_deferred;

	void (*shutdown_done)(void *);
	void *shutdown_ud;

	struct metric *m_pool_addrs;
	struct metric *m_failures;
	struct metric *m_reconcile;
	struct metric *m_writes;
	struct metric *m_skipped;

	struct log_ratelimit rl_inf, rl_write, rl_event, rl_leader;
	char decode_err[SERVICE_ERR_MAX];
};

static void controller_drain(struct controller *c);
static void svc_decide(struct controller *c, struct svc_item *item);

/* ---- key FIFOs ---- */

static const char *key_ent_key(const void *v)
{
	return ((const struct key_ent *)v)->key;
}

static void key_fifo_init(struct key_fifo *q)
{
	kube_map_init(&q->set, key_ent_key);
	q->head = q->tail = NULL;
}

/* Appends key (a no-op when it is there; then only the value changes). */
static void key_fifo_push(struct key_fifo *q, const char *key, bool has_value, const char *value)
{
	struct key_ent *e = kube_map_get(&q->set, key);
	char *v = NULL;

	if (has_value && value && !(v = strdup(value)))
		return;
	if (e) {
		free(e->value);
		e->value = v;
		e->has_value = has_value;
		return;
	}
	e = malloc(sizeof(*e) + strlen(key) + 1);
	if (!e) {
		free(v);
		return;
	}
	strcpy(e->key, key);
	e->next = NULL;
	e->value = v;
	e->has_value = has_value;
	if (kube_map_put(&q->set, e, NULL) < 0) {
		free(v);
		free(e);
		return;
	}
	if (q->tail)
		q->tail->next = e;
	else
		q->head = e;
	q->tail = e;
}

/* The first entry, out of the FIFO (free it with key_ent_free), or NULL. */
static struct key_ent *key_fifo_pop(struct key_fifo *q)
{
	struct key_ent *e = q->head;

	if (!e)
		return NULL;
	q->head = e->next;
	if (!q->head)
		q->tail = NULL;
	kube_map_remove(&q->set, e->key);
	return e;
}

static void key_ent_free(struct key_ent *e)
{
	if (e)
		free(e->value);
	free(e);
}

static void key_fifo_clear(struct key_fifo *q)
{
	struct key_ent *e;

	while ((e = key_fifo_pop(q)))
		key_ent_free(e);
}

static void key_fifo_free(struct key_fifo *q)
{
	key_fifo_clear(q);
	kube_map_free(&q->set);
}

/* ---- helpers ---- */

static const char *alloc_error_name(enum alloc_error e)
{
	switch (e) {
	case ALLOC_OK:
		return "None";
	case ALLOC_ERR_BAD_REQUEST:
		return "BadRequest";
	case ALLOC_ERR_WRONG_FAMILY:
		return "WrongFamily";
	case ALLOC_ERR_NOT_IN_POOL:
		return "NotInPool";
	case ALLOC_ERR_NOT_IN_REQUESTED_POOL:
		return "NotInRequestedPool";
	case ALLOC_ERR_POOL_MISSING:
		return "PoolMissing";
	case ALLOC_ERR_POOL_INVALID:
		return "PoolInvalid";
	case ALLOC_ERR_POOL_DENIED:
		return "PoolDenied";
	case ALLOC_ERR_IN_USE:
		return "InUse";
	case ALLOC_ERR_NO_POOL:
		return "NoPool";
	case ALLOC_ERR_EXHAUSTED:
		return "Exhausted";
	case ALLOC_ERR_NO_MEMORY:
		return "NoMemory";
	}
	return "Unknown";
}

static bool same_str(const char *a, const char *b)
{
	return (a == NULL) == (b == NULL) && (!a || strcmp(a, b) == 0);
}

static bool active(const struct controller *c)
{
	return c->alloc != NULL;
}

static bool rl_ok(struct log_ratelimit *rl)
{
	unsigned suppressed = 0;
	bool ok = log_ratelimit_ok(rl, loop_now_us(), &suppressed);

	if (suppressed)
		log_warn(COMP, "similar lines suppressed", LF_UINT("count", suppressed));
	return ok;
}

static const char *write_op_mkey(const void *v)
{
	return ((const struct write_op *)v)->mkey;
}

static struct write_op *write_op_new(struct controller *c, const char *ns, const char *name,
				     const char *what)
{
	size_t len = strlen(ns) + strlen(name) + 2;
	/* one allocation: the struct, "k|ns/name", "ns", "name" */
	struct write_op *w = calloc(1, sizeof(*w) + 2 + 2 * len);

	if (!w)
		return NULL;
	w->ns = w->mkey + 2 + len;
	strcpy(w->ns, ns);
	w->name = w->ns + strlen(ns) + 1;
	strcpy(w->name, name);
	w->c = c;
	w->what = what;
	w->mkey[0] = what[0] == 'a' ? 'a' : what[0] == 's' ? 's' : 'p';
	w->mkey[1] = '|';
	w->key = w->mkey + 2;
	kube_key_format(ns, name, w->key, len);
	w->next = c->writes;
	if (c->writes)
		c->writes->prev = w;
	c->writes = w;
	c->nwrites++;
	return w;
}

static void write_op_free(struct write_op *w)
{
	struct controller *c = w->c;

	if (w->in_map && kube_map_get(&c->pending, w->mkey) == w)
		kube_map_remove(&c->pending, w->mkey);
	c->nwrites--;
	free(w->annot);
	if (w->prev)
		w->prev->next = w->next;
	else
		c->writes = w->next;
	if (w->next)
		w->next->prev = w->prev;
	free(w);
}

/* Re-decides a Service later (after a failed write). */
static void requeue_key(struct controller *c, const char *key)
{
	struct requeue *q;

	for (q = c->requeue; q; q = q->next)
		if (strcmp(q->key, key) == 0)
			return;
	q = malloc(sizeof(*q) + strlen(key) + 1);
	if (!q)
		return;
	strcpy(q->key, key);
	q->next = c->requeue;
	c->requeue = q;
	if (!loop_timer_armed(c->requeue_timer))
		loop_timer_arm(c->requeue_timer, REQUEUE_DELAY_US);
}

static void requeue_clear(struct controller *c)
{
	while (c->requeue) {
		struct requeue *q = c->requeue;

		c->requeue = q->next;
		free(q);
	}
	if (c->requeue_timer)
		loop_timer_disarm(c->requeue_timer);
}

/* ---- writes ---- */

static void write_annotation(struct controller *c, const char *key, const char *value);

static bool writes_full(const struct controller *c)
{
	return c->nwrites >= MAX_WRITES_OUTSTANDING;
}

/* Whether status writes are waiting: annotations then wait too. */
static bool status_backlog(const struct controller *c)
{
	return writes_full(c) || c->deferred.head || c->dirty_left;
}

/* Writes the annotation of the Service key now, or, while status writes
 * are waiting, remembers it for when they are done: an address in the
 * status is what users wait for; the annotation only records its pool. */
static void annotation_write(struct controller *c, const char *key, const char *value)
{
	if (status_backlog(c))
		key_fifo_push(&c->lazy_annot, key, true, value);
	else
		write_annotation(c, key, value);
}

/* Goes on with the work put off while writes were at their bound: changed
 * Services, the allocator's pending decisions, then annotations. Called
 * whenever a write finishes. */
static void writes_resume(struct controller *c)
{
	struct key_ent *e;

	if (!active(c))
		return;
	while (!writes_full(c) && (e = key_fifo_pop(&c->deferred))) {
		struct svc_item *item = informer_get_key(c->svc_inf, e->key);

		if (item)
			svc_decide(c, item);
		key_ent_free(e);
	}
	if (!writes_full(c) && c->dirty_left)
		controller_drain(c);
	while (!status_backlog(c) && (e = key_fifo_pop(&c->lazy_annot))) {
		struct svc_item *item = informer_get_key(c->svc_inf, e->key);

		/* Still wanted: the Service exists and does not carry it. */
		if (item && !same_str(item->allocated_from, e->value))
			write_annotation(c, e->key, e->value);
		key_ent_free(e);
	}
}

static void schedule_pool_flush(struct controller *c);

static void write_done(const struct kube_result *res, void *userdata)
{
	struct write_op *w = userdata;
	struct controller *c = w->c;

	if (c->m_writes)
		metric_add(c->m_writes, 1, w->what, res->err < 0 ? "error" : "ok");
	if (res->err < 0 && res->err != -EPERM) {
		if (rl_ok(&c->rl_write))
			log_warn(COMP, "write failed", LF_STR("what", w->what),
				 LF_STR("object", w->key), LF_INT("code", res->code),
				 LF_STR("reason", res->reason), LF_STR("message", res->message),
				 LF_ERR(res->err));
		/* A deleted object needs nothing more; the rest is retried. */
		if (res->err != -ENOENT && active(c)) {
			if (strcmp(w->what, "pool status") == 0)
				loop_timer_arm(c->pool_timer, REQUEUE_DELAY_US);
			else
				requeue_key(c, w->key);
		}
	} else if (res->err == 0 && w->annot_set && active(c)) {
		/* The annotation goes after the status, so that its echo
		 * carries the new status. */
		annotation_write(c, w->key, w->annot);
	}
	write_op_free(w);
	/* A pool's status waits for its last write (pool_flush_one). */
	if (c->pool_flush_deferred && active(c)) {
		c->pool_flush_deferred = false;
		schedule_pool_flush(c);
	}
	writes_resume(c);
}

/* Sends a merge patch (new reference, consumed; NULL: out of memory) as
 * the write w, or frees w. Writes wait in the client's queue for a slot
 * (kube_client_opts.max_in_flight): status and pool status in its first
 * FIFO, annotations in the background one, behind every status write
 * waiting. Their answers are not parsed: only the code matters. */
static int write_send(struct controller *c, struct write_op *w, const struct kube_resource *res,
		      const char *sub, json_t *patch)
{
	struct kube_call call = {
		.method = "PATCH",
		.res = res,
		.ns = w->ns,
		.name = w->name,
		.subresource = sub,
		.body = patch,
		.content_type = KUBE_MERGE_PATCH,
		.queue = w->what[0] == 'a' ? KUBE_QUEUE_BACKGROUND : KUBE_QUEUE_NORMAL,
		.discard_body = true,
	};
	int r = patch ? kube_submit(c->client, &call, write_done, w, &w->req) : -ENOMEM;

	json_decref(patch);
	if (r < 0) {
		if (r != -EPERM)
			log_warn(COMP, "cannot submit write", LF_STR("what", w->what),
				 LF_STR("object", w->key), LF_ERR(r));
		write_op_free(w);
	}
	return r;
}

static int submit_patch(struct controller *c, const struct kube_resource *res, const char *ns,
			const char *name, const char *sub, json_t *patch, const char *what)
{
	struct write_op *w = write_op_new(c, ns ? ns : "", name, what);

	if (!w) {
		json_decref(patch);
		return -ENOMEM;
	}
	if (!ns)
		w->ns = NULL;
	return write_send(c, w, res, sub, patch);
}

/* Cancels every write, sent or waiting in the client's queue (leadership
 * lost, shutdown): no callback follows. */
static void writes_cancel(struct controller *c)
{
	while (c->writes) {
		kube_request_cancel(c->writes->req);
		if (c->writes->retry)
			kube_retry_cancel(c->writes->retry);
		write_op_free(c->writes);
	}
}

/* Remembers w as the write in flight for its object and kind. */
static void pending_put(struct controller *c, struct write_op *w)
{
	void *old = NULL;

	if (kube_map_put(&c->pending, w, &old) == 0) {
		w->in_map = true;
		if (old)
			((struct write_op *)old)->in_map = false;
	}
}

/* Patches the annotation of the Service key ("ns/name") unless the same
 * patch is in flight. */
static void write_annotation(struct controller *c, const char *key, const char *value)
{
	char mkey[600], ns[300];
	const char *slash = strchr(key, '/');
	struct write_op *w;
	json_t *p;

	if (!slash || (size_t)(slash - key) >= sizeof(ns))
		return;
	snprintf(mkey, sizeof(mkey), "a|%s", key);
	w = kube_map_get(&c->pending, mkey);
	if (w && w->annot_set && same_str(w->annot, value))
		return;
	memcpy(ns, key, (size_t)(slash - key));
	ns[slash - key] = '\0';
	p = json_pack("{s:{s:{s:s?}}}", "metadata", "annotations", SERVICE_ANNOT_ALLOCATED_FROM,
		      value);
	w = write_op_new(c, ns, slash + 1, "annotation");
	if (!w) {
		json_decref(p);
		return;
	}
	w->annot_set = true;
	w->annot = value ? strdup(value) : NULL;
	pending_put(c, w);
	write_send(c, w, &KUBE_SERVICES, NULL, p);
}

/* clear_status: removes the released addresses (or everything) from
 * status.loadBalancer.ingress of the object as it is now. */
static int clear_mutate(json_t *obj, void *userdata)
{
	struct write_op *w = userdata;
	json_t *status = json_object_get(obj, "status"); /* borrowed */
	json_t *lb = json_object_get(status, "loadBalancer");
	json_t *ing = json_object_get(lb, "ingress");
	bool changed = false;
	size_t i;

	if (!json_is_array(ing) || json_array_size(ing) == 0)
		return KUBE_NO_CHANGE;
	if (w->clear_all)
		return json_object_set_new(status, "loadBalancer", json_object()) ? -ENOMEM : 0;
	for (i = json_array_size(ing); i-- > 0;) {
		const char *ip = json_string_value(json_object_get(json_array_get(ing, i), "ip"));
		struct ip_addr a;

		if (!ip || ip_parse(ip, &a, NULL) < 0)
			continue;
		for (size_t k = 0; k < w->nreleased; k++)
			if (ip_cmp(&a, &w->released[k]) == 0) {
				json_array_remove(ing, i);
				changed = true;
				break;
			}
	}
	return changed ? 0 : KUBE_NO_CHANGE;
}

static void clear_done(const struct kube_result *res, void *userdata)
{
	write_done(res, userdata);
}

static void status_clear(struct controller *c, const struct alloc_decision *d, bool all)
{
	struct write_op *w = write_op_new(c, d->namespace, d->name, "status");
	int r;

	if (!w)
		return;
	w->clear_all = all;
	w->nreleased = d->nreleased;
	memcpy(w->released, d->released, sizeof(w->released));
	r = kube_update_retry(c->client, &KUBE_SERVICES, d->namespace, d->name, "status", 0,
			      clear_mutate, clear_done, w, &w->retry);
	if (r < 0) {
		if (r != -EPERM)
			log_warn(COMP, "cannot submit write", LF_STR("what", "status"),
				 LF_STR("object", w->key), LF_ERR(r));
		write_op_free(w);
	}
}

static json_t *status_patch(const struct ip_addr *addrs, size_t n, enum service_ip_mode mode)
{
	json_t *lb = n ? service_ingress_json(addrs, n, mode) : json_pack("{s:n}", "ingress");

	if (!lb)
		return NULL;
	return json_pack("{s:{s:o}}", "status", "loadBalancer", lb);
}

static void format_addrs(const struct ip_addr *a, size_t n, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && off + IP_STRLEN + 2 < len; i++) {
		char ip[IP_STRLEN];

		off += snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
				ip_format(&a[i], ip, sizeof(ip)));
	}
}

/* ---- applying decisions ---- */

/* Records an Event. The recorder sends at most a few at once, as the
 * client's background requests, and keeps the rest as compact records. */
static void event_record(struct controller *c, const struct kube_object_ref *ref,
			 enum kube_event_type type, const char *reason, const char *msg)
{
	kube_event_record(c->events, ref, type, reason, msg);
}

static void event_svc(struct controller *c, const struct service *svc, enum kube_event_type type,
		      const char *reason, const char *msg)
{
	struct kube_object_ref ref = {
		.api_version = "v1",
		.kind = "Service",
		.ns = svc->namespace,
		.name = svc->name,
		.uid = svc->uid,
	};

	event_record(c, &ref, type, reason, msg);
}

static void apply(struct controller *c, const struct alloc_decision *d)
{
	struct svc_item *item = informer_get(c->svc_inf, d->namespace, d->name);
	const struct service *svc =
		item ? item->svc : alloc_service_get(c->alloc, d->namespace, d->name);
	char msg[1024];

	if (!svc)
		return;
	if (d->handled) {
		struct ip_addr addrs[2];
		size_t n = d->naddrs;

		for (size_t i = 0; i < n; i++)
			addrs[i] = d->addrs[i].addr;
		bool annot_differs = item && !same_str(d->pool_annotation, item->allocated_from);

		if (!service_ingress_equal(svc, addrs, n, c->cfg.ip_mode)) {
			char mkey[600];
			struct write_op *w;

			snprintf(mkey, sizeof(mkey), "s|%s/%s", d->namespace, d->name);
			w = kube_map_get(&c->pending, mkey);
			if (w && w->naddrs == n &&
			    memcmp(w->addrs, addrs, n * sizeof(addrs[0])) == 0 &&
			    w->annot_set == annot_differs && same_str(w->annot, d->pool_annotation))
				goto events;
			w = write_op_new(c, d->namespace, d->name, "status");
			if (w) {
				w->naddrs = n;
				memcpy(w->addrs, addrs, sizeof(w->addrs));
				w->annot_set = annot_differs;
				w->annot = d->pool_annotation ? strdup(d->pool_annotation) : NULL;
				pending_put(c, w);
			}
			if (w && write_send(c, w, &KUBE_SERVICES, "status",
					    status_patch(addrs, n, c->cfg.ip_mode)) == 0) {
				char list[128];

				if (n) {
					format_addrs(addrs, n, list, sizeof(list));
					snprintf(msg, sizeof(msg), "Assigned IP [%s] from pool %s",
						 list,
						 d->pool_annotation ? d->pool_annotation
								    : "(none)");
					event_svc(c, svc, KUBE_EVENT_NORMAL, "IPAllocated", msg);
					log_info(COMP, "address assigned",
						 LF_STR("namespace", d->namespace),
						 LF_STR("name", d->name), LF_STR("ip", list),
						 LF_STR("pool", d->pool_annotation));
				} else if (svc->ningress) {
					event_svc(c, svc, KUBE_EVENT_NORMAL, "IPReleased",
						  "Released every load-balancer address");
					log_info(COMP, "addresses released",
						 LF_STR("namespace", d->namespace),
						 LF_STR("name", d->name));
				}
			}
		} else if (annot_differs) {
			char key[600];

			snprintf(key, sizeof(key), "%s/%s", d->namespace, d->name);
			annotation_write(c, key, d->pool_annotation);
		}
	}
events:
	if (d->clear_status) {
		bool all = svc->type != SERVICE_LOAD_BALANCER;

		status_clear(c, d, all);
		if (d->changed && d->nreleased) {
			char list[128];

			format_addrs(d->released, d->nreleased, list, sizeof(list));
			snprintf(msg, sizeof(msg),
				 "Released IP [%s]: the Service is no longer ours", list);
			event_svc(c, svc, KUBE_EVENT_NORMAL, "IPReleased", msg);
		}
		if (item && item->allocated_from && !d->handled) {
			json_t *p = json_pack("{s:{s:{s:n}}}", "metadata", "annotations",
					      SERVICE_ANNOT_ALLOCATED_FROM);

			submit_patch(c, &KUBE_SERVICES, d->namespace, d->name, NULL, p,
				     "annotation");
		}
	}
	if (!d->changed)
		return;
	if (d->reason) {
		event_svc(c, svc, KUBE_EVENT_WARNING, "AllocationFailed", d->reason);
		if (c->m_failures)
			metric_add(c->m_failures, 1, alloc_error_name(d->error));
		log_warn(COMP, "allocation failed", LF_STR("namespace", d->namespace),
			 LF_STR("name", d->name), LF_STR("reason", alloc_error_name(d->error)),
			 LF_STR("message", d->reason));
	}
	for (size_t i = 0; i < d->nnotes; i++)
		event_svc(c, svc, KUBE_EVENT_NORMAL,
			  strncmp(d->notes[i], "annotation ", 11) == 0 ? "DeprecatedAnnotation"
								       : "AllocationNote",
			  d->notes[i]);
	for (size_t i = 0; i < d->next; i++) {
		if (d->ext[i].state != ALLOC_EXT_REJECTED)
			continue;
		event_svc(c, svc, KUBE_EVENT_WARNING, "ExternalIPRejected",
			  d->ext[i].reason ? d->ext[i].reason : "rejected");
		log_warn(COMP, "externalIP rejected", LF_STR("namespace", d->namespace),
			 LF_STR("name", d->name), LF_STR("message", d->ext[i].reason));
	}
}

static void schedule_pool_flush(struct controller *c)
{
	if (!loop_timer_armed(c->pool_timer))
		loop_timer_arm(c->pool_timer, POOL_FLUSH_DELAY_US);
}

/* Applies the pending decisions, while writes are below their bound; the
 * rest stay pending in the allocator (dirty_left) until writes finish. */
static void controller_drain(struct controller *c)
{
	struct alloc_decision *d;
	int r = 0;

	if (!active(c))
		return;
	c->dirty_left = false;
	while (!(c->dirty_left = writes_full(c)) && (r = alloc_next_dirty(c->alloc, &d)) > 0) {
		apply(c, d);
		alloc_decision_free(d);
	}
	if (r < 0)
		log_error(COMP, "allocator failed", LF_ERR(r));
	schedule_pool_flush(c);
}

/* ---- pool status ---- */

static const char *pool_condition_status(json_t *status)
{
	json_t *conds = json_object_get(status, "conditions"), *cond;
	size_t i;

	json_array_foreach (conds, i, cond) {
		if (json_is_string(json_object_get(cond, "type")) &&
		    strcmp(json_string_value(json_object_get(cond, "type")), "Valid") == 0)
			return json_string_value(json_object_get(cond, "status"));
	}
	return NULL;
}

static void pool_flush_one(struct controller *c, const char *name, json_t *obj)
{
	json_t *want, *have = json_object_get(obj, "status"); /* borrowed */
	json_t *have_cmp, *cond, *hconds;
	const char *old_status, *new_status;
	char ts[KUBE_TIME_STRLEN], mkey[600];
	struct write_op *w;
	size_t i;

	/* One status write per pool at a time: two merge patches of the whole
	 * status in flight together (HTTP/2 streams) may be applied in either
	 * order, and the older one left on the server. The next flush follows
	 * the write's completion. */
	snprintf(mkey, sizeof(mkey), "p|%s/%s", c->namespace, name);
	if (kube_map_get(&c->pending, mkey)) {
		c->pool_flush_deferred = true;
		return;
	}
	want = alloc_pool_status_json(c->alloc, name); /* new */
	if (!want)
		return;
	/* Compare without lastTransitionTime, which only we add. */
	have_cmp = json_is_object(have) ? json_deep_copy(have) : json_object();
	hconds = json_object_get(have_cmp, "conditions");
	json_array_foreach (hconds, i, cond)
		json_object_del(cond, "lastTransitionTime");
	if (json_equal(want, have_cmp)) {
		json_decref(want);
		json_decref(have_cmp);
		return;
	}
	json_decref(have_cmp);
	old_status = pool_condition_status(have);
	new_status = pool_condition_status(want);
	kube_time_format(loop_wall_us(), ts);
	json_array_foreach (json_object_get(want, "conditions"), i, cond) {
		const char *keep = NULL;
		json_t *hc;
		size_t k;

		if (old_status && new_status && strcmp(old_status, new_status) == 0)
			json_array_foreach (json_object_get(have, "conditions"), k, hc)
				if (json_equal(json_object_get(hc, "type"),
					       json_object_get(cond, "type")))
					keep = json_string_value(
						json_object_get(hc, "lastTransitionTime"));
		json_object_set_new(cond, "lastTransitionTime", json_string(keep ? keep : ts));
	}
	/* A pool that turned invalid, or whose problems changed: one Warning. */
	if (new_status && strcmp(new_status, "False") == 0) {
		json_t *wc = json_array_get(json_object_get(want, "conditions"), 0);
		const char *wmsg = json_string_value(json_object_get(wc, "message"));
		json_t *hc = json_array_get(json_object_get(have, "conditions"), 0);
		const char *hmsg = json_string_value(json_object_get(hc, "message"));

		if (!old_status || strcmp(old_status, "False") != 0 || !hmsg || !wmsg ||
		    strcmp(hmsg, wmsg) != 0) {
			struct kube_meta m;
			const char *why;

			if (kube_meta_get(obj, true, false, &m, &why) == 0) {
				struct kube_object_ref ref = {
					.api_version = "ironlb.io/v1beta1",
					.kind = "IPAddressPool",
					.ns = m.ns,
					.name = m.name,
					.uid = m.uid,
				};

				event_record(c, &ref, KUBE_EVENT_WARNING, "InvalidPool",
					     wmsg ? wmsg : "invalid");
			}
			log_warn(COMP, "invalid IPAddressPool", LF_STR("pool", name),
				 LF_STR("message", wmsg));
		}
	}
	/* A merge patch keeps what it does not name: fields no longer wanted
	 * (nextIPv4 of a full pool, skippedIPs when none) are removed with
	 * null. */
	{
		const char *key;
		json_t *v;

		json_object_foreach (have, key, v)
			if (!json_object_get(want, key))
				json_object_set_new(want, key, json_null());
	}
	w = write_op_new(c, c->namespace, name, "pool status");
	if (!w) {
		json_decref(want);
		return;
	}
	pending_put(c, w);
	write_send(c, w, &KUBE_IPADDRESSPOOLS, "status", json_pack("{s:o}", "status", want));
}

static int pool_flush_each(const char *key, void *item, void *userdata)
{
	struct controller *c = userdata;
	struct kube_meta m;
	const char *why;

	if (kube_meta_get(item, true, false, &m, &why) == 0 && alloc_pool_get(c->alloc, m.name))
		pool_flush_one(c, m.name, item);
	return 0;
}

static void on_pool_timer(struct loop_timer *t, void *userdata)
{
	struct controller *c = userdata;

	if (active(c))
		informer_foreach(c->pool_inf, pool_flush_each, c);
}

static void on_requeue_timer(struct loop_timer *t, void *userdata)
{
	struct controller *c = userdata;
	struct requeue *q = c->requeue;

	c->requeue = NULL;
	while (q) {
		struct requeue *next = q->next;
		struct svc_item *item = informer_get_key(c->svc_inf, q->key);

		if (active(c) && item) {
			struct service *copy = service_ref(item->svc);
			struct alloc_decision *d;

			if (copy && alloc_assign(c->alloc, copy, &d) == 0) {
				apply(c, d);
				alloc_decision_free(d);
			}
		}
		free(q);
		q = next;
	}
	controller_drain(c);
}

/* ---- speaker Leases: addresses answered by hosts outside ironlb ---- */

struct lease_list {
	const struct speakers_lease **v;
	size_t n, cap;
};

static int lease_collect(const char *key, void *item, void *userdata)
{
	struct lease_list *ll = userdata;

	if (ll->n == ll->cap)
		return -ENOMEM; /* cannot happen: sized by informer_count */
	ll->v[ll->n++] = item;
	return 0;
}

/* Logs the difference between the allocator's set (old, sorted) and the
 * new one (sorted by address too). */
static void skipped_log_changes(const struct ip_addr *old, size_t nold,
				const struct speakers_addr *set, size_t n)
{
	size_t i = 0, k = 0;

	while (i < nold || k < n) {
		int cmp = i == nold ? 1 : k == n ? -1 : ip_cmp(&old[i], &set[k].addr);
		char buf[IP_STRLEN];

		if (cmp < 0)
			log_info(COMP, "address no longer skipped by automatic assignment",
				 LF_STR("ip", ip_format(&old[i], buf, sizeof(buf))));
		else if (cmp > 0)
			log_info(COMP,
				 "address skipped by automatic assignment: a host outside ironlb "
				 "answers for it",
				 LF_STR("ip", ip_format(&set[k].addr, buf, sizeof(buf))),
				 LF_STR("speaker", set[k].holder));
		i += cmp <= 0;
		k += cmp >= 0;
	}
}

/* Re-computes the addresses in use from the speaker Leases still fresh,
 * hands them to the allocator, and re-arms the timer for the next
 * expiry. Only while active: activation calls it again. */
static void skipped_refresh(struct controller *c)
{
	struct lease_list ll = { 0 };
	struct speakers_addr *set = NULL;
	struct ip_addr *addrs = NULL, *old;
	const struct ip_addr *cur;
	uint64_t now = loop_wall_us(), next = 0;
	size_t nold;
	int n, r;

	if (!active(c))
		return;
	ll.cap = informer_count(c->lease_inf);
	ll.v = calloc(ll.cap ? ll.cap : 1, sizeof(*ll.v));
	if (!ll.v)
		goto nomem;
	informer_foreach(c->lease_inf, lease_collect, &ll);
	n = speakers_in_use(ll.v, ll.n, now, &set, &next);
	free(ll.v);
	if (n < 0)
		goto nomem;
	addrs = calloc(n ? (size_t)n : 1, sizeof(*addrs));
	if (!addrs) {
		free(set);
		goto nomem;
	}
	for (int i = 0; i < n; i++)
		addrs[i] = set[i].addr;
	/* The old set is the allocator's until the call replaces it: keep a
	 * copy to log what changed once it did. */
	nold = alloc_skipped(c->alloc, &cur);
	old = nold ? malloc(nold * sizeof(*old)) : NULL;
	if (nold && !old) {
		free(addrs);
		free(set);
		goto nomem;
	}
	if (nold)
		memcpy(old, cur, nold * sizeof(*old));
	r = alloc_set_skipped(c->alloc, addrs, (size_t)n);
	if (r > 0)
		skipped_log_changes(old, nold, set, (size_t)n);
	free(old);
	free(addrs);
	free(set);
	if (r < 0)
		goto nomem;
	/* Just after the expiry: a Lease counts while expiry > now. */
	if (next)
		loop_timer_arm(c->lease_timer, next - now + 1000);
	else
		loop_timer_disarm(c->lease_timer);
	if (r > 0)
		controller_drain(c);
	return;
nomem:
	log_error(COMP, "out of memory computing the addresses speakers found in use");
	loop_timer_arm(c->lease_timer, REQUEUE_DELAY_US);
}

static void on_lease_timer(struct loop_timer *t, void *userdata)
{
	skipped_refresh(userdata);
}

static int lease_decode(json_t *obj, void *userdata, void **ret_item, const char **ret_why)
{
	struct speakers_lease *l;
	int r;

	*ret_why = "out of memory";
	r = speakers_lease_decode(obj, &l, ret_why);
	if (r == 0)
		*ret_item = l;
	return r;
}

static void lease_item_free(void *item, void *userdata)
{
	speakers_lease_free(item);
}

/* One warning per change of what was wrong, not one per renewal. */
static void lease_warn(const struct speakers_lease *old, const struct speakers_lease *l)
{
	if (l->problem && !(old && same_str(old->problem, l->problem)))
		log_warn(COMP, "speaker Lease partly unreadable, ignoring that part",
			 LF_STR("lease", l->name), LF_STR("speaker", l->holder),
			 LF_STR("message", l->problem));
}

static void lease_add(struct informer *inf, const char *key, void *item, void *userdata)
{
	lease_warn(NULL, item);
	skipped_refresh(userdata);
}

static void lease_update(struct informer *inf, const char *key, void *old_item, void *new_item,
			 void *userdata)
{
	lease_warn(old_item, new_item);
	skipped_refresh(userdata);
}

static void lease_delete(struct informer *inf, const char *key, void *old_item, void *userdata)
{
	skipped_refresh(userdata);
}

/* ---- activation ---- */

static int pool_set_json(struct controller *c, json_t *obj)
{
	struct pool *p;
	char err[POOL_ERR_MAX];
	int r = pool_from_json(obj, &p, err, sizeof(err));

	if (r < 0) {
		log_warn(COMP, "cannot decode IPAddressPool", LF_STR("message", err), LF_ERR(r));
		return r;
	}
	r = alloc_pool_set(c->alloc, p);
	if (r < 0)
		log_error(COMP, "cannot add IPAddressPool", LF_ERR(r));
	return r;
}

static int ns_set_json(struct controller *c, const char *name, json_t *obj)
{
	struct labels *l;
	char err[256];
	json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
	int r = labels_from_json(labels, "metadata.labels", &l, err, sizeof(err));

	if (r < 0) {
		log_warn(COMP, "cannot decode Namespace", LF_STR("namespace", name),
			 LF_STR("message", err), LF_ERR(r));
		l = labels_new_empty();
		if (!l)
			return -ENOMEM;
	}
	return alloc_namespace_set(c->alloc, name, l);
}

static int restore_pool(const char *key, void *item, void *userdata)
{
	pool_set_json(userdata, item);
	return 0;
}

static int restore_ns(const char *key, void *item, void *userdata)
{
	ns_set_json(userdata, key, item);
	return 0;
}

struct collect {
	struct service **svcs;
	size_t n, cap;
};

static int restore_svc(const char *key, void *item, void *userdata)
{
	struct collect *col = userdata;
	struct svc_item *si = item;

	if (col->n == col->cap)
		return -ENOMEM;
	col->svcs[col->n] = service_ref(si->svc);
	if (!col->svcs[col->n])
		return -ENOMEM;
	col->n++;
	return 0;
}

static void controller_activate(struct controller *c)
{
	struct alloc_config ac = { c->lb_class, c->cfg.default_class };
	struct collect col = { 0 };
	uint64_t t0 = loop_now_us();
	int r;

	if (active(c) || !c->synced || !c->leading)
		return;
	c->alloc = alloc_new(&ac);
	if (!c->alloc) {
		log_error(COMP, "out of memory creating the allocator");
		return;
	}
	informer_foreach(c->pool_inf, restore_pool, c);
	informer_foreach(c->ns_inf, restore_ns, c);
	skipped_refresh(c);
	col.cap = informer_count(c->svc_inf);
	col.svcs = calloc(col.cap ? col.cap : 1, sizeof(col.svcs[0]));
	if (!col.svcs || informer_foreach(c->svc_inf, restore_svc, &col) < 0) {
		for (size_t i = 0; i < col.n; i++)
			service_free(col.svcs[i]);
		free(col.svcs);
		alloc_free(c->alloc);
		c->alloc = NULL;
		log_error(COMP, "out of memory restoring Services");
		return;
	}
	r = alloc_restore(c->alloc, col.svcs, col.n);
	free(col.svcs);
	if (r < 0) {
		log_error(COMP, "cannot restore the allocation", LF_ERR(r));
		alloc_free(c->alloc);
		c->alloc = NULL;
		return;
	}
	log_info(COMP, "allocation restored, reconciling", LF_UINT("services", col.n),
		 LF_UINT("pools", alloc_pool_count(c->alloc)),
		 LF_UINT("namespaces", informer_count(c->ns_inf)));
	controller_drain(c);
	loop_timer_arm(c->pool_timer, 0);
	if (c->m_reconcile)
		metric_observe(c->m_reconcile, (double)(loop_now_us() - t0) / 1e6);
}

static void controller_deactivate(struct controller *c)
{
	if (!active(c))
		return;
	alloc_free(c->alloc);
	c->alloc = NULL;
	requeue_clear(c);
	writes_cancel(c);
	key_fifo_clear(&c->deferred);
	key_fifo_clear(&c->lazy_annot);
	c->dirty_left = false;
	loop_timer_disarm(c->pool_timer);
	loop_timer_disarm(c->lease_timer);
	if (c->m_pool_addrs)
		metric_clear(c->m_pool_addrs);
}

/* ---- informers ---- */

static void inf_error(struct informer *inf, const struct informer_error *e, void *userdata)
{
	struct controller *c = userdata;

	if (e->kind == INFORMER_ERR_DECODE) {
		log_warn(COMP, "cannot decode object, ignoring it", LF_STR("resource", e->resource),
			 LF_STR("object", e->key), LF_STR("message", e->message));
		return;
	}
	if (e->kind == INFORMER_ERR_EXPIRED) {
		log_debug(COMP, "watch expired, relisting", LF_STR("resource", e->resource));
		return;
	}
	if (rl_ok(&c->rl_inf))
		log_warn(COMP,
			 e->kind == INFORMER_ERR_LIST	 ? "list failed"
			 : e->kind == INFORMER_ERR_WATCH ? "watch failed"
							 : "bad watch stream",
			 LF_STR("resource", e->resource), LF_INT("code", e->code),
			 LF_STR("reason", e->reason), LF_STR("message", e->message), LF_ERR(e->err),
			 LF_DBL("retry_in_s", (double)e->retry_in_us / 1e6));
}

static void inf_synced(struct informer *inf, void *userdata)
{
	struct controller *c = userdata;

	if (inf == c->pool_inf)
		bgp_report_pools_changed(c->bgp);
	if (c->synced || !informer_synced(c->svc_inf) || !informer_synced(c->ns_inf) ||
	    !informer_synced(c->pool_inf) || !informer_synced(c->lease_inf))
		return;
	c->synced = true;
	log_info(COMP, "caches synced", LF_UINT("services", informer_count(c->svc_inf)),
		 LF_UINT("namespaces", informer_count(c->ns_inf)),
		 LF_UINT("pools", informer_count(c->pool_inf)),
		 LF_UINT("speakers", informer_count(c->lease_inf)));
	controller_activate(c);
}

static int svc_decode(json_t *obj, void *userdata, void **ret_item, const char **ret_why)
{
	struct controller *c = userdata;
	struct svc_item *item;
	struct service *s;
	const char *from;
	int r;

	r = service_from_json(obj, &s, c->decode_err, sizeof(c->decode_err));
	if (r < 0) {
		*ret_why = r == -ENOMEM ? "out of memory" : c->decode_err;
		return r;
	}
	item = calloc(1, sizeof(*item));
	from = json_string_value(
		json_object_get(json_object_get(json_object_get(obj, "metadata"), "annotations"),
				SERVICE_ANNOT_ALLOCATED_FROM));
	if (!item || (from && !(item->allocated_from = strdup(from)))) {
		free(item);
		service_free(s);
		*ret_why = "out of memory";
		return -ENOMEM;
	}
	item->svc = s;
	*ret_item = item;
	return 0;
}

static void svc_item_free(void *p, void *userdata)
{
	struct svc_item *item = p;

	if (!item)
		return;
	service_free(item->svc);
	free(item->allocated_from);
	free(item);
}

/* A Service changed: decide it now, or, while writes are at their bound
 * (or others wait already, to keep the order), remember its key. */
static void svc_changed(struct controller *c, struct svc_item *item)
{
	if (!active(c))
		return;
	if (writes_full(c) || c->deferred.head) {
		char key[600];

		kube_key_format(item->svc->namespace, item->svc->name, key, sizeof(key));
		key_fifo_push(&c->deferred, key, false, NULL);
		return;
	}
	svc_decide(c, item);
}

static void svc_decide(struct controller *c, struct svc_item *item)
{
	struct service *copy;
	struct alloc_decision *d;
	uint64_t t0 = loop_now_us();
	int r;

	copy = service_ref(item->svc);
	if (!copy) {
		log_error(COMP, "out of memory", LF_STR("namespace", item->svc->namespace),
			  LF_STR("name", item->svc->name));
		return;
	}
	r = alloc_assign(c->alloc, copy, &d);
	if (r < 0) {
		log_error(COMP, "allocator failed", LF_STR("namespace", item->svc->namespace),
			  LF_STR("name", item->svc->name), LF_ERR(r));
		return;
	}
	apply(c, d);
	alloc_decision_free(d);
	controller_drain(c);
	if (c->m_reconcile)
		metric_observe(c->m_reconcile, (double)(loop_now_us() - t0) / 1e6);
}

static void svc_add(struct informer *inf, const char *key, void *item, void *userdata)
{
	svc_changed(userdata, item);
}

static void svc_update(struct informer *inf, const char *key, void *old_item, void *new_item,
		       void *userdata)
{
	svc_changed(userdata, new_item);
}

static void svc_delete(struct informer *inf, const char *key, void *old_item, void *userdata)
{
	struct controller *c = userdata;
	struct svc_item *item = old_item;
	uint64_t t0 = loop_now_us();

	if (!active(c))
		return;
	alloc_release(c->alloc, item->svc->namespace, item->svc->name);
	controller_drain(c);
	if (c->m_reconcile)
		metric_observe(c->m_reconcile, (double)(loop_now_us() - t0) / 1e6);
}

static void pool_add(struct informer *inf, const char *key, void *item, void *userdata)
{
	struct controller *c = userdata;

	bgp_report_pools_changed(c->bgp);
	if (!active(c))
		return;
	pool_set_json(c, item);
	controller_drain(c);
}

static void pool_update(struct informer *inf, const char *key, void *old_item, void *new_item,
			void *userdata)
{
	struct controller *c = userdata;
	json_t *om = json_object_get(old_item, "metadata"),
	       *nm = json_object_get(new_item, "metadata");

	if (!active(c))
		return;
	/* Our own status writes come back as updates: only the spec (and
	 * what orders pools) matters to the allocator, and re-deciding every
	 * Service for nothing would cost O(n log n) per status write. */
	if (json_equal(json_object_get(old_item, "spec"), json_object_get(new_item, "spec")) &&
	    json_equal(json_object_get(om, "creationTimestamp"),
		       json_object_get(nm, "creationTimestamp")) &&
	    json_equal(json_object_get(om, "generation"), json_object_get(nm, "generation"))) {
		schedule_pool_flush(c);
		return;
	}
	pool_set_json(c, new_item);
	controller_drain(c);
}

static void pool_delete(struct informer *inf, const char *key, void *old_item, void *userdata)
{
	struct controller *c = userdata;
	struct kube_meta m;
	const char *why;

	bgp_report_pools_changed(c->bgp);
	if (!active(c))
		return;
	if (kube_meta_get(old_item, true, false, &m, &why) == 0)
		alloc_pool_delete(c->alloc, m.name);
	if (c->m_pool_addrs)
		metric_clear(c->m_pool_addrs);
	controller_drain(c);
}

static void ns_add(struct informer *inf, const char *key, void *item, void *userdata)
{
	struct controller *c = userdata;

	if (!active(c))
		return;
	ns_set_json(c, key, item);
	controller_drain(c);
}

static void ns_update(struct informer *inf, const char *key, void *old_item, void *new_item,
		      void *userdata)
{
	ns_add(inf, key, new_item, userdata);
}

static void ns_delete(struct informer *inf, const char *key, void *old_item, void *userdata)
{
	struct controller *c = userdata;

	if (!active(c))
		return;
	alloc_namespace_delete(c->alloc, key);
	controller_drain(c);
}

/* ---- leader election ---- */

static void on_started_leading(struct leader *le, void *userdata)
{
	struct controller *c = userdata;

	log_info(COMP, "became leader", LF_STR("identity", c->identity));
	c->leading = true;
	bgp_report_set_leading(c->bgp, true);
	controller_activate(c);
}

static void on_stopped_leading(struct leader *le, void *userdata)
{
	struct controller *c = userdata;

	if (c->shutdown_done || c->stopping)
		log_info(COMP, "stopped leading (shutting down)", LF_STR("identity", c->identity));
	else
		log_warn(COMP, "lost leadership, stopped writing", LF_STR("identity", c->identity));
	c->leading = false;
	bgp_report_set_leading(c->bgp, false);
	controller_deactivate(c);
}

static void on_new_leader(struct leader *le, const char *identity, void *userdata)
{
	log_info(COMP, "leader observed", LF_STR("leader", identity));
}

static void on_leader_error(struct leader *le, int err, long code, const char *reason,
			    const char *message, void *userdata)
{
	struct controller *c = userdata;

	if (rl_ok(&c->rl_leader))
		log_warn(COMP, "leader election request failed", LF_INT("code", code),
			 LF_STR("reason", reason), LF_STR("message", message), LF_ERR(err));
}

static void on_event_error(const struct kube_event_error *e, void *userdata)
{
	struct controller *c = userdata;

	if (e->err == -EPERM || !rl_ok(&c->rl_event))
		return;
	log_warn(COMP, "cannot write Event", LF_STR("object", e->object),
		 LF_STR("reason", e->reason), LF_INT("code", e->code),
		 LF_STR("message", e->message), LF_ERR(e->err));
}

/* ---- metrics ---- */

static void collect(struct metrics *reg, void *userdata)
{
	struct controller *c = userdata;

	if (c->m_skipped) {
		const struct ip_addr *set;

		metric_set(c->m_skipped, active(c) ? (double)alloc_skipped(c->alloc, &set) : 0.0);
	}
	if (!active(c) || !c->m_pool_addrs)
		return;
	metric_clear(c->m_pool_addrs);
	for (size_t i = 0; i < alloc_pool_count(c->alloc); i++) {
		const struct pool *p = alloc_pool_at(c->alloc, i);
		struct alloc_pool_counts pc;

		if (alloc_pool_counts(c->alloc, p->name, &pc) < 0)
			continue;
		for (int f = 0; f < 2; f++) {
			const char *fam = f ? "ipv6" : "ipv4";
			double assigned = (double)(f ? pc.assigned6 : pc.assigned4);
			double avail = (double)(f ? pc.available6 : pc.available4);
			double total = (double)pool_size(p, f ? AF_INET6 : AF_INET);

			if (!pool_has_family(p, f ? AF_INET6 : AF_INET))
				continue;
			metric_set(c->m_pool_addrs, total, p->name, fam, "total");
			metric_set(c->m_pool_addrs, assigned, p->name, fam, "assigned");
			metric_set(c->m_pool_addrs, avail, p->name, fam, "available");
		}
	}
}

static void metrics_setup(struct controller *c)
{
	static const double bounds[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
					 0.05,	 0.1,	  0.25,	  0.5,	 1,	 2.5,	5 };

	if (!c->metrics)
		return;
	c->m_pool_addrs = metrics_gauge(c->metrics, "ironlb_pool_addresses",
					"Addresses of an IPAddressPool by family and state.",
					"pool,family,state");
	c->m_failures =
		metrics_counter(c->metrics, "ironlb_allocation_failures_total",
				"Allocation failures reported on Services, by reason.", "reason");
	c->m_reconcile = metrics_histogram(
		c->metrics, "ironlb_reconcile_duration_seconds",
		"Time to handle one change (allocator call, drain, writes submitted).", NULL,
		bounds, sizeof(bounds) / sizeof(bounds[0]));
	c->m_writes = metrics_counter(c->metrics, "ironlb_controller_writes_total",
				      "Writes of Service status, annotations and pool status.",
				      "what,result");
	c->m_skipped = metrics_gauge(c->metrics, "ironlb_controller_skipped_addresses",
				     "Addresses automatic assignment skips because a speaker found "
				     "a host outside ironlb answering for them.",
				     NULL);
	metrics_add_collector(c->metrics, collect, c);
}

/* ---- lifecycle ---- */

struct controller *controller_new(struct loop *loop, struct kube_client *client,
				  struct metrics *metrics, const struct controller_config *cfg)
{
	struct controller *c = calloc(1, sizeof(*c));
	struct kube_event_opts eo = {
		.component = "ironlb-controller",
		.on_error = on_event_error,
	};

	if (!c)
		return NULL;
	c->loop = loop;
	c->client = client;
	c->metrics = metrics;
	c->cfg = *cfg;
	c->namespace = strdup(cfg->namespace);
	c->lb_class = strdup(cfg->lb_class);
	c->identity = strdup(cfg->identity ? cfg->identity : "ironlb-controller");
	kube_map_init(&c->pending, write_op_mkey);
	key_fifo_init(&c->deferred);
	key_fifo_init(&c->lazy_annot);
	c->rl_inf = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000000, 10);
	c->rl_write = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000000, 20);
	c->rl_event = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000000, 10);
	c->rl_leader = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000000, 10);
	if (!c->namespace || !c->lb_class || !c->identity)
		goto fail;
	c->cfg.namespace = c->namespace;
	c->cfg.lb_class = c->lb_class;
	c->cfg.identity = c->identity;
	eo.userdata = c;
	c->events = kube_event_recorder_new(client, loop, &eo);
	c->pool_timer = loop_timer_new(loop, on_pool_timer, c);
	c->requeue_timer = loop_timer_new(loop, on_requeue_timer, c);
	c->lease_timer = loop_timer_new(loop, on_lease_timer, c);
	c->svc_inf = informer_new(client, loop,
				  &(struct informer_opts){
					  .res = &KUBE_SERVICES,
					  .decode = svc_decode,
					  .free_item = svc_item_free,
					  .on_add = svc_add,
					  .on_update = svc_update,
					  .on_delete = svc_delete,
					  .on_synced = inf_synced,
					  .on_error = inf_error,
					  .userdata = c,
				  });
	c->ns_inf = informer_new(client, loop,
				 &(struct informer_opts){
					 .res = &KUBE_NAMESPACES,
					 .on_add = ns_add,
					 .on_update = ns_update,
					 .on_delete = ns_delete,
					 .on_synced = inf_synced,
					 .on_error = inf_error,
					 .userdata = c,
				 });
	c->pool_inf = informer_new(client, loop,
				   &(struct informer_opts){
					   .res = &KUBE_IPADDRESSPOOLS,
					   .ns = c->namespace,
					   .on_add = pool_add,
					   .on_update = pool_update,
					   .on_delete = pool_delete,
					   .on_synced = inf_synced,
					   .on_error = inf_error,
					   .userdata = c,
				   });
	c->lease_inf = informer_new(client, loop,
				    &(struct informer_opts){
					    .res = &KUBE_LEASES,
					    .ns = c->namespace,
					    .label_selector = SPEAKERS_LEASE_SELECTOR,
					    .decode = lease_decode,
					    .free_item = lease_item_free,
					    .on_add = lease_add,
					    .on_update = lease_update,
					    .on_delete = lease_delete,
					    .on_synced = inf_synced,
					    .on_error = inf_error,
					    .userdata = c,
				    });
	if (!c->events || !c->pool_timer || !c->requeue_timer || !c->lease_timer || !c->svc_inf ||
	    !c->ns_inf || !c->pool_inf || !c->lease_inf)
		goto fail;
	c->bgp = bgp_report_new(loop, client, metrics, c->events, c->namespace, c->pool_inf);
	if (!c->bgp)
		goto fail;
	if (cfg->leader_elect) {
		c->leader = leader_new(client, loop,
				       &(struct leader_opts){
					       .ns = c->namespace,
					       .name = CONTROLLER_LEASE_NAME,
					       .identity = c->identity,
					       .lease_duration_us = cfg->lease_duration_us,
					       .renew_deadline_us = cfg->renew_deadline_us,
					       .retry_period_us = cfg->retry_period_us,
					       .on_started_leading = on_started_leading,
					       .on_stopped_leading = on_stopped_leading,
					       .on_new_leader = on_new_leader,
					       .on_error = on_leader_error,
					       .userdata = c,
				       });
		if (!c->leader)
			goto fail;
		kube_client_set_write_gate(client, leader_gate, c->leader);
	} else {
		c->leading = true;
	}
	metrics_setup(c);
	return c;
fail:
	controller_free(c);
	errno = ENOMEM;
	return NULL;
}

int controller_start(struct controller *c)
{
	int r;

	if ((r = informer_start(c->pool_inf)) < 0 || (r = informer_start(c->ns_inf)) < 0 ||
	    (r = informer_start(c->lease_inf)) < 0 || (r = informer_start(c->svc_inf)) < 0 ||
	    (r = bgp_report_start(c->bgp)) < 0)
		return r;
	if (c->leader && (r = leader_start(c->leader)) < 0)
		return r;
	if (!c->leader)
		bgp_report_set_leading(c->bgp, true);
	return 0;
}

bool controller_synced(const struct controller *c)
{
	return c->synced;
}

bool controller_leading(const struct controller *c)
{
	return active(c);
}

static void release_done(struct leader *le, int err, void *userdata)
{
	struct controller *c = userdata;

	if (err < 0)
		log_warn(COMP, "cannot release the Lease", LF_ERR(err));
	else
		log_info(COMP, "Lease released");
	if (c->shutdown_done)
		c->shutdown_done(c->shutdown_ud);
}

void controller_shutdown(struct controller *c, void (*done)(void *userdata), void *userdata)
{
	c->shutdown_done = done;
	c->shutdown_ud = userdata;
	c->stopping = true;
	c->leading = false;
	bgp_report_set_leading(c->bgp, false);
	controller_deactivate(c);
	if (c->leader && leader_release(c->leader, release_done, c) == 0)
		return;
	if (done)
		done(userdata);
}

void controller_free(struct controller *c)
{
	if (!c)
		return;
	if (c->leader)
		kube_client_set_write_gate(c->client, NULL, NULL);
	writes_cancel(c);
	requeue_clear(c);
	kube_map_free(&c->pending);
	key_fifo_free(&c->deferred);
	key_fifo_free(&c->lazy_annot);
	alloc_free(c->alloc);
	informer_free(c->svc_inf);
	informer_free(c->ns_inf);
	bgp_report_free(c->bgp);
	informer_free(c->pool_inf);
	informer_free(c->lease_inf);
	leader_free(c->leader);
	kube_event_recorder_free(c->events);
	loop_timer_free(c->pool_timer);
	loop_timer_free(c->requeue_timer);
	loop_timer_free(c->lease_timer);
	free(c->namespace);
	free(c->lb_class);
	free(c->identity);
	free(c);
}
