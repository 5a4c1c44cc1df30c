/* Reporting of the BGP kinds (see bgp_report.h).
 *
 * Each object is decoded once per change into a small struct bgp_item:
 * the decoded object (for the names it refers to) or the decoder's reason,
 * its generation and uid, and the status.conditions it carries. These are
 * few objects (tens), so a change re-judges the changed object and the
 * kind that refers to its kind (a BFDProfile: every BGPPeer; a BGPPeer or
 * an IPAddressPool: every BGPAdvertisement). Service events never come
 * here: the allocation path is not touched.
 *
 * Writes: a JSON merge patch of the /status subresource replacing
 * status.conditions, only when the conditions the object should carry
 * differ from those it has; at most one write per object in flight (a
 * change meanwhile is looked at again when it completes), and the same
 * conditions not twice within REWRITE_GUARD_US (while the echo is on its
 * way). Only while this replica leads; the client's write gate refuses
 * the rest.
 */
#include "bgp_report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bgp_status.h"
#include "ironlb/bgp_objects.h"
#include "ironlb/informer.h"
#include "ironlb/kube.h"
#include "ironlb/kube_event.h"
#include "ironlb/kube_resource.h"
#include "ironlb/kube_util.h"
#include "ironlb/log.h"
#include "ironlb/loop.h"
#include "ironlb/metrics.h"

#define COMP "controller"
/* A failed status write is tried again (every object judged again) after this. */
#define RETRY_DELAY_US 1000000
/* The same conditions are not written to one object twice within this
 * time: an event that reaches the cache between a write's answer and its
 * echo would otherwise send it again. */
#define REWRITE_GUARD_US 30000000
/* Kinds with an informer here: BGP_KIND_PEER, BGP_KIND_ADVERT, BGP_KIND_BFD. */
#define NKINDS 3

struct bgp_item {
	enum bgp_kind kind;
	char *name, *uid;
	int64_t generation;
	void *obj;     /* struct bgp_peer / bgp_advert / bgp_bfd_profile, or NULL */
	char *why;     /* obj NULL: the decoder's reason */
	json_t *conds; /* status.conditions as the object has them, or NULL */
};

/* The last status write of an object: in flight (req), or done and
 * remembered until the object shows what it wrote (or REWRITE_GUARD_US
 * passed), so that the same conditions are not sent again before their
 * echo arrives. */
struct bgp_write {
	struct bgp_report *r;
	struct bgp_write *next;
	enum bgp_kind kind;
	json_t *sent;		  /* the conditions written */
	struct kube_request *req; /* in flight, or NULL */
	uint64_t done_us;	  /* when the write succeeded */
	bool done;		  /* it succeeded (else in flight, or failed) */
	bool recheck;		  /* the object changed while in flight */
	char name[];
};

struct bgp_report {
	struct loop *loop;
	struct kube_client *client;
	struct kube_event_recorder *events;
	const struct informer *pools;
	char *ns;
	struct informer *inf[NKINDS];
	struct bgp_decode_ctx dctx;
	bool leading;
	bool active; /* leading and every cache synced */
	struct bgp_write *writes;
	struct loop_timer *retry_timer;
	struct metric *m_invalid;
	struct log_ratelimit rl;
};

static const struct kube_resource *kind_res(enum bgp_kind k)
{
	return k == BGP_KIND_PEER     ? &KUBE_BGPPEERS
	       : k == BGP_KIND_ADVERT ? &KUBE_BGPADVERTISEMENTS
				      : &KUBE_BFDPROFILES;
}

static void evaluate(struct bgp_report *r, struct bgp_item *item);

/* ---- decoding ---- */

static void item_free(void *p, void *userdata)
{
	struct bgp_item *item = p;

	(void)userdata;
	if (!item)
		return;
	if (item->kind == BGP_KIND_PEER)
		bgp_peer_free(item->obj, NULL);
	else if (item->kind == BGP_KIND_ADVERT)
		bgp_advert_free(item->obj, NULL);
	else
		bgp_bfd_free(item->obj, NULL);
	free(item->name);
	free(item->uid);
	free(item->why);
	json_decref(item->conds);
	free(item);
}

/* Keeps every object that has a name: an invalid spec is what is to be
 * reported, so it is an item (with why), not a decode error. */
static int item_decode(struct bgp_report *r, enum bgp_kind kind, json_t *obj, void **ret_item,
		       const char **ret_why)
{
	static informer_decode_fn const decoders[NKINDS] = {
		[BGP_KIND_PEER] = bgp_peer_decode,
		[BGP_KIND_ADVERT] = bgp_advert_decode,
		[BGP_KIND_BFD] = bgp_bfd_decode,
	};
	struct bgp_item *item;
	struct kube_meta m;
	json_t *gen, *conds;
	const char *why = NULL;
	int rc;

	if (kube_meta_get(obj, true, false, &m, ret_why) < 0)
		return -EBADMSG;
	item = calloc(1, sizeof(*item));
	if (!item)
		goto nomem;
	item->kind = kind;
	item->name = strdup(m.name);
	item->uid = strdup(m.uid ? m.uid : "");
	if (!item->name || !item->uid)
		goto nomem;
	gen = json_object_get(json_object_get(obj, "metadata"), "generation");
	item->generation = json_is_integer(gen) ? json_integer_value(gen) : 0;
	conds = json_object_get(json_object_get(obj, "status"), "conditions");
	if (json_is_array(conds))
		item->conds = json_incref(conds);
	rc = decoders[kind](obj, &r->dctx, &item->obj, &why);
	if (rc == -ENOMEM)
		goto nomem;
	if (rc != 0) {
		item->obj = NULL;
		item->why = strdup(why && *why ? why : "invalid");
		if (!item->why)
			goto nomem;
	}
	*ret_item = item;
	return 0;
nomem:
	item_free(item, NULL);
	*ret_why = "out of memory";
	return -ENOMEM;
}

static int peer_decode(json_t *obj, void *ud, void **ret_item, const char **ret_why)
{
	return item_decode(ud, BGP_KIND_PEER, obj, ret_item, ret_why);
}

static int advert_decode(json_t *obj, void *ud, void **ret_item, const char **ret_why)
{
	return item_decode(ud, BGP_KIND_ADVERT, obj, ret_item, ret_why);
}

static int bfd_decode(json_t *obj, void *ud, void **ret_item, const char **ret_why)
{
	return item_decode(ud, BGP_KIND_BFD, obj, ret_item, ret_why);
}

/* ---- judging ---- */

static enum bgp_ref_state lookup(enum bgp_kind kind, const char *name, void *userdata)
{
	struct bgp_report *r = userdata;
	struct bgp_item *item;

	if (kind == BGP_KIND_POOL)
		return informer_get(r->pools, r->ns, name) ? BGP_REF_OK : BGP_REF_MISSING;
	item = informer_get(r->inf[kind], r->ns, name);
	if (!item)
		return BGP_REF_MISSING;
	return item->obj ? BGP_REF_OK : BGP_REF_INVALID;
}

static int evaluate_each(const char *key, void *item, void *userdata)
{
	(void)key;
	evaluate(userdata, item);
	return 0;
}

static void evaluate_kind(struct bgp_report *r, enum bgp_kind kind)
{
	informer_foreach(r->inf[kind], evaluate_each, r);
}

static void evaluate_all(struct bgp_report *r)
{
	for (int k = 0; k < NKINDS; k++)
		evaluate_kind(r, (enum bgp_kind)k);
}

/* The kind whose objects refer to objects of kind k. */
static void evaluate_dependents(struct bgp_report *r, enum bgp_kind k)
{
	if (k == BGP_KIND_BFD)
		evaluate_kind(r, BGP_KIND_PEER);
	else if (k == BGP_KIND_PEER || k == BGP_KIND_POOL)
		evaluate_kind(r, BGP_KIND_ADVERT);
}

/* ---- writes ---- */

static struct bgp_write *write_find(struct bgp_report *r, enum bgp_kind kind, const char *name)
{
	for (struct bgp_write *w = r->writes; w; w = w->next)
		if (w->kind == kind && strcmp(w->name, name) == 0)
			return w;
	return NULL;
}

/* Unlinks and frees w; returns what it sent (new reference). */
static json_t *write_free(struct bgp_write *w)
{
	struct bgp_write **pp = &w->r->writes;
	json_t *sent = w->sent;

	while (*pp && *pp != w)
		pp = &(*pp)->next;
	if (*pp)
		*pp = w->next;
	free(w);
	return sent;
}

static void writes_cancel(struct bgp_report *r)
{
	while (r->writes) {
		kube_request_cancel(r->writes->req);
		json_decref(write_free(r->writes));
	}
}

static void write_done(const struct kube_result *res, void *userdata)
{
	struct bgp_write *w = userdata;
	struct bgp_report *r = w->r;
	struct bgp_item *item;

	w->req = NULL;
	if (res->err < 0) {
		if (res->err != -EPERM && res->err != -ENOENT) {
			if (log_ratelimit_ok(&r->rl, loop_now_us(), NULL))
				log_warn(COMP, "status write failed",
					 LF_STR("kind", bgp_kind_name(w->kind)),
					 LF_STR("namespace", r->ns), LF_STR("name", w->name),
					 LF_INT("code", res->code), LF_STR("reason", res->reason),
					 LF_STR("message", res->message), LF_ERR(res->err));
			if (r->active && !loop_timer_armed(r->retry_timer))
				loop_timer_arm(r->retry_timer, RETRY_DELAY_US);
		}
		/* Kept (not done) so that the retry reports nothing again. */
		if (res->err == -ENOENT)
			json_decref(write_free(w));
		return;
	}
	w->done = true;
	w->done_us = loop_now_us();
	if (w->recheck && r->active && (item = informer_get(r->inf[w->kind], r->ns, w->name))) {
		w->recheck = false;
		evaluate(r, item);
	}
}

static void report_problem(struct bgp_report *r, const struct bgp_item *item,
			   const struct bgp_cond *c)
{
	struct kube_object_ref ref = {
		.api_version = "ironlb.io/v1beta1",
		.kind = bgp_kind_name(item->kind),
		.ns = r->ns,
		.name = item->name,
		.uid = item->uid,
	};

	kube_event_record(r->events, &ref, KUBE_EVENT_WARNING, c->event_reason, c->message);
	log_warn(COMP,
		 strcmp(c->type, "Valid") == 0 ? "invalid object, the speakers ignore it"
		 : strcmp(c->type, "References") == 0
			 ? "object refers to missing or invalid objects"
			 : "object uses an unsupported field, the speakers ignore it",
		 LF_STR("kind", bgp_kind_name(item->kind)), LF_STR("namespace", r->ns),
		 LF_STR("name", item->name), LF_STR("reason", c->reason),
		 LF_STR("message", c->message));
}

/* Whether c, false, is news: against what the object carries and what
 * was last written to it. */
static bool new_problem(const struct bgp_cond *c, json_t *have, const struct bgp_write *w)
{
	return bgp_status_is_new_problem(c, have) && (!w || bgp_status_is_new_problem(c, w->sent));
}

/* Judges item and writes its conditions if they differ from what it
 * carries (and from what was just written to it). */
static void evaluate(struct bgp_report *r, struct bgp_item *item)
{
	struct bgp_verdict v;
	char now[KUBE_TIME_STRLEN];
	struct bgp_write *w;
	bool changed = false;
	json_t *want, *patch;
	uint64_t t = loop_now_us();
	int rc;

	if (!r->active)
		return;
	bgp_status_verdict(item->kind, item->obj, item->why, lookup, r, &v);
	kube_time_format(loop_wall_us(), now);
	want = bgp_status_conditions(&v, item->conds, item->generation, now, &changed);
	if (!want) {
		log_error(COMP, "out of memory judging an object", LF_STR("name", item->name));
		return;
	}
	w = write_find(r, item->kind, item->name);
	if (!changed) {
		/* The object says what it should: forget the last write. */
		if (w && !w->req)
			json_decref(write_free(w));
		json_decref(want);
		return;
	}
	if (w && w->req) {
		/* One write per object at a time: writes to one object must
		 * not pass each other. */
		if (!bgp_status_conditions_equal(w->sent, want))
			w->recheck = true;
		json_decref(want);
		return;
	}
	if (w && w->done && bgp_status_conditions_equal(w->sent, want) &&
	    t - w->done_us < REWRITE_GUARD_US) {
		/* Written already; look again once the guard is over. */
		if (!loop_timer_armed(r->retry_timer))
			loop_timer_arm(r->retry_timer, REWRITE_GUARD_US - (t - w->done_us));
		json_decref(want);
		return;
	}
	for (size_t i = 0; i < v.n; i++)
		if (new_problem(&v.conds[i], item->conds, w))
			report_problem(r, item, &v.conds[i]);
	if (w)
		json_decref(write_free(w));
	w = calloc(1, sizeof(*w) + strlen(item->name) + 1);
	patch = json_pack("{s:{s:O}}", "status", "conditions", want);
	if (!w || !patch) {
		free(w);
		json_decref(patch);
		json_decref(want);
		log_error(COMP, "out of memory writing a status", LF_STR("name", item->name));
		return;
	}
	w->r = r;
	w->kind = item->kind;
	w->sent = want;
	strcpy(w->name, item->name);
	w->next = r->writes;
	r->writes = w;
	rc = kube_submit(r->client,
			 &(struct kube_call){
				 .method = "PATCH",
				 .res = kind_res(item->kind),
				 .ns = r->ns,
				 .name = item->name,
				 .subresource = "status",
				 .body = patch,
				 .content_type = KUBE_MERGE_PATCH,
				 .queue = KUBE_QUEUE_NORMAL,
				 .discard_body = true,
			 },
			 write_done, w, &w->req);
	json_decref(patch);
	if (rc < 0) {
		if (rc != -EPERM)
			log_warn(COMP, "cannot submit status write",
				 LF_STR("kind", bgp_kind_name(item->kind)),
				 LF_STR("name", item->name), LF_ERR(rc));
		json_decref(write_free(w));
	}
}

static void on_retry_timer(struct loop_timer *t, void *userdata)
{
	(void)t;
	evaluate_all(userdata);
}

/* ---- state ---- */

bool bgp_report_synced(const struct bgp_report *r)
{
	for (int k = 0; k < NKINDS; k++)
		if (!informer_synced(r->inf[k]))
			return false;
	return true;
}

/* Starts or stops acting: leading, with every cache synced (a name is
 * "missing" only once the cache that would hold it is complete). */
static void reconsider(struct bgp_report *r)
{
	bool want = r->leading && bgp_report_synced(r) && informer_synced(r->pools);

	if (want == r->active)
		return;
	r->active = want;
	if (want) {
		evaluate_all(r);
		return;
	}
	writes_cancel(r);
	loop_timer_disarm(r->retry_timer);
	if (r->m_invalid)
		metric_clear(r->m_invalid);
}

void bgp_report_set_leading(struct bgp_report *r, bool leading)
{
	if (!r)
		return;
	r->leading = leading;
	reconsider(r);
}

void bgp_report_pools_changed(struct bgp_report *r)
{
	if (!r)
		return;
	if (r->active) {
		evaluate_dependents(r, BGP_KIND_POOL);
		return;
	}
	reconsider(r);
}

/* ---- informer handlers ---- */

static void on_add(struct informer *inf, const char *key, void *item, void *userdata)
{
	struct bgp_report *r = userdata;
	struct bgp_item *it = item;

	(void)inf;
	(void)key;
	if (!r->active)
		return;
	evaluate(r, it);
	evaluate_dependents(r, it->kind);
}

static void on_update(struct informer *inf, const char *key, void *old_item, void *new_item,
		      void *userdata)
{
	struct bgp_report *r = userdata;
	struct bgp_item *o = old_item, *n = new_item;

	(void)inf;
	(void)key;
	if (!r->active)
		return;
	evaluate(r, n);
	/* Whether others' references resolve depends on its validity only. */
	if ((o->obj == NULL) != (n->obj == NULL))
		evaluate_dependents(r, n->kind);
}

static void on_delete(struct informer *inf, const char *key, void *old_item, void *userdata)
{
	struct bgp_report *r = userdata;
	struct bgp_item *o = old_item;
	struct bgp_write *w;

	(void)inf;
	(void)key;
	if (!r->active)
		return;
	if ((w = write_find(r, o->kind, o->name))) {
		kube_request_cancel(w->req);
		json_decref(write_free(w));
	}
	evaluate_dependents(r, o->kind);
}

static void on_synced(struct informer *inf, void *userdata)
{
	(void)inf;
	reconsider(userdata);
}

static void on_error(struct informer *inf, const struct informer_error *e, void *userdata)
{
	struct bgp_report *r = userdata;

	(void)inf;
	if (e->kind == INFORMER_ERR_DECODE) {
		log_warn(COMP, "cannot decode object, ignoring it", LF_STR("resource", e->resource),
			 LF_STR("object", e->key), LF_STR("message", e->message));
		return;
	}
	if (e->kind == INFORMER_ERR_EXPIRED)
		return;
	if (log_ratelimit_ok(&r->rl, loop_now_us(), NULL))
		log_warn(COMP, e->kind == INFORMER_ERR_LIST ? "list failed" : "watch failed",
			 LF_STR("resource", e->resource), LF_INT("code", e->code),
			 LF_STR("reason", e->reason), LF_STR("message", e->message), LF_ERR(e->err),
			 LF_DBL("retry_in_s", (double)e->retry_in_us / 1e6));
}

/* ---- metrics ---- */

static int count_invalid(const char *key, void *item, void *userdata)
{
	(void)key;
	if (!((struct bgp_item *)item)->obj)
		(*(unsigned *)userdata)++;
	return 0;
}

static void collect(struct metrics *reg, void *userdata)
{
	struct bgp_report *r = userdata;

	(void)reg;
	if (!r->active)
		return;
	for (int k = 0; k < NKINDS; k++) {
		unsigned n = 0;

		informer_foreach(r->inf[k], count_invalid, &n);
		metric_set(r->m_invalid, (double)n, bgp_kind_name((enum bgp_kind)k));
	}
}

/* ---- lifecycle ---- */

struct bgp_report *bgp_report_new(struct loop *loop, struct kube_client *client,
				  struct metrics *metrics, struct kube_event_recorder *events,
				  const char *ns, const struct informer *pools)
{
	static informer_decode_fn const decode[NKINDS] = {
		[BGP_KIND_PEER] = peer_decode,
		[BGP_KIND_ADVERT] = advert_decode,
		[BGP_KIND_BFD] = bfd_decode,
	};
	struct bgp_report *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->loop = loop;
	r->client = client;
	r->events = events;
	r->pools = pools;
	r->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000000, 10);
	r->ns = strdup(ns);
	r->retry_timer = loop_timer_new(loop, on_retry_timer, r);
	if (!r->ns || !r->retry_timer)
		goto fail;
	/* Secrets are only named, never read here (passwordSecret). */
	r->dctx.namespace = r->ns;
	for (int k = 0; k < NKINDS; k++) {
		r->inf[k] = informer_new(client, loop,
					 &(struct informer_opts){
						 .res = kind_res((enum bgp_kind)k),
						 .ns = r->ns,
						 .decode = decode[k],
						 .free_item = item_free,
						 .on_add = on_add,
						 .on_update = on_update,
						 .on_delete = on_delete,
						 .on_synced = on_synced,
						 .on_error = on_error,
						 .userdata = r,
					 });
		if (!r->inf[k])
			goto fail;
	}
	if (metrics) {
		r->m_invalid =
			metrics_gauge(metrics, "ironlb_controller_invalid_objects",
				      "BGPPeers, BGPAdvertisements and BFDProfiles whose "
				      "spec is invalid (Valid=False), by kind; on the leader.",
				      "kind");
		if (!r->m_invalid || metrics_add_collector(metrics, collect, r) < 0)
			goto fail;
	}
	return r;
fail:
	bgp_report_free(r);
	return NULL;
}

int bgp_report_start(struct bgp_report *r)
{
	int rc;

	for (int k = 0; k < NKINDS; k++)
		if ((rc = informer_start(r->inf[k])) < 0)
			return rc;
	return 0;
}

void bgp_report_free(struct bgp_report *r)
{
	if (!r)
		return;
	writes_cancel(r);
	for (int k = 0; k < NKINDS; k++)
		informer_free(r->inf[k]);
	loop_timer_free(r->retry_timer);
	free(r->ns);
	free(r);
}
