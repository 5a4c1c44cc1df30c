/* The Event recorder: aggregation, per-object rate limit, bounded memory.
 *
 * An aggregate (same object uid, type, reason, message) lives in an LRU
 * map. The first occurrence POSTs a new Event named "<object>.<hex time>"
 * like client-go; later ones bump count and lastTimestamp with a merge
 * PATCH. Only one request per aggregate is in flight: repeats arriving
 * meanwhile only bump the local count, and one PATCH carries them all when
 * the request returns, so a burst of N identical events costs two writes,
 * not N. If the Event is gone (404: its TTL expired), it is created again
 * with the accumulated count.
 *
 * At most max_in_flight requests are out at once; an aggregate with
 * something to send waits in a FIFO (wnext) and goes out when an answer
 * frees a slot. A waiting aggregate is its own compact record (one
 * allocation with its strings), so a burst of thousands of Events costs
 * a few hundred bytes each, not a built request each.
 *
 * Rate limiting is per object (token bucket, client-go's spam filter
 * defaults) and its state lives in a second LRU map, so an object that
 * floods with ever-changing messages is held back too.
 */
#include "ironlb/kube_event.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ironlb/kube.h"
#include "ironlb/kube_util.h"
#include "ironlb/loop.h"

#define EVENT_MAX_ENTRIES 1024
#define EVENT_BURST 25
#define EVENT_REFILL_US (300ull * 1000000u)
#define EVENT_MAX_MESSAGE 1024
#define EVENT_MAX_IN_FLIGHT 8

struct lru_node {
	struct lru_node *prev, *next;
};

struct ev_entry {
	struct lru_node lru;	/* first: entries are found from their node */
	struct ev_entry *wnext; /* in the recorder's wait FIFO */
	bool waiting;
	char *key; /* key and the obj_* strings, reason, message and ns live
		    * after the struct */
	char *ns;
	char *name; /* the Event's name */
	char *obj_api_version, *obj_kind, *obj_ns, *obj_name, *obj_uid, *obj_rv, *obj_field;
	char *reason, *message;
	enum kube_event_type type;
	uint32_t count;
	uint64_t first_wall_us, last_wall_us;
	bool posted;
	bool dirty;
	bool evicted;
	struct kube_request *req;
	struct kube_event_recorder *rec;
};

struct rate_entry {
	struct lru_node lru;
	double tokens;
	uint64_t last_us;
	char key[];
};

struct kube_event_recorder {
	struct kube_client *c;
	struct loop *loop;
	struct kube_event_opts o;
	char *component, *host;
	struct kube_map events;
	struct lru_node ev_lru; /* most recent first */
	struct kube_map rates;
	struct lru_node rate_lru;
	struct lru_node evicted; /* out of the map, request in flight or waiting: freed after it */
	struct ev_entry *whead, *wtail; /* waiting for a request slot */
	uint64_t seq;
	struct kube_event_stats st;
};

/* ---- LRU lists ---- */

static void lru_init(struct lru_node *head)
{
	head->prev = head->next = head;
}

static void lru_unlink(struct lru_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

static void lru_push_front(struct lru_node *head, struct lru_node *n)
{
	n->next = head->next;
	n->prev = head;
	head->next->prev = n;
	head->next = n;
}

static void lru_touch(struct lru_node *head, struct lru_node *n)
{
	lru_unlink(n);
	lru_push_front(head, n);
}

static const char *ev_key(const void *v)
{
	return ((const struct ev_entry *)v)->key;
}

static const char *rate_key(const void *v)
{
	return ((const struct rate_entry *)v)->key;
}

static void entry_free(struct ev_entry *e)
{
	lru_unlink(&e->lru);
	free(e->name);
	free(e);
}

/* Removes an aggregate from the map; one with a request in flight is kept
 * until the request returns. */
static void entry_drop(struct kube_event_recorder *rec, struct ev_entry *e)
{
	kube_map_remove(&rec->events, e->key);
	lru_unlink(&e->lru);
	if (e->req || e->waiting) {
		e->evicted = true;
		lru_push_front(&rec->evicted, &e->lru);
		return;
	}
	entry_free(e);
}

/* ---- rate limit ---- */

static bool rate_allow(struct kube_event_recorder *rec, const char *key, uint64_t now)
{
	struct rate_entry *r = kube_map_get(&rec->rates, key);

	if (!r) {
		size_t len = strlen(key);

		if (rec->rates.len >= rec->o.max_entries && rec->rate_lru.prev != &rec->rate_lru) {
			struct rate_entry *old = (struct rate_entry *)rec->rate_lru.prev;

			kube_map_remove(&rec->rates, old->key);
			lru_unlink(&old->lru);
			free(old);
		}
		r = calloc(1, sizeof(*r) + len + 1);
		if (!r)
			return true; /* fail open: an Event is better than none */
		memcpy(r->key, key, len + 1);
		lru_init(&r->lru);
		r->tokens = rec->o.burst;
		r->last_us = now;
		if (kube_map_put(&rec->rates, r, NULL) < 0) {
			free(r);
			return true;
		}
		lru_push_front(&rec->rate_lru, &r->lru);
	} else {
		r->tokens += (double)(now - r->last_us) / (double)rec->o.refill_us;
		if (r->tokens > rec->o.burst)
			r->tokens = rec->o.burst;
		r->last_us = now;
		lru_touch(&rec->rate_lru, &r->lru);
	}
	if (r->tokens < 1)
		return false;
	r->tokens -= 1;
	return true;
}

/* ---- requests ---- */

static void report(struct kube_event_recorder *rec, struct ev_entry *e,
		   const struct kube_result *res, int err, const char *msg)
{
	char object[512];
	struct kube_event_error ee = {
		.err = err,
		.code = res ? res->code : 0,
		.status_reason = res ? res->reason : "",
		.message = msg	 ? msg
			   : res ? res->message
				 : "",
		.event_ns = e->ns,
		.event_name = e->name ? e->name : "",
		.object = object,
		.reason = e->reason,
	};

	rec->st.errors++;
	snprintf(object, sizeof(object), "%s %s%s%s", e->obj_kind, e->obj_ns ? e->obj_ns : "",
		 e->obj_ns ? "/" : "", e->obj_name);
	if (rec->o.on_error)
		rec->o.on_error(&ee, rec->o.userdata);
}

static int send_post(struct kube_event_recorder *rec, struct ev_entry *e);
static int send_patch(struct kube_event_recorder *rec, struct ev_entry *e);

/* Sends e's next request (POST until it exists, then PATCH) now, or puts
 * it in the wait FIFO while max_in_flight requests are out. */
static int entry_send(struct kube_event_recorder *rec, struct ev_entry *e)
{
	if (e->waiting)
		return 0;
	if (rec->st.in_flight >= rec->o.max_in_flight || rec->whead) {
		e->waiting = true;
		e->wnext = NULL;
		if (rec->wtail)
			rec->wtail->wnext = e;
		else
			rec->whead = e;
		rec->wtail = e;
		rec->st.waiting++;
		return 0;
	}
	return e->posted ? send_patch(rec, e) : send_post(rec, e);
}

/* Sends waiting aggregates while slots are free (after an answer). */
static void pump(struct kube_event_recorder *rec)
{
	while (rec->whead && rec->st.in_flight < rec->o.max_in_flight) {
		struct ev_entry *e = rec->whead;
		int r;

		rec->whead = e->wnext;
		if (!rec->whead)
			rec->wtail = NULL;
		e->wnext = NULL;
		e->waiting = false;
		rec->st.waiting--;
		r = e->posted ? send_patch(rec, e) : send_post(rec, e);
		if (r < 0) {
			report(rec, e, NULL, r, "could not send the Event");
			if (e->evicted)
				entry_free(e);
			else
				entry_drop(rec, e);
		}
	}
}

/* After a request: send what accumulated meanwhile, or let go of an
 * aggregate that was evicted while its request was out. */
static void after_request(struct kube_event_recorder *rec, struct ev_entry *e)
{
	int r;

	if (e->evicted) {
		entry_free(e);
		return;
	}
	if (!e->dirty)
		return;
	e->dirty = false;
	r = entry_send(rec, e);
	if (r < 0) {
		report(rec, e, NULL, r, "could not send the Event");
		entry_drop(rec, e);
	}
}

static void on_posted(const struct kube_result *res, void *userdata)
{
	struct ev_entry *e = userdata;
	struct kube_event_recorder *rec = e->rec;

	e->req = NULL;
	rec->st.in_flight--;
	if (res->err < 0) {
		report(rec, e, res, res->err, NULL);
		/* Forget it: the next occurrence starts a new Event. */
		if (e->evicted)
			entry_free(e);
		else
			entry_drop(rec, e);
	} else {
		rec->st.posted++;
		e->posted = true;
		after_request(rec, e);
	}
	pump(rec);
}

static void on_patched(const struct kube_result *res, void *userdata)
{
	struct ev_entry *e = userdata;
	struct kube_event_recorder *rec = e->rec;

	e->req = NULL;
	rec->st.in_flight--;
	if (res->code == 404 && !e->evicted) {
		/* The Event expired on the server: create it again. */
		int r;

		e->posted = false;
		e->dirty = false;
		r = entry_send(rec, e);
		if (r < 0) {
			report(rec, e, NULL, r, "could not send the Event");
			entry_drop(rec, e);
		}
		pump(rec);
		return;
	}
	if (res->err < 0)
		report(rec, e, res, res->err, NULL);
	else
		rec->st.patched++;
	after_request(rec, e);
	pump(rec);
}

static json_t *event_body(struct kube_event_recorder *rec, struct ev_entry *e)
{
	char first[KUBE_TIME_STRLEN], last[KUBE_TIME_STRLEN];
	json_t *ev, *io, *src;

	kube_time_format(e->first_wall_us, first);
	kube_time_format(e->last_wall_us, last);
	io = json_pack("{s:s, s:s}", "kind", e->obj_kind, "name", e->obj_name); /* new */
	src = json_pack("{s:s}", "component", rec->component);			/* new */
	ev = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o, s:s, s:s, s:s, s:o, s:s, s:s, s:i, s:s, "
		       "s:s}",
		       "apiVersion", "v1", "kind", "Event", "metadata", "name", e->name,
		       "namespace", e->ns, "involvedObject", io, "reason", e->reason, "message",
		       e->message, "type", e->type == KUBE_EVENT_WARNING ? "Warning" : "Normal",
		       "source", src, "firstTimestamp", first, "lastTimestamp", last, "count",
		       (int)e->count, "reportingComponent", rec->component, "reportingInstance",
		       rec->host ? rec->host : ""); /* new; steals io and src ("o") */
	if (!ev)
		return NULL;
	if ((e->obj_api_version &&
	     json_object_set_new(io, "apiVersion", json_string(e->obj_api_version)) < 0) ||
	    (e->obj_ns && json_object_set_new(io, "namespace", json_string(e->obj_ns)) < 0) ||
	    (e->obj_uid && json_object_set_new(io, "uid", json_string(e->obj_uid)) < 0) ||
	    (e->obj_rv && json_object_set_new(io, "resourceVersion", json_string(e->obj_rv)) < 0) ||
	    (e->obj_field && json_object_set_new(io, "fieldPath", json_string(e->obj_field)) < 0) ||
	    (rec->host && json_object_set_new(src, "host", json_string(rec->host)) < 0)) {
		json_decref(ev);
		return NULL;
	}
	return ev;
}

static int send_post(struct kube_event_recorder *rec, struct ev_entry *e)
{
	struct kube_buf b = { 0 };
	json_t *body;
	int r;

	/* A fresh name each time: after a 404 the old one may be recycled
	 * by nobody, but a new one is certain not to clash. */
	kube_buf_printf(&b, "%s.%llx", e->obj_name,
			(unsigned long long)(loop_wall_us() * 1000u + (rec->seq++ % 1000u)));
	free(e->name);
	e->name = kube_buf_steal(&b);
	if (!e->name)
		return -ENOMEM;
	body = event_body(rec, e);
	if (!body)
		return -ENOMEM;
	r = kube_submit(rec->c,
			&(struct kube_call){ .method = "POST",
					     .res = &KUBE_EVENTS,
					     .ns = e->ns,
					     .body = body,
					     .queue = KUBE_QUEUE_BACKGROUND,
					     .discard_body = true },
			on_posted, e, &e->req);
	json_decref(body);
	if (r == 0)
		rec->st.in_flight++;
	return r;
}

static int send_patch(struct kube_event_recorder *rec, struct ev_entry *e)
{
	char last[KUBE_TIME_STRLEN];
	json_t *patch;
	int r;

	kube_time_format(e->last_wall_us, last);
	patch = json_pack("{s:i, s:s}", "count", (int)e->count, "lastTimestamp", last); /* new */
	if (!patch)
		return -ENOMEM;
	r = kube_submit(rec->c,
			&(struct kube_call){ .method = "PATCH",
					     .res = &KUBE_EVENTS,
					     .ns = e->ns,
					     .name = e->name,
					     .body = patch,
					     .content_type = KUBE_MERGE_PATCH,
					     .queue = KUBE_QUEUE_BACKGROUND,
					     .discard_body = true },
			on_patched, e, &e->req);
	json_decref(patch);
	if (r == 0)
		rec->st.in_flight++;
	return r;
}

/* ---- recording ---- */

static int dup_opt(char **dst, const char *s)
{
	if (!s || !s[0])
		return 0;
	*dst = strdup(s);
	return *dst ? 0 : -ENOMEM;
}

/* Cuts s to at most max bytes without splitting a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

static struct ev_entry *entry_new(struct kube_event_recorder *rec, const char *key,
				  const struct kube_object_ref *obj, enum kube_event_type type,
				  const char *reason, const char *message, size_t msg_len)
{
	/* The strings, copied after the struct (optional ones only when set),
	 * the message cut to msg_len. */
	const char *ns = obj->ns && obj->ns[0] ? obj->ns : "default";
	const char *src[11] = { key,
				ns,
				reason,
				message,
				obj->kind,
				obj->name,
				obj->api_version,
				obj->ns,
				obj->uid,
				obj->resource_version,
				obj->field_path };
	size_t len[11], total = sizeof(struct ev_entry);
	struct ev_entry *e;
	char **dst[11];
	char *p;

	for (int i = 0; i < 11; i++) {
		if (!src[i] || (i >= 6 && !src[i][0]))
			len[i] = 0;
		else
			len[i] = (i == 3 ? msg_len : strlen(src[i])) + 1;
		total += len[i];
	}
	e = calloc(1, total);
	if (!e)
		return NULL;
	lru_init(&e->lru);
	e->rec = rec;
	e->type = type;
	dst[0] = &e->key;
	dst[1] = &e->ns;
	dst[2] = &e->reason;
	dst[3] = &e->message;
	dst[4] = &e->obj_kind;
	dst[5] = &e->obj_name;
	dst[6] = &e->obj_api_version;
	dst[7] = &e->obj_ns;
	dst[8] = &e->obj_uid;
	dst[9] = &e->obj_rv;
	dst[10] = &e->obj_field;
	p = (char *)(e + 1);
	for (int i = 0; i < 11; i++) {
		if (!len[i])
			continue;
		memcpy(p, src[i], len[i] - 1);
		p[len[i] - 1] = '\0';
		*dst[i] = p;
		p += len[i];
	}
	return e;
}

int kube_event_record(struct kube_event_recorder *rec, const struct kube_object_ref *obj,
		      enum kube_event_type type, const char *reason, const char *message)
{
	struct kube_buf kb = { 0 }, ob = { 0 };
	uint64_t now = loop_now_us(), wall = loop_wall_us();
	struct ev_entry *e;
	size_t msg_len;
	char *key = NULL, *okey = NULL;
	int r = 0;

	if (!obj || !obj->kind || !obj->kind[0] || !obj->name || !obj->name[0] || !reason ||
	    !reason[0] || (type != KUBE_EVENT_NORMAL && type != KUBE_EVENT_WARNING))
		return -EINVAL;
	if (!message)
		message = "";
	msg_len = utf8_cut(message, rec->o.max_message);
	/* The object's identity: its uid, or kind/namespace/name without. */
	if (obj->uid && obj->uid[0])
		kube_buf_puts(&ob, obj->uid);
	else
		kube_buf_printf(&ob, "%s/%s/%s", obj->kind, obj->ns ? obj->ns : "", obj->name);
	okey = kube_buf_steal(&ob);
	if (!okey)
		return -ENOMEM;
	if (!rate_allow(rec, okey, now)) {
		rec->st.rate_limited++;
		free(okey);
		return -EBUSY;
	}
	kube_buf_printf(&kb, "%s\x1f%d\x1f%s\x1f", okey, (int)type, reason);
	kube_buf_append(&kb, message, msg_len);
	key = kube_buf_steal(&kb);
	free(okey);
	if (!key)
		return -ENOMEM;
	rec->st.recorded++;
	e = kube_map_get(&rec->events, key);
	if (e) {
		free(key);
		e->count++;
		e->last_wall_us = wall;
		rec->st.aggregated++;
		lru_touch(&rec->ev_lru, &e->lru);
		if (e->req) {
			e->dirty = true;
			return 0;
		}
		if (e->waiting)
			return 0; /* its request, when it goes, carries the count */
		r = entry_send(rec, e);
		if (r < 0)
			entry_drop(rec, e);
		return r;
	}
	if (rec->events.len >= rec->o.max_entries && rec->ev_lru.prev != &rec->ev_lru)
		entry_drop(rec, (struct ev_entry *)rec->ev_lru.prev);
	e = entry_new(rec, key, obj, type, reason, message, msg_len);
	free(key);
	if (!e)
		return -ENOMEM;
	e->count = 1;
	e->first_wall_us = e->last_wall_us = wall;
	if (kube_map_put(&rec->events, e, NULL) < 0) {
		entry_free(e);
		return -ENOMEM;
	}
	lru_push_front(&rec->ev_lru, &e->lru);
	r = entry_send(rec, e);
	if (r < 0)
		entry_drop(rec, e);
	return r;
}

int kube_event_recordf(struct kube_event_recorder *rec, const struct kube_object_ref *obj,
		       enum kube_event_type type, const char *reason, const char *fmt, ...)
{
	char msg[EVENT_MAX_MESSAGE * 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return kube_event_record(rec, obj, type, reason, msg);
}

struct kube_event_recorder *kube_event_recorder_new(struct kube_client *client, struct loop *loop,
						    const struct kube_event_opts *opts)
{
	struct kube_event_recorder *rec;

	if (!opts || !opts->component || !opts->component[0])
		return NULL;
	rec = calloc(1, sizeof(*rec));
	if (!rec)
		return NULL;
	rec->c = client;
	rec->loop = loop;
	rec->o = *opts;
	if (!rec->o.max_entries)
		rec->o.max_entries = EVENT_MAX_ENTRIES;
	if (!rec->o.burst)
		rec->o.burst = EVENT_BURST;
	if (!rec->o.refill_us)
		rec->o.refill_us = EVENT_REFILL_US;
	if (!rec->o.max_message)
		rec->o.max_message = EVENT_MAX_MESSAGE;
	if (!rec->o.max_in_flight)
		rec->o.max_in_flight = EVENT_MAX_IN_FLIGHT;
	kube_map_init(&rec->events, ev_key);
	kube_map_init(&rec->rates, rate_key);
	lru_init(&rec->ev_lru);
	lru_init(&rec->rate_lru);
	lru_init(&rec->evicted);
	if (dup_opt(&rec->component, opts->component) < 0 || dup_opt(&rec->host, opts->host) < 0) {
		kube_event_recorder_free(rec);
		return NULL;
	}
	rec->o.component = rec->component;
	rec->o.host = rec->host;
	return rec;
}

void kube_event_recorder_free(struct kube_event_recorder *rec)
{
	struct ev_entry *e;
	struct rate_entry *r;
	size_t pos = 0;

	if (!rec)
		return;
	while ((e = kube_map_next(&rec->events, &pos))) {
		kube_request_cancel(e->req);
		entry_free(e);
	}
	kube_map_free(&rec->events);
	while (rec->evicted.next != &rec->evicted) {
		e = (struct ev_entry *)rec->evicted.next;
		kube_request_cancel(e->req);
		entry_free(e);
	}
	pos = 0;
	while ((r = kube_map_next(&rec->rates, &pos)))
		free(r);
	kube_map_free(&rec->rates);
	free(rec->component);
	free(rec->host);
	free(rec);
}

void kube_event_get_stats(const struct kube_event_recorder *rec, struct kube_event_stats *ret)
{
	*ret = rec->st;
	ret->entries = rec->events.len;
}
