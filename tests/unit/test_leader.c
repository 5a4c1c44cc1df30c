/* Unit tests for lib/leader.c: every transition of the pure decision
 * (create, acquire a free or expired lease, renew, wait for a live one,
 * expiry measured on the local clock from the observation, never from the
 * remote renewTime), the Lease record codec, and the elector driven through
 * a scripted transport: acquiring, the fast renew path and its 409
 * fallback, losing leadership at the renew deadline when renewals hang,
 * stepping down when another holder appears, release on shutdown, and the
 * write gate.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ironlb/kube.h"
#include "ironlb/kube_util.h"
#include "ironlb/leader.h"
#include "ironlb/loop.h"

#define S 1000000ull

static const struct leader_timing T = { 15 * S, 10 * S, 2 * S };

static struct leader_record rec(const char *holder, uint32_t dur, uint32_t transitions)
{
	struct leader_record r = { 0 };

	snprintf(r.holder, sizeof(r.holder), "%s", holder);
	r.lease_duration_s = dur;
	r.transitions = transitions;
	r.acquire_time_us = 1000 * S;
	r.renew_time_us = 1001 * S;
	return r;
}

/* ---- pure decision ---- */

static void test_decide_no_lease_creates_it(void **state)
{
	struct leader_observed obs = { 0 };
	struct leader_record next;

	(void)state;
	assert_int_equal(leader_decide(NULL, &obs, "me", 5 * S, 7000 * S, &T, &next),
			 LEADER_CREATE);
	assert_string_equal(next.holder, "me");
	assert_int_equal(next.lease_duration_s, 15);
	assert_int_equal(next.acquire_time_us, 7000 * S);
	assert_int_equal(next.renew_time_us, 7000 * S);
	assert_int_equal(next.transitions, 0);
}

static void test_decide_free_lease_is_acquired_with_a_transition(void **state)
{
	struct leader_record cur = rec("", 1, 4), next;
	struct leader_observed obs = { 0 };

	(void)state;
	leader_observe(&obs, &cur, 100 * S);
	/* Released (no holder): taken at once, no waiting. */
	assert_int_equal(leader_decide(&cur, &obs, "me", 100 * S, 9000 * S, &T, &next),
			 LEADER_ACQUIRE);
	assert_string_equal(next.holder, "me");
	assert_int_equal(next.transitions, 5);
	assert_int_equal(next.acquire_time_us, 9000 * S);
	assert_int_equal(next.lease_duration_s, 15);
}

static void test_decide_own_lease_is_renewed_keeping_acquire_time(void **state)
{
	struct leader_record cur = rec("me", 15, 3), next;
	struct leader_observed obs = { 0 };

	(void)state;
	leader_observe(&obs, &cur, 100 * S);
	assert_int_equal(leader_decide(&cur, &obs, "me", 101 * S, 9000 * S, &T, &next),
			 LEADER_RENEW);
	assert_int_equal(next.transitions, 3);
	assert_int_equal(next.acquire_time_us, 1000 * S);
	assert_int_equal(next.renew_time_us, 9000 * S);
}

static void test_decide_live_lease_of_another_waits(void **state)
{
	struct leader_record cur = rec("other", 15, 0), next;
	struct leader_observed obs = { 0 };

	(void)state;
	next.transitions = 77;
	leader_observe(&obs, &cur, 100 * S);
	assert_int_equal(leader_decide(&cur, &obs, "me", 100 * S, 0, &T, &next), LEADER_WAIT);
	assert_int_equal(leader_decide(&cur, &obs, "me", 114 * S, 0, &T, &next), LEADER_WAIT);
	assert_int_equal(leader_decide(&cur, &obs, "me", 115 * S - 1, 0, &T, &next), LEADER_WAIT);
	/* ret_next untouched when waiting */
	assert_int_equal(next.transitions, 77);
}

static void test_decide_expires_on_local_observation_not_remote_clock(void **state)
{
	struct leader_record cur = rec("other", 15, 2), next;
	struct leader_observed obs = { 0 };

	(void)state;
	/* The remote renewTime is 1001 s, far in the past of our wall clock
	 * (9999 s): irrelevant. We saw it at monotonic 100 s. */
	leader_observe(&obs, &cur, 100 * S);
	assert_int_equal(leader_decide(&cur, &obs, "me", 101 * S, 9999 * S, &T, &next),
			 LEADER_WAIT);
	/* Exactly leaseDuration after the observation: expired. */
	assert_int_equal(leader_decide(&cur, &obs, "me", 115 * S, 9999 * S, &T, &next),
			 LEADER_ACQUIRE);
	assert_int_equal(next.transitions, 3);
	assert_string_equal(next.holder, "me");
}

static void test_decide_uses_the_holders_lease_duration(void **state)
{
	struct leader_record cur = rec("other", 5, 0), next;
	struct leader_observed obs = { 0 };

	(void)state;
	leader_observe(&obs, &cur, 100 * S);
	/* The holder wrote 5 s: that is what it promised to renew within. */
	assert_int_equal(leader_decide(&cur, &obs, "me", 104 * S, 0, &T, &next), LEADER_WAIT);
	assert_int_equal(leader_decide(&cur, &obs, "me", 105 * S, 0, &T, &next), LEADER_ACQUIRE);
	/* No duration in the record: ours. */
	cur = rec("other", 0, 0);
	leader_observe(&obs, &cur, 200 * S);
	assert_int_equal(leader_decide(&cur, &obs, "me", 214 * S, 0, &T, &next), LEADER_WAIT);
	assert_int_equal(leader_decide(&cur, &obs, "me", 215 * S, 0, &T, &next), LEADER_ACQUIRE);
}

static void test_decide_without_observation_waits(void **state)
{
	struct leader_record cur = rec("other", 15, 0), next;
	struct leader_observed obs = { 0 };

	(void)state;
	assert_int_equal(leader_decide(&cur, &obs, "me", 1000 * S, 0, &T, &next), LEADER_WAIT);
	assert_int_equal(leader_decide(&cur, NULL, "me", 1000 * S, 0, &T, &next), LEADER_WAIT);
}

static void test_observe_unchanged_record_keeps_the_first_time(void **state)
{
	struct leader_record cur = rec("other", 15, 0), next;
	struct leader_observed obs = { 0 };

	(void)state;
	assert_true(leader_observe(&obs, &cur, 100 * S));
	/* Polling again and again does not push the expiry out. */
	assert_false(leader_observe(&obs, &cur, 105 * S));
	assert_false(leader_observe(&obs, &cur, 110 * S));
	assert_int_equal(obs.at_us, 100 * S);
	assert_int_equal(leader_decide(&cur, &obs, "me", 115 * S, 0, &T, &next), LEADER_ACQUIRE);
	/* A renewal (any field changing) restarts the clock. */
	cur.renew_time_us += S;
	assert_true(leader_observe(&obs, &cur, 112 * S));
	assert_int_equal(leader_decide(&cur, &obs, "me", 115 * S, 0, &T, &next), LEADER_WAIT);
	cur.transitions++;
	assert_true(leader_observe(&obs, &cur, 113 * S));
	snprintf(cur.holder, sizeof(cur.holder), "third");
	assert_true(leader_observe(&obs, &cur, 114 * S));
	assert_int_equal(obs.at_us, 114 * S);
	/* The lease disappearing is a change too. */
	assert_true(leader_observe(&obs, NULL, 120 * S));
	assert_false(obs.valid);
	assert_false(leader_observe(&obs, NULL, 121 * S));
}

static void test_valid_until_renew_deadline(void **state)
{
	(void)state;
	assert_true(leader_valid(100 * S, 100 * S, &T));
	assert_true(leader_valid(100 * S, 110 * S - 1, &T));
	assert_false(leader_valid(100 * S, 110 * S, &T));
	assert_false(leader_valid(100 * S, 200 * S, &T));
}

static void test_release_record_frees_the_lease(void **state)
{
	struct leader_record cur = rec("me", 15, 6), r;

	(void)state;
	leader_release_record(&cur, 5000 * S, &r);
	assert_string_equal(r.holder, "");
	assert_int_equal(r.lease_duration_s, 1);
	assert_int_equal(r.transitions, 6);
	assert_int_equal(r.renew_time_us, 5000 * S);
	assert_int_equal(r.acquire_time_us, 5000 * S);
}

static json_t *lease_json(const char *spec)
{
	char buf[1024];
	json_error_t je;
	json_t *j;

	snprintf(buf, sizeof(buf),
		 "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{"
		 "\"name\":\"l\",\"namespace\":\"ns\",\"resourceVersion\":\"7\"}%s%s}",
		 spec ? ",\"spec\":" : "", spec ? spec : "");
	j = json_loads(buf, 0, &je);
	if (!j)
		fail_msg("bad test JSON: %s", je.text);
	return j;
}

static void test_record_codec(void **state)
{
	struct leader_record r, back;
	const char *why;
	json_t *l;

	(void)state;
	l = lease_json("{\"holderIdentity\":\"a\",\"leaseDurationSeconds\":15,"
		       "\"acquireTime\":\"2024-01-02T03:04:05.123456Z\","
		       "\"renewTime\":\"2024-01-02T03:04:06.000000Z\",\"leaseTransitions\":3}");
	assert_int_equal(leader_record_from_lease(l, &r, &why), 0);
	assert_string_equal(r.holder, "a");
	assert_int_equal(r.lease_duration_s, 15);
	assert_int_equal(r.transitions, 3);
	assert_int_equal(r.acquire_time_us, 1704164645123456ull);
	assert_int_equal(r.renew_time_us, 1704164646000000ull);
	r.transitions = 4;
	assert_int_equal(leader_record_to_lease(&r, l), 0);
	assert_int_equal(leader_record_from_lease(l, &back, &why), 0);
	assert_memory_equal(&r, &back, sizeof(r));
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(l, "spec"), "renewTime")),
		"2024-01-02T03:04:06.000000Z");
	json_decref(l);
	/* No spec: an empty record. */
	l = lease_json(NULL);
	assert_int_equal(leader_record_from_lease(l, &r, &why), 0);
	assert_string_equal(r.holder, "");
	assert_int_equal(leader_record_to_lease(&r, l), 0);
	assert_non_null(json_object_get(l, "spec"));
	json_decref(l);
}

static void test_record_codec_rejects_wrong_types(void **state)
{
	static const char *const bad[] = {
		"[]",
		"{\"holderIdentity\":5}",
		"{\"leaseDurationSeconds\":\"15\"}",
		"{\"leaseDurationSeconds\":-1}",
		"{\"leaseTransitions\":1.5}",
		"{\"acquireTime\":\"yesterday\"}",
		"{\"renewTime\":12}",
	};
	struct leader_record r;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *l = lease_json(bad[i]);

		why = NULL;
		if (leader_record_from_lease(l, &r, &why) != -EBADMSG)
			fail_msg("accepted spec %s", bad[i]);
		assert_non_null(why);
		json_decref(l);
	}
	assert_int_equal(leader_record_from_lease(NULL, &r, &why), -EBADMSG);
}

/* ---- the elector, with a scripted transport ---- */

struct fake {
	struct kube_request *q[32];
	size_t n;
};

static int fake_start(struct kube_request *req, void *ctx)
{
	struct fake *f = ctx;

	assert_true(f->n < 32);
	f->q[f->n++] = req;
	return 0;
}

static void fake_stop(struct kube_request *req, void *ctx)
{
	struct fake *f = ctx;

	for (size_t i = 0; i < f->n; i++) {
		if (f->q[i] == req) {
			memmove(&f->q[i], &f->q[i + 1], (f->n - i - 1) * sizeof(f->q[0]));
			f->n--;
			return;
		}
	}
}

static const struct kube_transport_ops fake_ops = { fake_start, fake_stop, NULL };

struct env {
	struct loop *loop;
	struct fake fake;
	struct kube_client *c;
	struct leader *le;
	int started, stopped, released, release_err;
	char last_leader[64];
};

static struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof(*e));
	struct kube_config cfg = { .server = "https://192.0.2.1:6443", .token = "tok" };

	e->loop = loop_new();
	e->c = kube_client_new_transport(e->loop, &cfg, NULL, &fake_ops, &e->fake);
	assert_non_null(e->c);
	return e;
}

static void env_free(struct env *e)
{
	leader_free(e->le);
	kube_client_free(e->c);
	loop_free(e->loop);
	free(e);
}

/* Runs the loop until a request is waiting (or max_ms pass); takes it. */
static struct kube_request *next_req(struct env *e, int max_ms)
{
	uint64_t end = loop_now_us() + (uint64_t)max_ms * 1000;
	struct kube_request *r;

	while (e->fake.n == 0 && loop_now_us() < end)
		loop_run_once(e->loop, 5);
	if (e->fake.n == 0)
		return NULL;
	r = e->fake.q[0];
	memmove(&e->fake.q[0], &e->fake.q[1], (e->fake.n - 1) * sizeof(e->fake.q[0]));
	e->fake.n--;
	return r;
}

static void run_ms(struct env *e, int ms)
{
	uint64_t end = loop_now_us() + (uint64_t)ms * 1000;

	while (loop_now_us() < end)
		loop_run_once(e->loop, 2);
}

static void reply(struct kube_request *req, long code, const char *body)
{
	kube_transport_headers(req, code, 0, 2);
	if (body)
		kube_transport_data(req, body, strlen(body));
	kube_transport_end(req, 0, NULL);
}

/* The request body as JSON (new reference). */
static json_t *req_json(struct kube_request *req)
{
	size_t len;
	const char *b = kube_request_body(req, &len);

	assert_non_null(b);
	return json_loadb(b, len, 0, NULL);
}

static const char *spec_str(json_t *lease, const char *key)
{
	return json_string_value(json_object_get(json_object_get(lease, "spec"), key));
}

/* Answers a write with the object written and a new resourceVersion. */
static void reply_written(struct kube_request *req, long code, const char *rv)
{
	json_t *obj = req_json(req);
	char *s;

	json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion", json_string(rv));
	s = json_dumps(obj, JSON_COMPACT);
	reply(req, code, s);
	free(s);
	json_decref(obj);
}

static void on_started(struct leader *le, void *ud)
{
	(void)le;
	((struct env *)ud)->started++;
}

static void on_stopped(struct leader *le, void *ud)
{
	(void)le;
	((struct env *)ud)->stopped++;
}

static void on_new(struct leader *le, const char *id, void *ud)
{
	(void)le;
	snprintf(((struct env *)ud)->last_leader, sizeof(((struct env *)ud)->last_leader), "%s",
		 id);
}

static void on_released(struct leader *le, int err, void *ud)
{
	(void)le;
	((struct env *)ud)->released++;
	((struct env *)ud)->release_err = err;
}

/* lease 1 s (written as 1 s), renew deadline 150 ms, retry 50 ms */
static struct leader *elector(struct env *e, const char *id)
{
	struct leader_opts o = {
		.ns = "ironlb-system",
		.name = "ironlb-controller",
		.identity = id,
		.lease_duration_us = 1 * S,
		.renew_deadline_us = 150000,
		.retry_period_us = 50000,
		.on_started_leading = on_started,
		.on_stopped_leading = on_stopped,
		.on_new_leader = on_new,
		.userdata = e,
		.seed = 42,
	};

	e->le = leader_new(e->c, e->loop, &o);
	assert_non_null(e->le);
	assert_int_equal(leader_start(e->le), 0);
	return e->le;
}

/* Makes the elector leader through a GET 404 + POST 201. */
static void become_leader(struct env *e)
{
	struct kube_request *req = next_req(e, 1000);
	json_t *body;

	assert_non_null(req);
	assert_string_equal(kube_request_method(req), "GET");
	assert_string_equal(kube_request_path(req),
			    "/apis/coordination.k8s.io/v1/namespaces/ironlb-system/leases/"
			    "ironlb-controller");
	reply(req, 404, "{\"kind\":\"Status\",\"code\":404,\"reason\":\"NotFound\"}");
	req = next_req(e, 1000);
	assert_non_null(req);
	assert_string_equal(kube_request_method(req), "POST");
	assert_string_equal(kube_request_path(req),
			    "/apis/coordination.k8s.io/v1/namespaces/ironlb-system/leases");
	body = req_json(req);
	assert_string_equal(spec_str(body, "holderIdentity"), "me");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(body, "spec"),
							    "leaseDurationSeconds")),
			 1);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(body, "metadata"), "name")),
		"ironlb-controller");
	json_decref(body);
	assert_false(leader_is_leader(e->le));
	reply_written(req, 201, "1");
	assert_true(leader_is_leader(e->le));
	assert_int_equal(e->started, 1);
	assert_string_equal(e->last_leader, "me");
}

static void test_elector_creates_lease_and_leads(void **state)
{
	struct env *e = env_new();

	(void)state;
	elector(e, "me");
	become_leader(e);
	env_free(e);
}

static void test_elector_renews_on_the_fast_path_with_resource_version(void **state)
{
	struct env *e = env_new();
	struct kube_request *req;
	json_t *body;

	(void)state;
	elector(e, "me");
	become_leader(e);
	for (int i = 0; i < 3; i++) {
		char rv[16];

		req = next_req(e, 1000);
		assert_non_null(req);
		/* No GET: a PUT on top of what we wrote last. */
		assert_string_equal(kube_request_method(req), "PUT");
		body = req_json(req);
		snprintf(rv, sizeof(rv), "%d", i + 1);
		assert_string_equal(json_string_value(json_object_get(
					    json_object_get(body, "metadata"), "resourceVersion")),
				    rv);
		assert_string_equal(spec_str(body, "holderIdentity"), "me");
		json_decref(body);
		snprintf(rv, sizeof(rv), "%d", i + 2);
		reply_written(req, 200, rv);
		assert_true(leader_is_leader(e->le));
	}
	assert_int_equal(e->started, 1);
	assert_int_equal(e->stopped, 0);
	env_free(e);
}

static void test_elector_loses_at_renew_deadline_when_renewals_hang(void **state)
{
	struct env *e = env_new();
	struct kube_request *req;
	uint64_t t0;

	(void)state;
	elector(e, "me");
	become_leader(e);
	t0 = loop_now_us();
	req = next_req(e, 1000); /* the renewal: never answered */
	assert_non_null(req);
	while (leader_is_leader(e->le))
		loop_run_once(e->loop, 1);
	/* The flag turned false at the deadline, not a retry period later. */
	assert_true(loop_now_us() - t0 < 150000 + 20000);
	/* And the daemon was told. */
	run_ms(e, 5);
	assert_int_equal(e->stopped, 1);
	/* The hung request was cancelled: the elector is a candidate again
	 * and polls with a GET. */
	req = next_req(e, 1000);
	assert_non_null(req);
	assert_string_equal(kube_request_method(req), "GET");
	reply(req, 500, "{}");
	env_free(e);
}

static void test_elector_flag_false_after_a_stall_even_before_timers_run(void **state)
{
	struct env *e = env_new();
	struct kube_request *req;
	uint64_t t0;

	(void)state;
	elector(e, "me");
	become_leader(e);
	req = next_req(e, 1000);
	assert_non_null(req);
	/* Simulate a stall: no loop iterations while time passes. */
	t0 = loop_now_us();
	while (loop_now_us() - t0 < 160000)
		;
	assert_false(leader_is_leader(e->le));
	assert_int_equal(e->stopped, 0); /* the timer has not run yet */
	run_ms(e, 5);
	assert_int_equal(e->stopped, 1);
	env_free(e);
}

static void test_elector_steps_down_when_another_holds_the_lease(void **state)
{
	struct env *e = env_new();
	struct kube_request *req;

	(void)state;
	elector(e, "me");
	become_leader(e);
	req = next_req(e, 1000);
	assert_string_equal(kube_request_method(req), "PUT");
	reply(req, 409, "{\"kind\":\"Status\",\"code\":409,\"reason\":\"Conflict\"}");
	/* 409 on the fast path: read the Lease. */
	req = next_req(e, 1000);
	assert_non_null(req);
	assert_string_equal(kube_request_method(req), "GET");
	assert_true(leader_is_leader(e->le));
	reply(req, 200,
	      "{\"metadata\":{\"name\":\"ironlb-controller\",\"namespace\":\"ironlb-system\","
	      "\"resourceVersion\":\"9\"},\"spec\":{\"holderIdentity\":\"other\","
	      "\"leaseDurationSeconds\":15,\"leaseTransitions\":1}}");
	assert_false(leader_is_leader(e->le));
	assert_int_equal(e->stopped, 1);
	assert_string_equal(e->last_leader, "other");
	env_free(e);
}

static void test_elector_acquires_an_expired_lease_with_its_resource_version(void **state)
{
	struct env *e = env_new();
	static const char other[] =
		"{\"metadata\":{\"name\":\"ironlb-controller\",\"namespace\":\"ironlb-system\","
		"\"resourceVersion\":\"40\",\"labels\":{\"keep\":\"me\"}},\"spec\":{"
		"\"holderIdentity\":\"other\",\"leaseDurationSeconds\":1,\"leaseTransitions\":2,"
		"\"renewTime\":\"2000-01-01T00:00:00.000000Z\"}}";
	struct kube_request *req;
	uint64_t first;
	json_t *body;

	(void)state;
	elector(e, "me");
	req = next_req(e, 1000);
	first = loop_now_us();
	reply(req, 200, other);
	first -= 1; /* observed after this */
	assert_string_equal(e->last_leader, "other");
	/* The same record keeps coming back; we wait a full second from
	 * when we first saw it, though renewTime is decades old. */
	for (;;) {
		req = next_req(e, 3000);
		assert_non_null(req);
		if (strcmp(kube_request_method(req), "PUT") == 0)
			break;
		assert_string_equal(kube_request_method(req), "GET");
		reply(req, 200, other);
	}
	assert_true(loop_now_us() - first >= 1 * S);
	body = req_json(req);
	assert_string_equal(spec_str(body, "holderIdentity"), "me");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(body, "spec"),
							    "leaseTransitions")),
			 3);
	/* Optimistic concurrency: the PUT carries the RV read, and keeps
	 * the rest of the object. */
	assert_string_equal(json_string_value(json_object_get(json_object_get(body, "metadata"),
							      "resourceVersion")),
			    "40");
	assert_non_null(json_object_get(
		json_object_get(json_object_get(body, "metadata"), "labels"), "keep"));
	json_decref(body);
	/* Another candidate won the race. */
	reply(req, 409, "{\"kind\":\"Status\",\"code\":409,\"reason\":\"Conflict\"}");
	assert_false(leader_is_leader(e->le));
	assert_int_equal(e->started, 0);
	env_free(e);
}

static void test_elector_release_empties_the_holder(void **state)
{
	struct env *e = env_new();
	struct kube_request *req;
	json_t *body;

	(void)state;
	elector(e, "me");
	become_leader(e);
	assert_int_equal(leader_release(e->le, on_released, e), 0);
	/* Stopped writing at once. */
	assert_false(leader_is_leader(e->le));
	assert_int_equal(e->stopped, 1);
	req = next_req(e, 1000);
	assert_non_null(req);
	assert_string_equal(kube_request_method(req), "PUT");
	body = req_json(req);
	assert_string_equal(spec_str(body, "holderIdentity"), "");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(body, "spec"),
							    "leaseDurationSeconds")),
			 1);
	json_decref(body);
	reply_written(req, 200, "3");
	assert_int_equal(e->released, 1);
	assert_int_equal(e->release_err, 0);
	/* Nothing more is sent. */
	run_ms(e, 120);
	assert_int_equal(e->fake.n, 0);
	assert_int_equal(leader_release(e->le, on_released, e), -EALREADY);
	env_free(e);
}

static void test_elector_release_when_not_leading_completes_without_writing(void **state)
{
	struct env *e = env_new();

	(void)state;
	elector(e, "me");
	assert_int_equal(leader_release(e->le, on_released, e), 0);
	assert_int_equal(e->released, 0); /* never from inside the call */
	run_ms(e, 20);
	assert_int_equal(e->released, 1);
	assert_int_equal(e->fake.n, 0);
	env_free(e);
}

static void gate_done(const struct kube_result *res, void *ud)
{
	(void)res;
	(void)ud;
}

static void test_write_gate_refuses_writes_unless_leading(void **state)
{
	struct env *e = env_new();
	json_t *obj = json_pack("{s:{s:s}}", "metadata", "name", "x");
	struct kube_request *req = NULL;

	(void)state;
	elector(e, "me");
	kube_client_set_write_gate(e->c, leader_gate, e->le);
	assert_int_equal(kube_create(e->c, &KUBE_SERVICES, "ns", obj, gate_done, NULL, NULL),
			 -EPERM);
	/* Reads pass; and the elector's own writes bypass the gate. */
	assert_int_equal(kube_get(e->c, &KUBE_SERVICES, "ns", "x", gate_done, NULL, &req), 0);
	kube_request_cancel(req);
	become_leader(e);
	assert_int_equal(kube_create(e->c, &KUBE_SERVICES, "ns", obj, gate_done, NULL, &req), 0);
	kube_request_cancel(req);
	json_decref(obj);
	kube_client_set_write_gate(e->c, NULL, NULL);
	env_free(e);
}

static void test_elector_rejects_unsafe_timing(void **state)
{
	struct loop *l = loop_new();
	struct leader_opts o = { .ns = "ns", .name = "n", .identity = "id" };

	(void)state;
	o.lease_duration_us = 10 * S;
	o.renew_deadline_us = 10 * S;
	assert_null(leader_new(NULL, l, &o));
	o.renew_deadline_us = 2 * S;
	o.retry_period_us = 2 * S;
	assert_null(leader_new(NULL, l, &o));
	o.identity = "";
	o.retry_period_us = 1 * S;
	assert_null(leader_new(NULL, l, &o));
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decide_no_lease_creates_it),
		cmocka_unit_test(test_decide_free_lease_is_acquired_with_a_transition),
		cmocka_unit_test(test_decide_own_lease_is_renewed_keeping_acquire_time),
		cmocka_unit_test(test_decide_live_lease_of_another_waits),
		cmocka_unit_test(test_decide_expires_on_local_observation_not_remote_clock),
		cmocka_unit_test(test_decide_uses_the_holders_lease_duration),
		cmocka_unit_test(test_decide_without_observation_waits),
		cmocka_unit_test(test_observe_unchanged_record_keeps_the_first_time),
		cmocka_unit_test(test_valid_until_renew_deadline),
		cmocka_unit_test(test_release_record_frees_the_lease),
		cmocka_unit_test(test_record_codec),
		cmocka_unit_test(test_record_codec_rejects_wrong_types),
		cmocka_unit_test(test_elector_creates_lease_and_leads),
		cmocka_unit_test(test_elector_renews_on_the_fast_path_with_resource_version),
		cmocka_unit_test(test_elector_loses_at_renew_deadline_when_renewals_hang),
		cmocka_unit_test(test_elector_flag_false_after_a_stall_even_before_timers_run),
		cmocka_unit_test(test_elector_steps_down_when_another_holds_the_lease),
		cmocka_unit_test(test_elector_acquires_an_expired_lease_with_its_resource_version),
		cmocka_unit_test(test_elector_release_empties_the_holder),
		cmocka_unit_test(test_elector_release_when_not_leading_completes_without_writing),
		cmocka_unit_test(test_write_gate_refuses_writes_unless_leading),
		cmocka_unit_test(test_elector_rejects_unsafe_timing),
	};

	return cmocka_run_group_tests_name("leader", tests, NULL, NULL);
}
