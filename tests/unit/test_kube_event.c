/* Unit tests for lib/kube_event.c through a scripted transport: the Event
 * object posted, aggregation of repeats into count/lastTimestamp patches
 * (one request in flight per aggregate), re-creation after the Event
 * expired, the per-object rate limit and its refill, the LRU bound,
 * message truncation, cluster-scoped objects, and errors.
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
#include <unistd.h>

#include "ironlb/kube.h"
#include "ironlb/kube_event.h"
#include "ironlb/loop.h"

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
	struct kube_event_recorder *rec;
	int errors;
	char last_error[512];
};

static void on_error(const struct kube_event_error *e, void *ud)
{
	struct env *env = ud;

	env->errors++;
	snprintf(env->last_error, sizeof(env->last_error), "%d %ld %s %s %s", e->err, e->code,
		 e->object, e->reason, e->message);
}

static struct env *env_new(struct kube_event_opts *o)
{
	struct env *e = calloc(1, sizeof(*e));
	struct kube_config cfg = { .server = "https://192.0.2.1:6443" };
	struct kube_event_opts opts = { .component = "ironlb-controller", .host = "node-1" };

	if (o)
		opts = *o;
	opts.on_error = on_error;
	opts.userdata = e;
	e->loop = loop_new();
	e->c = kube_client_new_transport(e->loop, &cfg, NULL, &fake_ops, &e->fake);
	e->rec = kube_event_recorder_new(e->c, e->loop, &opts);
	assert_non_null(e->rec);
	return e;
}

static void env_free(struct env *e)
{
	kube_event_recorder_free(e->rec);
	kube_client_free(e->c);
	loop_free(e->loop);
	free(e);
}

static struct kube_request *take(struct env *e)
{
	struct kube_request *r;

	if (e->fake.n == 0)
		return NULL;
	r = e->fake.q[0];
	memmove(&e->fake.q[0], &e->fake.q[1], (e->fake.n - 1) * sizeof(e->fake.q[0]));
	e->fake.n--;
	return r;
}

static json_t *body(struct kube_request *req)
{
	size_t len;
	const char *b = kube_request_body(req, &len);

	assert_non_null(b);
	return json_loadb(b, len, 0, NULL);
}

static void reply(struct kube_request *req, long code, const char *b)
{
	kube_transport_headers(req, code, 0, 2);
	if (b)
		kube_transport_data(req, b, strlen(b));
	kube_transport_end(req, 0, NULL);
}

static const struct kube_object_ref svc = {
	.api_version = "v1",
	.kind = "Service",
	.ns = "shop",
	.name = "web",
	.uid = "1111-2222",
	.resource_version = "77",
};

static const char *str(json_t *j, const char *a, const char *b)
{
	json_t *v = json_object_get(j, a);

	if (b)
		v = json_object_get(v, b);
	return json_string_value(v);
}

static void test_first_event_posts_a_complete_event(void **state)
{
	struct env *e = env_new(NULL);
	struct kube_request *req;
	json_t *ev;

	(void)state;
	assert_int_equal(kube_event_record(e->rec, &svc, KUBE_EVENT_WARNING, "AllocationFailed",
					   "no address left in pool default"),
			 0);
	req = take(e);
	assert_non_null(req);
	assert_string_equal(kube_request_method(req), "POST");
	assert_string_equal(kube_request_path(req), "/api/v1/namespaces/shop/events");
	ev = body(req);
	assert_string_equal(str(ev, "kind", NULL), "Event");
	assert_string_equal(str(ev, "metadata", "namespace"), "shop");
	assert_true(strncmp(str(ev, "metadata", "name"), "web.", 4) == 0);
	assert_string_equal(str(ev, "involvedObject", "kind"), "Service");
	assert_string_equal(str(ev, "involvedObject", "namespace"), "shop");
	assert_string_equal(str(ev, "involvedObject", "name"), "web");
	assert_string_equal(str(ev, "involvedObject", "uid"), "1111-2222");
	assert_string_equal(str(ev, "involvedObject", "apiVersion"), "v1");
	assert_string_equal(str(ev, "involvedObject", "resourceVersion"), "77");
	assert_string_equal(str(ev, "type", NULL), "Warning");
	assert_string_equal(str(ev, "reason", NULL), "AllocationFailed");
	assert_string_equal(str(ev, "message", NULL), "no address left in pool default");
	assert_string_equal(str(ev, "source", "component"), "ironlb-controller");
	assert_string_equal(str(ev, "source", "host"), "node-1");
	assert_string_equal(str(ev, "firstTimestamp", NULL), str(ev, "lastTimestamp", NULL));
	assert_int_equal(strlen(str(ev, "firstTimestamp", NULL)), 20);
	assert_int_equal(json_integer_value(json_object_get(ev, "count")), 1);
	json_decref(ev);
	reply(req, 201, "{}");
	env_free(e);
}

static void test_repeats_aggregate_into_one_event_with_a_count(void **state)
{
	struct env *e = env_new(NULL);
	struct kube_event_stats st;
	struct kube_request *req;
	char name[128];
	json_t *ev;

	(void)state;
	for (int i = 0; i < 5; i++)
		assert_int_equal(kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "IPAllocated",
						   "assigned 198.51.100.7"),
				 0);
	/* One POST in flight; the repeats wait for it. */
	assert_int_equal(e->fake.n, 1);
	req = take(e);
	ev = body(req);
	snprintf(name, sizeof(name), "%s", str(ev, "metadata", "name"));
	json_decref(ev);
	reply(req, 201, "{}");
	/* Then one PATCH carries all of them. */
	req = take(e);
	assert_non_null(req);
	assert_string_equal(kube_request_method(req), "PATCH");
	assert_string_equal(kube_request_content_type(req), KUBE_MERGE_PATCH);
	assert_non_null(strstr(kube_request_path(req), name));
	ev = body(req);
	assert_int_equal(json_integer_value(json_object_get(ev, "count")), 5);
	assert_non_null(json_object_get(ev, "lastTimestamp"));
	json_decref(ev);
	reply(req, 200, "{}");
	assert_null(take(e));
	/* A later repeat patches at once. */
	kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "IPAllocated", "assigned 198.51.100.7");
	req = take(e);
	ev = body(req);
	assert_int_equal(json_integer_value(json_object_get(ev, "count")), 6);
	json_decref(ev);
	reply(req, 200, "{}");
	kube_event_get_stats(e->rec, &st);
	assert_int_equal(st.posted, 1);
	assert_int_equal(st.patched, 2);
	assert_int_equal(st.aggregated, 5);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.in_flight, 0);
	env_free(e);
}

static void test_different_type_reason_message_or_object_are_separate(void **state)
{
	struct env *e = env_new(NULL);
	struct kube_object_ref other = svc;

	(void)state;
	other.uid = "3333";
	kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "R", "m");
	kube_event_record(e->rec, &svc, KUBE_EVENT_WARNING, "R", "m");
	kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "R2", "m");
	kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "R", "m2");
	kube_event_record(e->rec, &other, KUBE_EVENT_NORMAL, "R", "m");
	assert_int_equal(e->fake.n, 5);
	for (int i = 0; i < 5; i++)
		assert_string_equal(kube_request_method(e->fake.q[i]), "POST");
	env_free(e);
}

static void test_expired_event_is_created_again_with_the_count(void **state)
{
	struct env *e = env_new(NULL);
	struct kube_request *req;
	json_t *ev;

	(void)state;
	kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "R", "m");
	reply(take(e), 201, "{}");
	kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "R", "m");
	req = take(e);
	assert_string_equal(kube_request_method(req), "PATCH");
	reply(req, 404, "{\"kind\":\"Status\",\"code\":404,\"reason\":\"NotFound\"}");
	req = take(e);
	assert_non_null(req);
	assert_string_equal(kube_request_method(req), "POST");
	ev = body(req);
	assert_int_equal(json_integer_value(json_object_get(ev, "count")), 2);
	json_decref(ev);
	reply(req, 201, "{}");
	assert_int_equal(e->errors, 0);
	env_free(e);
}

/* One run of the rate-limit scenario, with one token coming back every
 * refill_us. Which answer a call must get depends on how long after the
 * object's first Event it runs, and a loaded machine stretches any sleep
 * or stalls between two calls: each expectation that depends on time is
 * asserted only when the clock readings taken around the call put it on
 * one side of the boundary. Returns false when a stall left a call
 * ambiguous (the caller runs the scenario again); every answer that is
 * determined is asserted. */
static bool rate_limit_run(uint64_t refill_us)
{
	struct kube_event_opts o = { .component = "c", .burst = 3, .refill_us = refill_us };
	struct env *e = env_new(&o);
	struct kube_object_ref other = svc;
	struct kube_event_stats st;
	uint64_t t0, t1, now;
	bool clean = false;
	int r;

	other.uid = "other";
	/* The bucket is created full (3 tokens) by the first Event, between
	 * t0 and t1; it holds 3 - spent + elapsed / refill_us tokens. */
	t0 = loop_now_us();
	assert_int_equal(kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "R", "m0"), 0);
	t1 = loop_now_us();
	for (int i = 1; i < 3; i++)
		assert_int_equal(kube_event_recordf(e->rec, &svc, KUBE_EVENT_NORMAL, "R", "m%d", i),
				 0);
	/* Burst spent: refused until a whole token has come back. */
	r = kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "R", "m9");
	if (loop_now_us() - t0 >= refill_us)
		goto out;
	assert_int_equal(r, -EBUSY);
	/* Repeats count against the object too. */
	r = kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "R", "m0");
	if (loop_now_us() - t0 >= refill_us)
		goto out;
	assert_int_equal(r, -EBUSY);
	/* Another object has its own bucket. */
	assert_int_equal(kube_event_record(e->rec, &other, KUBE_EVENT_NORMAL, "R", "m"), 0);
	/* However long the sleep lasts, one token is back once refill_us
	 * has passed since the bucket was created. */
	while ((now = loop_now_us()) < t1 + refill_us)
		usleep((useconds_t)(t1 + refill_us - now));
	assert_int_equal(kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "R", "m9"), 0);
	/* That token is spent: the next is refused until a second one. */
	r = kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "R", "m10");
	if (loop_now_us() - t0 >= 2 * refill_us)
		goto out;
	assert_int_equal(r, -EBUSY);
	kube_event_get_stats(e->rec, &st);
	assert_int_equal(st.rate_limited, 3);
	clean = true;
out:
	env_free(e);
	return clean;
}

static void test_rate_limit_per_object_with_refill(void **state)
{
	bool clean = false;

	(void)state;
	/* A run is ambiguous only if the process stalled for 100 ms between
	 * two calls; ten runs in a row that all stall mean something else. */
	for (int i = 0; i < 10 && !clean; i++)
		clean = rate_limit_run(100000);
	assert_true(clean);
}

static void test_memory_is_bounded_by_an_lru(void **state)
{
	struct kube_event_opts o = { .component = "c", .max_entries = 2 };
	struct env *e = env_new(&o);
	struct kube_event_stats st;
	struct kube_request *req;

	(void)state;
	kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "R", "a");
	reply(take(e), 201, "{}");
	kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "R", "b");
	reply(take(e), 201, "{}");
	/* Touch "a" so that "b" is the least recently used. */
	kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "R", "a");
	reply(take(e), 200, "{}");
	kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "R", "c");
	reply(take(e), 201, "{}");
	kube_event_get_stats(e->rec, &st);
	assert_int_equal(st.entries, 2);
	/* "b" was forgotten: a new Event. "a" is remembered: a patch. */
	kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "R", "b");
	req = take(e);
	assert_string_equal(kube_request_method(req), "POST");
	kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "R", "c");
	/* Evicting an aggregate with its request in flight (b's POST): */
	kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "R", "d");
	reply(req, 201, "{}");
	while ((req = take(e)))
		reply(req, 201, "{}");
	kube_event_get_stats(e->rec, &st);
	assert_int_equal(st.entries, 2);
	/* Free with requests still in flight, evicted ones included. */
	kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "R", "e");
	kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "R", "f");
	kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "R", "g");
	env_free(e);
}

static void test_message_cut_on_a_character_boundary(void **state)
{
	struct kube_event_opts o = { .component = "c", .max_message = 5 };
	struct env *e = env_new(&o);
	struct kube_request *req;
	json_t *ev;

	(void)state;
	kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "R", "abcd\xc3\xa9xyz");
	req = take(e);
	ev = body(req);
	assert_string_equal(str(ev, "message", NULL), "abcd");
	json_decref(ev);
	reply(req, 201, "{}");
	env_free(e);
}

static void test_cluster_scoped_objects_go_to_default(void **state)
{
	struct env *e = env_new(NULL);
	struct kube_object_ref node = { .kind = "Node", .name = "n1" };
	struct kube_request *req;
	json_t *ev;

	(void)state;
	assert_int_equal(kube_event_record(e->rec, &node, KUBE_EVENT_NORMAL, "R", NULL), 0);
	req = take(e);
	assert_string_equal(kube_request_path(req), "/api/v1/namespaces/default/events");
	ev = body(req);
	assert_null(json_object_get(json_object_get(ev, "involvedObject"), "namespace"));
	assert_null(json_object_get(json_object_get(ev, "involvedObject"), "uid"));
	assert_string_equal(str(ev, "message", NULL), "");
	json_decref(ev);
	reply(req, 201, "{}");
	env_free(e);
}

static void test_errors_are_reported_and_bad_calls_refused(void **state)
{
	struct env *e = env_new(NULL);
	struct kube_object_ref bad = { .kind = "Service" };

	(void)state;
	kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "R", "m");
	reply(take(e), 403,
	      "{\"kind\":\"Status\",\"code\":403,\"reason\":\"Forbidden\","
	      "\"message\":\"events is forbidden\"}");
	assert_int_equal(e->errors, 1);
	assert_non_null(strstr(e->last_error, "403 Service shop/web R events is forbidden"));
	/* Forgotten: the next one posts again. */
	kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "R", "m");
	assert_string_equal(kube_request_method(take(e)), "POST");
	assert_int_equal(kube_event_record(e->rec, &bad, KUBE_EVENT_NORMAL, "R", "m"), -EINVAL);
	assert_int_equal(kube_event_record(e->rec, &svc, KUBE_EVENT_NORMAL, "", "m"), -EINVAL);
	assert_int_equal(kube_event_record(e->rec, &svc, (enum kube_event_type)7, "R", "m"),
			 -EINVAL);
	assert_int_equal(kube_event_record(e->rec, NULL, KUBE_EVENT_NORMAL, "R", "m"), -EINVAL);
	{
		struct kube_event_opts none = { 0 };

		assert_null(kube_event_recorder_new(e->c, e->loop, &none));
	}
	env_free(e);
}

static void test_requests_beyond_max_in_flight_wait_in_order(void **state)
{
	struct kube_event_opts o = { .component = "ironlb-controller",
				     .max_in_flight = 2,
				     .max_entries = 2 };
	struct env *e = env_new(&o);
	struct kube_object_ref refs[5];
	char names[5][16], uids[5][16];
	struct kube_event_stats st;
	struct kube_request *req;
	json_t *ev;

	(void)state;
	for (int i = 0; i < 5; i++) {
		snprintf(names[i], sizeof(names[i]), "svc-%d", i);
		snprintf(uids[i], sizeof(uids[i]), "uid-%d", i);
		refs[i] = svc;
		refs[i].name = names[i];
		refs[i].uid = uids[i];
		assert_int_equal(kube_event_record(e->rec, &refs[i], KUBE_EVENT_NORMAL,
						   "IPAllocated", "Assigned IP"),
				 0);
	}
	/* Two requests out, three waiting; only two aggregates remembered,
	 * yet the waiting ones that fell out of the LRU are still sent. */
	assert_int_equal(e->fake.n, 2);
	kube_event_get_stats(e->rec, &st);
	assert_int_equal(st.in_flight, 2);
	assert_int_equal(st.waiting, 3);
	assert_int_equal(st.entries, 2);
	/* A repeat of a waiting Event costs no request: its POST carries it. */
	assert_int_equal(kube_event_record(e->rec, &refs[4], KUBE_EVENT_NORMAL, "IPAllocated",
					   "Assigned IP"),
			 0);
	assert_int_equal(e->fake.n, 2);
	for (int i = 0; i < 5; i++) {
		req = take(e);
		assert_non_null(req);
		assert_string_equal(kube_request_method(req), "POST");
		ev = body(req);
		assert_string_equal(str(ev, "involvedObject", "name"), names[i]);
		assert_int_equal(json_integer_value(json_object_get(ev, "count")), i == 4 ? 2 : 1);
		json_decref(ev);
		/* Each answer lets the next waiting Event go. */
		reply(req, 201, "{}");
		assert_int_equal(e->fake.n, i < 3 ? 2 : 4 - i);
	}
	kube_event_get_stats(e->rec, &st);
	assert_int_equal(st.posted, 5);
	assert_int_equal(st.waiting, 0);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(e->errors, 0);
	/* Waiting Events are dropped without leaks when the recorder goes. */
	for (int i = 0; i < 4; i++)
		kube_event_record(e->rec, &refs[i], KUBE_EVENT_WARNING, "X", "y");
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_event_posts_a_complete_event),
		cmocka_unit_test(test_repeats_aggregate_into_one_event_with_a_count),
		cmocka_unit_test(test_different_type_reason_message_or_object_are_separate),
		cmocka_unit_test(test_expired_event_is_created_again_with_the_count),
		cmocka_unit_test(test_rate_limit_per_object_with_refill),
		cmocka_unit_test(test_memory_is_bounded_by_an_lru),
		cmocka_unit_test(test_message_cut_on_a_character_boundary),
		cmocka_unit_test(test_cluster_scoped_objects_go_to_default),
		cmocka_unit_test(test_errors_are_reported_and_bad_calls_refused),
		cmocka_unit_test(test_requests_beyond_max_in_flight_wait_in_order),
	};

	return cmocka_run_group_tests_name("kube_event", tests, NULL, NULL);
}
