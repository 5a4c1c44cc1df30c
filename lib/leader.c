/* Leader election on a Lease: the pure decision (leader_decide and
 * friends) and the elector that does its I/O on the loop.
 *
 * One attempt at a time. A candidate GETs the Lease, decides, and writes
 * (POST to create, PUT with the read resourceVersion to take or renew).
 * A leader first tries the fast path of client-go >= 1.28: PUT its renewed
 * record on top of the Lease it last wrote, without a GET; only if that
 * fails does it read the Lease again. Attempts run every retryPeriod
 * (candidates: jittered up to 2.2x, so candidates do not poll in step).
 *
 * Leadership is "lost cleanly": a deadline timer at last renewal start +
 * renewDeadline ends it even if a request hangs, and leader_is_leader()
 * compares the clock itself, so a process that was stopped (SIGSTOP, a
 * long GC-like pause) sees false the instant it runs again, before any
 * timer had a chance to fire.
 */
#include "ironlb/leader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ironlb/kube.h"
#include "ironlb/kube_util.h"
#include "ironlb/loop.h"

/* ---- pure decision ---- */

static bool record_equal(const struct leader_record *a, const struct leader_record *b)
{
	return !strcmp(a->holder, b->holder) && a->lease_duration_s == b->lease_duration_s &&
	       a->acquire_time_us == b->acquire_time_us && a->renew_time_us == b->renew_time_us &&
	       a->transitions == b->transitions;
}

bool leader_observe(struct leader_observed *obs, const struct leader_record *cur, uint64_t now_us)
{
	if (!cur) {
		bool was = obs->valid;

		obs->valid = false;
		return was;
	}
	if (obs->valid && record_equal(&obs->rec, cur))
		return false;
	obs->valid = true;
	obs->rec = *cur;
	obs->at_us = now_us;
	return true;
}

static uint32_t duration_seconds(uint64_t us)
{
	uint64_t s = (us + 999999u) / 1000000u;

	return s ? (uint32_t)s : 1;
}

enum leader_action leader_decide(const struct leader_record *cur, const struct leader_observed *obs,
				 const char *identity, uint64_t now_us, uint64_t wall_us,
				 const struct leader_timing *t, struct leader_record *ret_next)
{
	struct leader_record next = { 0 };

	snprintf(next.holder, sizeof(next.holder), "%s", identity);
	next.lease_duration_s = duration_seconds(t->lease_duration_us);
	next.renew_time_us = wall_us;
	if (!cur) {
		next.acquire_time_us = wall_us;
		*ret_next = next;
		return LEADER_CREATE;
	}
	if (cur->holder[0] && strcmp(cur->holder, identity) != 0) {
		/* Another holder: its lease runs from when WE saw its record
		 * change, for the duration IT wrote. */
		uint64_t dur = cur->lease_duration_s ? cur->lease_duration_s * 1000000ull
						     : t->lease_duration_us;

		if (!obs || !obs->valid || obs->at_us + dur > now_us)
			return LEADER_WAIT;
	}
	if (!strcmp(cur->holder, identity)) {
		next.acquire_time_us = cur->acquire_time_us ? cur->acquire_time_us : wall_us;
		next.transitions = cur->transitions;
		*ret_next = next;
		return LEADER_RENEW;
	}
	next.acquire_time_us = wall_us;
	next.transitions = cur->transitions + 1;
	*ret_next = next;
	return LEADER_ACQUIRE;
}

bool leader_valid(uint64_t renewed_us, uint64_t now_us, const struct leader_timing *t)
{
	return now_us < renewed_us + t->renew_deadline_us;
}

void leader_release_record(const struct leader_record *cur, uint64_t wall_us,
			   struct leader_record *ret)
{
	struct leader_record r = { 0 };

	r.lease_duration_s = 1;
	r.acquire_time_us = wall_us;
	r.renew_time_us = wall_us;
	r.transitions = cur ? cur->transitions : 0;
	*ret = r;
}

static int spec_uint(json_t *spec, const char *key, uint32_t *ret)
{
	json_t *v = json_object_get(spec, key); /* borrowed */

	if (!v || json_is_null(v)) {
		*ret = 0;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > (json_int_t)UINT32_MAX)
		return -EBADMSG;
	*ret = (uint32_t)json_integer_value(v);
	return 0;
}

static int spec_time(json_t *spec, const char *key, uint64_t *ret)
{
	json_t *v = json_object_get(spec, key); /* borrowed */

	if (!v || json_is_null(v)) {
		*ret = 0;
		return 0;
	}
	if (!json_is_string(v))
		return -EBADMSG;
	return kube_time_parse(json_string_value(v), ret) < 0 ? -EBADMSG : 0;
}

int leader_record_from_lease(json_t *lease, struct leader_record *ret, const char **ret_why)
{
	struct leader_record r = { 0 };
	const char *why = NULL;
	json_t *spec, *h;

	if (!json_is_object(lease)) {
		why = "Lease is not an object";
		goto bad;
	}
	spec = json_object_get(lease, "spec"); /* borrowed */
	if (spec && !json_is_null(spec) && !json_is_object(spec)) {
		why = "spec is not an object";
		goto bad;
	}
	h = json_object_get(spec, "holderIdentity"); /* borrowed */
	if (h && !json_is_null(h)) {
		if (!json_is_string(h)) {
			why = "spec.holderIdentity is not a string";
			goto bad;
		}
		if (json_string_length(h) >= sizeof(r.holder)) {
			why = "spec.holderIdentity is too long";
			goto bad;
		}
		snprintf(r.holder, sizeof(r.holder), "%s", json_string_value(h));
	}
	if (spec_uint(spec, "leaseDurationSeconds", &r.lease_duration_s) < 0) {
		why = "spec.leaseDurationSeconds is not a non-negative integer";
		goto bad;
	}
	if (spec_uint(spec, "leaseTransitions", &r.transitions) < 0) {
		why = "spec.leaseTransitions is not a non-negative integer";
		goto bad;
	}
	if (spec_time(spec, "acquireTime", &r.acquire_time_us) < 0) {
		why = "spec.acquireTime is not a time";
		goto bad;
	}
	if (spec_time(spec, "renewTime", &r.renew_time_us) < 0) {
		why = "spec.renewTime is not a time";
		goto bad;
	}
	*ret = r;
	return 0;
bad:
	if (ret_why)
		*ret_why = why;
	return -EBADMSG;
}

int leader_record_to_lease(const struct leader_record *rec, json_t *lease)
{
	char acquire[KUBE_MICROTIME_STRLEN], renew[KUBE_MICROTIME_STRLEN];
	json_t *spec = json_object_get(lease, "spec"); /* borrowed */

	if (!json_is_object(spec)) {
		spec = json_object();					   /* new */
		if (!spec || json_object_set_new(lease, "spec", spec) < 0) /* steals spec */
			return -ENOMEM;
	}
	kube_microtime_format(rec->acquire_time_us, acquire);
	kube_microtime_format(rec->renew_time_us, renew);
	if (json_object_set_new(spec, "holderIdentity", json_string(rec->holder)) < 0 ||
	    json_object_set_new(spec, "leaseDurationSeconds", json_integer(rec->lease_duration_s)) <
		    0 ||
	    json_object_set_new(spec, "acquireTime", json_string(acquire)) < 0 ||
	    json_object_set_new(spec, "renewTime", json_string(renew)) < 0 ||
	    json_object_set_new(spec, "leaseTransitions", json_integer(rec->transitions)) < 0)
		return -ENOMEM;
	return 0;
}

/* ---- the elector ---- */

struct leader {
	struct kube_client *c;
	struct loop *loop;
	struct leader_opts o;
	char *ns, *name, *identity;
	struct leader_timing t;
	struct leader_observed obs;
	char holder[LEADER_IDENTITY_MAX]; /* last holder reported to on_new_leader */
	json_t *lease;			  /* the Lease as last read or written (new ref) */
	bool started;
	bool leading;
	bool releasing;
	bool release_reread; /* the release met a 409 and read the Lease again */
	uint64_t renewed_us;
	uint64_t attempt_us;
	struct kube_request *req;
	struct loop_timer *tick;
	struct loop_timer *deadline;
	struct loop_timer *release_timer;
	void (*release_done)(struct leader *le, int err, void *userdata);
	void *release_userdata;
	int release_err;
	uint64_t rng;
};

static void attempt(struct leader *le);

static void next_tick(struct leader *le)
{
	uint64_t d = le->t.retry_period_us;

	if (le->releasing)
		return;
	if (!le->leading)
		d += (uint64_t)((double)d * LEADER_JITTER_FACTOR *
				((double)(kube_rand_next(&le->rng) >> 11) / (double)(1ull << 53)));
	loop_timer_arm(le->tick, d);
}

static void lost(struct leader *le)
{
	if (!le->leading)
		return;
	le->leading = false;
	loop_timer_disarm(le->deadline);
	/* A renewal still in flight must not make us leader behind the
	 * daemon's back after it was told we are not. */
	kube_request_cancel(le->req);
	le->req = NULL;
	if (le->o.on_stopped_leading)
		le->o.on_stopped_leading(le, le->o.userdata);
}

static void observe(struct leader *le, const struct leader_record *cur)
{
	const char *h = cur ? cur->holder : "";

	leader_observe(&le->obs, cur, loop_now_us());
	if (strcmp(h, le->holder) != 0) {
		snprintf(le->holder, sizeof(le->holder), "%s", h);
		if (le->o.on_new_leader)
			le->o.on_new_leader(le, le->holder, le->o.userdata);
	}
}

static void report(struct leader *le, const struct kube_result *res, int err, const char *msg)
{
	if (le->o.on_error)
		le->o.on_error(le, err, res ? res->code : 0, res ? res->reason : "",
			       msg   ? msg
			       : res ? res->message
				     : "",
			       le->o.userdata);
}

static void on_deadline(struct loop_timer *t, void *userdata)
{
	struct leader *le = userdata;

	(void)t;
	if (le->leading && !leader_valid(le->renewed_us, loop_now_us(), &le->t)) {
		lost(le);
		/* lost() cancelled a renewal in flight, whose completion
		 * would have scheduled the next attempt. */
		if (!loop_timer_armed(le->tick))
			next_tick(le);
	} else if (le->leading)
		loop_timer_arm_at(le->deadline, le->renewed_us + le->t.renew_deadline_us);
}

static void on_written(const struct kube_result *res, void *userdata)
{
	struct leader *le = userdata;
	struct leader_record rec;
	const char *why = NULL;

	le->req = NULL;
	if (res->err < 0) {
		report(le, res, res->err, NULL);
		next_tick(le);
		return;
	}
	if (leader_record_from_lease(res->body, &rec, &why) < 0) {
		report(le, res, -EBADMSG, why);
		next_tick(le);
		return;
	}
	json_decref(le->lease);
	le->lease = json_incref(res->body); /* new reference: the fast path's base */
	observe(le, &rec);
	le->renewed_us = le->attempt_us;
	if (!leader_valid(le->renewed_us, loop_now_us(), &le->t)) {
		/* The write took longer than the renew deadline: do not
		 * claim a lease others may already consider expired. */
		lost(le);
		next_tick(le);
		return;
	}
	loop_timer_arm_at(le->deadline, le->renewed_us + le->t.renew_deadline_us);
	if (!le->leading) {
		le->leading = true;
		if (le->o.on_started_leading)
			le->o.on_started_leading(le, le->o.userdata);
	}
	next_tick(le);
}

static int write_lease(struct leader *le, enum leader_action a, const struct leader_record *next,
		       json_t *base)
{
	struct kube_call call = { .res = &KUBE_LEASES,
				  .ns = le->ns,
				  .bypass_gate = true,
				  .timeout_us = le->t.renew_deadline_us };
	json_t *obj;
	int r;

	if (a == LEADER_CREATE) {
		obj = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "coordination.k8s.io/v1",
				"kind", "Lease", "metadata", "name", le->name, "namespace",
				le->ns); /* new */
		call.method = "POST";
	} else {
		obj = json_deep_copy(base); /* new: base stays as read */
		call.method = "PUT";
		call.name = le->name;
	}
	if (!obj)
		return -ENOMEM;
	r = leader_record_to_lease(next, obj);
	if (r == 0) {
		call.body = obj;
		r = kube_submit(le->c, &call, on_written, le, &le->req);
	}
	json_decref(obj);
	return r;
}

static void on_get(const struct kube_result *res, void *userdata)
{
	struct leader *le = userdata;
	struct leader_record cur, next;
	const char *why = NULL;
	enum leader_action a;
	int r;

	le->req = NULL;
	if (res->err < 0 && res->code != 404) {
		report(le, res, res->err, NULL);
		next_tick(le);
		return;
	}
	if (res->code == 404) {
		observe(le, NULL);
		a = leader_decide(NULL, &le->obs, le->identity, loop_now_us(), loop_wall_us(),
				  &le->t, &next);
	} else {
		if (leader_record_from_lease(res->body, &cur, &why) < 0) {
			report(le, res, -EBADMSG, why);
			next_tick(le);
			return;
		}
		observe(le, &cur);
		a = leader_decide(&cur, &le->obs, le->identity, loop_now_us(), loop_wall_us(),
				  &le->t, &next);
	}
	if (a == LEADER_WAIT) {
		/* Someone else holds a live lease: if we thought we led, we
		 * do not any more. */
		lost(le);
		next_tick(le);
		return;
	}
	r = write_lease(le, a, &next, res->body);
	if (r < 0) {
		report(le, NULL, r, "could not send the Lease");
		next_tick(le);
	}
}

static int get_lease(struct leader *le)
{
	struct kube_call call = { .method = "GET",
				  .res = &KUBE_LEASES,
				  .ns = le->ns,
				  .name = le->name,
				  .timeout_us = le->t.renew_deadline_us };

	return kube_submit(le->c, &call, on_get, le, &le->req);
}

static void on_fast_renew(const struct kube_result *res, void *userdata)
{
	struct leader *le = userdata;
	int r;

	if (res->err == 0) {
		on_written(res, userdata);
		return;
	}
	le->req = NULL;
	if (res->code == 409) {
		/* Our copy is stale: read the Lease, then decide. */
		r = get_lease(le);
		if (r == 0)
			return;
	}
	report(le, res, res->err, NULL);
	next_tick(le);
}

static void attempt(struct leader *le)
{
	int r;

	if (le->req || le->releasing)
		return;
	le->attempt_us = loop_now_us();
	if (le->leading && le->lease) {
		struct leader_record next;
		struct kube_call call = { .method = "PUT",
					  .res = &KUBE_LEASES,
					  .ns = le->ns,
					  .name = le->name,
					  .bypass_gate = true,
					  .timeout_us = le->t.renew_deadline_us };
		json_t *obj = json_deep_copy(le->lease); /* new */

		leader_decide(&le->obs.rec, &le->obs, le->identity, le->attempt_us, loop_wall_us(),
			      &le->t, &next);
		r = obj ? leader_record_to_lease(&next, obj) : -ENOMEM;
		if (r == 0) {
			call.body = obj;
			r = kube_submit(le->c, &call, on_fast_renew, le, &le->req);
		}
		json_decref(obj);
	} else {
		r = get_lease(le);
	}
	if (r < 0) {
		report(le, NULL, r, "could not send the Lease request");
		next_tick(le);
	}
}

static void on_tick(struct loop_timer *t, void *userdata)
{
	(void)t;
	attempt(userdata);
}

static void on_release_timer(struct loop_timer *t, void *userdata)
{
	struct leader *le = userdata;

	(void)t;
	if (le->release_done)
		le->release_done(le, le->release_err, le->release_userdata);
}

struct leader *leader_new(struct kube_client *client, struct loop *loop,
			  const struct leader_opts *opts)
{
	struct leader *le;

	if (!opts->ns || !opts->ns[0] || !opts->name || !opts->name[0] || !opts->identity ||
	    !opts->identity[0] || strlen(opts->identity) >= LEADER_IDENTITY_MAX) {
		errno = EINVAL;
		return NULL;
	}
	le = calloc(1, sizeof(*le));
	if (!le) {
		errno = ENOMEM;
		return NULL;
	}
	le->c = client;
	le->loop = loop;
	le->o = *opts;
	le->t.lease_duration_us =
		opts->lease_duration_us ? opts->lease_duration_us : LEADER_LEASE_DURATION_US;
	le->t.renew_deadline_us =
		opts->renew_deadline_us ? opts->renew_deadline_us : LEADER_RENEW_DEADLINE_US;
	le->t.retry_period_us =
		opts->retry_period_us ? opts->retry_period_us : LEADER_RETRY_PERIOD_US;
	/* client-go's validation: otherwise the guarantees above fail. */
	if (le->t.lease_duration_us <= le->t.renew_deadline_us ||
	    (double)le->t.renew_deadline_us <=
		    LEADER_JITTER_FACTOR * (double)le->t.retry_period_us) {
		free(le);
		errno = EINVAL;
		return NULL;
	}
	le->rng = opts->seed ? opts->seed : kube_rand_seed();
	le->ns = strdup(opts->ns);
	le->name = strdup(opts->name);
	le->identity = strdup(opts->identity);
	le->tick = loop_timer_new(loop, on_tick, le);
	le->deadline = loop_timer_new(loop, on_deadline, le);
	le->release_timer = loop_timer_new(loop, on_release_timer, le);
	if (!le->ns || !le->name || !le->identity || !le->tick || !le->deadline ||
	    !le->release_timer) {
		leader_free(le);
		errno = ENOMEM;
		return NULL;
	}
	return le;
}

void leader_free(struct leader *le)
{
	if (!le)
		return;
	kube_request_cancel(le->req);
	loop_timer_free(le->tick);
	loop_timer_free(le->deadline);
	loop_timer_free(le->release_timer);
	json_decref(le->lease);
	free(le->ns);
	free(le->name);
	free(le->identity);
	free(le);
}

int leader_start(struct leader *le)
{
	if (le->started)
		return -EALREADY;
	le->started = true;
	/* First attempt at once, through the loop. */
	loop_timer_arm(le->tick, 0);
	return 0;
}

bool leader_is_leader(const struct leader *le)
{
	return le && le->leading && !le->releasing &&
	       leader_valid(le->renewed_us, loop_now_us(), &le->t);
}

bool leader_gate(void *le)
{
	return leader_is_leader(le);
}

const char *leader_holder(const struct leader *le)
{
	return le->holder;
}

static int release_put(struct leader *le, json_t *lease);

static void on_release_reread(const struct kube_result *res, void *userdata)
{
	struct leader *le = userdata;
	struct leader_record cur;
	int r = res->err;

	le->req = NULL;
	if (r == 0 && res->body && leader_record_from_lease(res->body, &cur, NULL) == 0 &&
	    strcmp(cur.holder, le->identity) == 0) {
		r = release_put(le, res->body);
		if (r == 0)
			return;
	}
	/* Held by another (or nobody) by now: nothing of ours to release. */
	if (le->release_done)
		le->release_done(le, r, le->release_userdata);
}

static void on_released(const struct kube_result *res, void *userdata)
{
	struct leader *le = userdata;

	le->req = NULL;
	/* A renewal cancelled by the release may still have reached the
	 * server, leaving our copy of the Lease a version behind: read it
	 * again and release what is there, once. */
	if (res->code == 409 && !le->release_reread) {
		struct kube_call call = { .method = "GET",
					  .res = &KUBE_LEASES,
					  .ns = le->ns,
					  .name = le->name,
					  .bypass_gate = true,
					  .timeout_us = le->t.renew_deadline_us };

		le->release_reread = true;
		if (kube_submit(le->c, &call, on_release_reread, le, &le->req) == 0)
			return;
	}
	if (res->err == 0) {
		snprintf(le->holder, sizeof(le->holder), "%s", "");
		if (le->o.on_new_leader)
			le->o.on_new_leader(le, "", le->o.userdata);
	}
	if (le->release_done)
		le->release_done(le, res->err, le->release_userdata);
}

/* Writes lease back with this holder's release record (holder empty). */
static int release_put(struct leader *le, json_t *lease)
{
	struct leader_record rec, cur;
	struct kube_call call = { .method = "PUT",
				  .res = &KUBE_LEASES,
				  .ns = le->ns,
				  .name = le->name,
				  .bypass_gate = true,
				  .timeout_us = le->t.renew_deadline_us };
	json_t *obj;
	int r;

	if (leader_record_from_lease(lease, &cur, NULL) < 0)
		memset(&cur, 0, sizeof(cur));
	leader_release_record(&cur, loop_wall_us(), &rec);
	obj = json_deep_copy(lease); /* new */
	r = obj ? leader_record_to_lease(&rec, obj) : -ENOMEM;
	if (r == 0) {
		call.body = obj;
		r = kube_submit(le->c, &call, on_released, le, &le->req);
	}
	json_decref(obj);
	return r;
}

int leader_release(struct leader *le, void (*done)(struct leader *le, int err, void *userdata),
		   void *userdata)
{
	bool was_leading = leader_is_leader(le) && le->lease;
	int r;

	if (le->releasing)
		return -EALREADY;
	le->release_done = done;
	le->release_userdata = userdata;
	loop_timer_disarm(le->tick);
	kube_request_cancel(le->req);
	le->req = NULL;
	lost(le);
	le->releasing = true;
	le->release_reread = false;
	le->release_err = 0;
	if (!was_leading) {
		loop_timer_arm(le->release_timer, 0);
		return 0;
	}
	r = release_put(le, le->lease);
	if (r < 0) {
		le->release_err = r;
		loop_timer_arm(le->release_timer, 0);
	}
	return 0;
}
