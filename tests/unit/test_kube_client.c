/* Unit tests for lib/kube_client.c and lib/kube_retry.c through a scripted
 * transport: how answers become results (Status reason and message, errno,
 * truncated or non-JSON bodies, transport errors), retries the server asks
 * for (429, Retry-After) and their bound, token reloads after a 401 and by
 * period, cancellation from any callback, streaming, request bodies of
 * patch/delete/update, the write gate, metrics, and the 409 retry helper.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ironlb/kube.h"
#include "ironlb/loop.h"
#include "ironlb/metrics.h"

/* ---- scripted transport ---- */

struct fake {
	struct kube_request *q[32];
	size_t n;
	unsigned started, stopped;
};

static int fake_start(struct kube_request *req, void *ctx)
{
	struct fake *f = ctx;

	assert_true(f->n < 32);
	f->q[f->n++] = req;
	f->started++;
	return 0;
}

static void fake_stop(struct kube_request *req, void *ctx)
{
	struct fake *f = ctx;

	f->stopped++;
	for (size_t i = 0; i < f->n; i++) {
		if (f->q[i] == req) {
			memmove(&f->q[i], &f->q[i + 1], (f->n - i - 1) * sizeof(f->q[0]));
			f->n--;
			return;
		}
	}
}

static const struct kube_transport_ops fake_ops = { fake_start, fake_stop, NULL };

struct done {
	int calls;
	int err;
	long code;
	char reason[64];
	char message[256];
	char body[1024];
	unsigned attempts;
	int http_version;
	struct kube_request *cancel_in_done;
};

static void on_done(const struct kube_result *res, void *ud)
{
	struct done *d = ud;
	char *s = res->body ? json_dumps(res->body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	d->calls++;
	d->err = res->err;
	d->code = res->code;
	d->attempts = res->attempts;
	d->http_version = res->http_version;
	snprintf(d->reason, sizeof(d->reason), "%s", res->reason);
	snprintf(d->message, sizeof(d->message), "%s", res->message);
	snprintf(d->body, sizeof(d->body), "%s", s ? s : "");
	free(s);
	if (d->cancel_in_done)
		kube_request_cancel(d->cancel_in_done);
}

struct env {
	struct loop *loop;
	struct fake fake;
	struct kube_client *c;
	struct metrics *metrics;
	char token_path[PATH_MAX];
};

static struct env *env_new_opts(const char *token_file_content, struct kube_client_opts *o)
{
	struct env *e = calloc(1, sizeof(*e));
	struct kube_config cfg = { .server = "https://192.0.2.1:6443", .token = "tok" };
	struct kube_client_opts opts = { 0 };

	if (o)
		opts = *o;
	if (token_file_content) {
		FILE *f;

		snprintf(e->token_path, sizeof(e->token_path), "/tmp/test_kube_client.%d.token",
			 (int)getpid());
		f = fopen(e->token_path, "w");
		fputs(token_file_content, f);
		fclose(f);
		cfg.token_file = e->token_path;
		cfg.token = (char *)token_file_content;
	}
	e->loop = loop_new();
	e->metrics = metrics_new();
	opts.metrics = e->metrics;
	if (!opts.max_retry_after_us)
		opts.max_retry_after_us = 5000;
	e->c = kube_client_new_transport(e->loop, &cfg, &opts, &fake_ops, &e->fake);
	assert_non_null(e->c);
	return e;
}

static struct env *env_new(void)
{
	return env_new_opts(NULL, NULL);
}

static void env_free(struct env *e)
{
	kube_client_free(e->c);
	metrics_free(e->metrics);
	loop_free(e->loop);
	if (e->token_path[0])
		unlink(e->token_path);
	free(e);
}

static struct kube_request *next_req(struct env *e, int max_ms)
{
	uint64_t end = loop_now_us() + (uint64_t)max_ms * 1000;
	struct kube_request *r;

	while (e->fake.n == 0 && loop_now_us() < end)
		loop_run_once(e->loop, 1);
	if (e->fake.n == 0)
		return NULL;
	r = e->fake.q[0];
	memmove(&e->fake.q[0], &e->fake.q[1], (e->fake.n - 1) * sizeof(e->fake.q[0]));
	e->fake.n--;
	return r;
}

static void reply_ra(struct kube_request *req, long code, unsigned retry_after, const char *body)
{
	kube_transport_headers(req, code, retry_after, 2);
	if (body)
		kube_transport_data(req, body, strlen(body));
	kube_transport_end(req, 0, NULL);
}

static void reply(struct kube_request *req, long code, const char *body)
{
	reply_ra(req, code, 0, body);
}

static const char *status(long code, const char *reason)
{
	static char buf[256];

	snprintf(buf, sizeof(buf),
		 "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"code\":%ld,"
		 "\"reason\":\"%s\",\"message\":\"it failed: %s\"}",
		 code, reason, reason);
	return buf;
}

/* ---- results ---- */

static void test_404_gives_reason_message_errno_and_status_body(void **state)
{
	struct env *e = env_new();
	struct done d = { 0 };
	struct kube_request *req;

	(void)state;
	assert_int_equal(kube_get(e->c, &KUBE_SERVICES, "default", "web", on_done, &d, NULL), 0);
	assert_int_equal(d.calls, 0);
	req = next_req(e, 100);
	assert_string_equal(kube_request_method(req), "GET");
	assert_string_equal(kube_request_url(req),
			    "https://192.0.2.1:6443/api/v1/namespaces/default/services/web");
	assert_string_equal(kube_request_token(req), "tok");
	assert_null(kube_request_body(req, NULL));
	assert_int_equal(kube_request_timeout_us(req), 30000000);
	reply(req, 404, status(404, "NotFound"));
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.err, -ENOENT);
	assert_int_equal(d.code, 404);
	assert_string_equal(d.reason, "NotFound");
	assert_string_equal(d.message, "it failed: NotFound");
	assert_non_null(strstr(d.body, "\"kind\":\"Status\""));
	assert_int_equal(d.http_version, 2);
	env_free(e);
}

static void test_bad_bodies_are_errors_not_crashes(void **state)
{
	static const struct {
		long code;
		const char *body;
		int err;
		const char *msg;
	} cases[] = {
		{ 200, "{\"kind\":\"Service\",\"metadata\":{\"name\":", -EBADMSG, "invalid JSON" },
		{ 200, "not json", -EBADMSG, "invalid JSON" },
		{ 200, "[1,2]", 0, "" },
		{ 201, "", 0, "" },
		{ 502, "<html><body>Bad gateway\n</body></html>", -EIO, "Bad gateway" },
		{ 500, "{\"kind\":\"Status\",\"reason\":7,\"message\":[]}", -EIO, "" },
		{ 409, "{\"kind\":\"Status\",\"reason\":\"AlreadyExists\"}", -EEXIST, "" },
		{ 409, "{\"kind\":\"Status\",\"reason\":\"Conflict\"}", -ESTALE, "" },
		{ 302, "", -EPROTO, "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct env *e = env_new();
		struct done d = { 0 };

		assert_int_equal(kube_get(e->c, &KUBE_NODES, NULL, "n1", on_done, &d, NULL), 0);
		reply(next_req(e, 100), cases[i].code, cases[i].body[0] ? cases[i].body : NULL);
		assert_int_equal(d.calls, 1);
		if (d.err != cases[i].err)
			fail_msg("case %zu: err %d, want %d", i, d.err, cases[i].err);
		if (!strstr(d.message, cases[i].msg))
			fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, d.message,
				 cases[i].msg);
		env_free(e);
	}
}

static void test_transport_errors_are_reported(void **state)
{
	struct env *e = env_new();
	struct done d = { 0 };
	struct kube_request *req;

	(void)state;
	kube_get(e->c, &KUBE_NODES, NULL, "n1", on_done, &d, NULL);
	req = next_req(e, 100);
	kube_transport_end(req, -ECONNREFUSED, "Failed to connect to 192.0.2.1 port 6443");
	assert_int_equal(d.err, -ECONNREFUSED);
	assert_int_equal(d.code, 0);
	assert_non_null(strstr(d.message, "Failed to connect"));
	/* Cut in the middle of the body. */
	kube_get(e->c, &KUBE_NODES, NULL, "n1", on_done, &d, NULL);
	req = next_req(e, 100);
	kube_transport_headers(req, 200, 0, 1);
	kube_transport_data(req, "{\"a\":", 5);
	kube_transport_end(req, -ECONNRESET, "connection reset");
	assert_int_equal(d.err, -ECONNRESET);
	assert_int_equal(d.code, 200);
	assert_string_equal(d.body, "");
	/* Ended without any answer. */
	kube_get(e->c, &KUBE_NODES, NULL, "n1", on_done, &d, NULL);
	kube_transport_end(next_req(e, 100), 0, NULL);
	assert_int_equal(d.err, -EPROTO);
	env_free(e);
}

static void test_errno_mapping(void **state)
{
	(void)state;
	assert_int_equal(kube_code_errno(200, NULL), 0);
	assert_int_equal(kube_code_errno(201, NULL), 0);
	assert_int_equal(kube_code_errno(400, NULL), -EINVAL);
	assert_int_equal(kube_code_errno(401, NULL), -EACCES);
	assert_int_equal(kube_code_errno(403, NULL), -EPERM);
	assert_int_equal(kube_code_errno(404, NULL), -ENOENT);
	assert_int_equal(kube_code_errno(409, NULL), -ESTALE);
	assert_int_equal(kube_code_errno(409, "AlreadyExists"), -EEXIST);
	assert_int_equal(kube_code_errno(410, "Expired"), -ETIME);
	assert_int_equal(kube_code_errno(422, NULL), -EINVAL);
	assert_int_equal(kube_code_errno(429, NULL), -EBUSY);
	assert_int_equal(kube_code_errno(500, NULL), -EIO);
	assert_int_equal(kube_code_errno(503, NULL), -EAGAIN);
	assert_int_equal(kube_code_errno(504, NULL), -ETIMEDOUT);
	assert_int_equal(kube_code_errno(599, NULL), -EIO);
	assert_int_equal(kube_code_errno(418, NULL), -EINVAL);
}

/* ---- retries ---- */

static void test_429_is_retried_and_the_retries_are_bounded(void **state)
{
	struct kube_client_opts o = { .max_retries = 2 };
	struct env *e = env_new_opts(NULL, &o);
	struct kube_client_stats st;
	struct done d = { 0 };

	(void)state;
	kube_get(e->c, &KUBE_NODES, NULL, "n1", on_done, &d, NULL);
	reply_ra(next_req(e, 100), 429, 1, status(429, "TooManyRequests"));
	assert_int_equal(d.calls, 0);
	reply(next_req(e, 1000), 200, "{\"kind\":\"Node\"}");
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.err, 0);
	assert_int_equal(d.attempts, 2);
	/* Three 429s: the last one is the answer. */
	kube_get(e->c, &KUBE_NODES, NULL, "n1", on_done, &d, NULL);
	for (int i = 0; i < 3; i++)
		reply_ra(next_req(e, 1000), 429, 0, status(429, "TooManyRequests"));
	assert_int_equal(d.calls, 2);
	assert_int_equal(d.err, -EBUSY);
	assert_int_equal(d.attempts, 3);
	assert_null(next_req(e, 20));
	/* 5xx only with Retry-After. */
	kube_get(e->c, &KUBE_NODES, NULL, "n1", on_done, &d, NULL);
	reply(next_req(e, 100), 503, status(503, "ServiceUnavailable"));
	assert_int_equal(d.calls, 3);
	assert_int_equal(d.err, -EAGAIN);
	kube_get(e->c, &KUBE_NODES, NULL, "n1", on_done, &d, NULL);
	reply_ra(next_req(e, 100), 503, 2, status(503, "ServiceUnavailable"));
	reply(next_req(e, 1000), 200, "{}");
	assert_int_equal(d.calls, 4);
	assert_int_equal(d.err, 0);
	kube_client_get_stats(e->c, &st);
	assert_int_equal(st.retries, 4);
	assert_int_equal(st.requests, 8);
	assert_int_equal(st.in_flight, 0);
	env_free(e);
}

static void write_token(struct env *e, const char *t)
{
	FILE *f = fopen(e->token_path, "w");

	fputs(t, f);
	fclose(f);
}

static void test_401_rereads_a_rotated_token_and_retries_once(void **state)
{
	struct env *e = env_new_opts("old", NULL);
	struct kube_request *req;
	struct done d = { 0 };

	(void)state;
	kube_get(e->c, &KUBE_NODES, NULL, "n1", on_done, &d, NULL);
	req = next_req(e, 100);
	assert_string_equal(kube_request_token(req), "old");
	write_token(e, "new\n");
	reply(req, 401, status(401, "Unauthorized"));
	req = next_req(e, 100);
	assert_non_null(req);
	assert_string_equal(kube_request_token(req), "new");
	reply(req, 200, "{}");
	assert_int_equal(d.err, 0);
	assert_int_equal(d.attempts, 2);
	/* Unchanged file: the 401 is final. */
	kube_get(e->c, &KUBE_NODES, NULL, "n1", on_done, &d, NULL);
	reply(next_req(e, 100), 401, status(401, "Unauthorized"));
	assert_int_equal(d.calls, 2);
	assert_int_equal(d.err, -EACCES);
	assert_string_equal(d.reason, "Unauthorized");
	assert_null(next_req(e, 20));
	env_free(e);
}

static void test_token_file_is_reread_periodically(void **state)
{
	struct kube_client_opts o = { .token_reload_us = 1000 };
	struct env *e = env_new_opts("first", &o);
	struct kube_request *req;
	struct done d = { 0 };

	(void)state;
	write_token(e, "second");
	usleep(2000);
	kube_get(e->c, &KUBE_NODES, NULL, "n1", on_done, &d, NULL);
	req = next_req(e, 100);
	assert_string_equal(kube_request_token(req), "second");
	/* A file that became unreadable keeps the last good token. */
	unlink(e->token_path);
	usleep(2000);
	reply(req, 200, "{}");
	kube_get(e->c, &KUBE_NODES, NULL, "n1", on_done, &d, NULL);
	req = next_req(e, 100);
	assert_string_equal(kube_request_token(req), "second");
	reply(req, 200, "{}");
	env_free(e);
}

/* ---- cancellation and streaming ---- */

static void test_cancel_before_and_during_callbacks(void **state)
{
	struct env *e = env_new();
	struct kube_request *r1 = NULL, *r2 = NULL;
	struct done d1 = { 0 }, d2 = { 0 };

	(void)state;
	kube_get(e->c, &KUBE_NODES, NULL, "a", on_done, &d1, &r1);
	kube_get(e->c, &KUBE_NODES, NULL, "b", on_done, &d2, &r2);
	kube_request_cancel(r1);
	assert_int_equal(e->fake.stopped, 1);
	/* Cancelling itself from its own done callback is harmless. */
	d2.cancel_in_done = r2;
	reply(next_req(e, 100), 200, "{}");
	assert_int_equal(d1.calls, 0);
	assert_int_equal(d2.calls, 1);
	kube_request_cancel(NULL);
	env_free(e);
}

struct stream {
	char data[256];
	int fail_after;
	int calls;
	struct kube_request *req;
	bool cancel;
};

static int on_data(const char *data, size_t len, void *ud)
{
	struct stream *s = ud;

	s->calls++;
	strncat(s->data, data, len);
	if (s->cancel) {
		kube_request_cancel(s->req);
		return 0;
	}
	if (s->fail_after && s->calls >= s->fail_after)
		return -EBADMSG;
	return 0;
}

static void on_stream_done(const struct kube_result *res, void *ud)
{
	struct stream *s = ud;

	snprintf(s->data + strlen(s->data), sizeof(s->data) - strlen(s->data), "|done %d %ld",
		 res->err, res->code);
}

static void test_stream_passes_2xx_data_and_buffers_errors(void **state)
{
	struct env *e = env_new();
	struct kube_list_opts lo = { .resource_version = "5", .timeout_s = 10 };
	struct stream s = { 0 };
	struct kube_request *req;

	(void)state;
	assert_int_equal(
		kube_watch(e->c, &KUBE_SERVICES, "ns", &lo, on_data, on_stream_done, &s, NULL), 0);
	req = next_req(e, 100);
	assert_string_equal(kube_request_path(req),
			    "/api/v1/namespaces/ns/services?watch=1&resourceVersion=5&"
			    "timeoutSeconds=10");
	assert_true(kube_request_streaming(req));
	/* Client-side timeout: the server's plus a grace period. */
	assert_true(kube_request_timeout_us(req) > 10000000);
	kube_transport_headers(req, 200, 0, 2);
	assert_int_equal(kube_transport_data(req, "ab", 2), 0);
	assert_int_equal(kube_transport_data(req, "cd", 2), 0);
	kube_transport_end(req, 0, NULL);
	assert_string_equal(s.data, "abcd|done 0 200");
	/* A 410 answer is not stream data. */
	memset(&s, 0, sizeof(s));
	kube_watch(e->c, &KUBE_SERVICES, "ns", &lo, on_data, on_stream_done, &s, NULL);
	reply(next_req(e, 100), 410, status(410, "Expired"));
	assert_int_equal(s.calls, 0);
	assert_string_equal(s.data, "|done -62 410");
	env_free(e);
}

static void test_stream_callback_can_stop_or_cancel_the_request(void **state)
{
	struct env *e = env_new();
	struct stream s = { .fail_after = 2 };
	struct kube_request *req;

	(void)state;
	kube_watch(e->c, &KUBE_SERVICES, NULL, NULL, on_data, on_stream_done, &s, NULL);
	req = next_req(e, 100);
	kube_transport_headers(req, 200, 0, 2);
	assert_int_equal(kube_transport_data(req, "a", 1), 0);
	assert_int_equal(kube_transport_data(req, "b", 1), -EBADMSG);
	kube_transport_end(req, -ECANCELED, NULL);
	assert_string_equal(s.data, "ab|done -74 200");
	/* Cancelled from inside its own data callback: no done, no leak. */
	memset(&s, 0, sizeof(s));
	s.cancel = true;
	kube_watch(e->c, &KUBE_SERVICES, NULL, NULL, on_data, on_stream_done, &s, &s.req);
	req = next_req(e, 100);
	kube_transport_headers(req, 200, 0, 2);
	assert_true(kube_transport_data(req, "x", 1) < 0);
	assert_string_equal(s.data, "x");
	assert_int_equal(e->fake.stopped, 1);
	env_free(e);
}

/* ---- request bodies ---- */

static json_t *body_json(struct kube_request *req)
{
	size_t len;
	const char *b = kube_request_body(req, &len);

	assert_non_null(b);
	return json_loadb(b, len, 0, NULL);
}

static void test_patch_with_resource_version_precondition(void **state)
{
	struct env *e = env_new();
	json_t *patch = json_pack("{s:{s:{s:s}}, s:{s:{s:[{s:s}]}}}", "metadata", "labels", "a",
				  "b", "status", "loadBalancer", "ingress", "ip", "198.51.100.7");
	struct kube_request *req;
	struct done d = { 0 };
	json_t *sent;

	(void)state;
	assert_int_equal(kube_patch(e->c, &KUBE_SERVICES, "ns", "web", "status", patch, "42",
				    on_done, &d, NULL),
			 0);
	/* The caller's patch is not modified. */
	assert_null(json_object_get(json_object_get(patch, "metadata"), "resourceVersion"));
	req = next_req(e, 100);
	assert_string_equal(kube_request_method(req), "PATCH");
	assert_string_equal(kube_request_path(req), "/api/v1/namespaces/ns/services/web/status");
	assert_string_equal(kube_request_content_type(req), KUBE_MERGE_PATCH);
	sent = body_json(req);
	assert_string_equal(json_string_value(json_object_get(json_object_get(sent, "metadata"),
							      "resourceVersion")),
			    "42");
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(sent, "metadata"), "labels"), "a")),
		"b");
	assert_non_null(json_object_get(sent, "status"));
	json_decref(sent);
	reply(req, 409, status(409, "Conflict"));
	assert_int_equal(d.err, -ESTALE);
	json_decref(patch);
	env_free(e);
}

static void test_delete_update_create_shapes(void **state)
{
	struct env *e = env_new();
	struct kube_request *req;
	struct done d = { 0 };
	json_t *obj, *sent;

	(void)state;
	kube_delete(e->c, &KUBE_SERVICES, "ns", "web", "7", on_done, &d, NULL);
	req = next_req(e, 100);
	assert_string_equal(kube_request_method(req), "DELETE");
	sent = body_json(req);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(sent, "preconditions"), "resourceVersion")),
			    "7");
	json_decref(sent);
	reply(req, 200, "{}");
	kube_delete(e->c, &KUBE_SERVICES, "ns", "web", NULL, on_done, &d, NULL);
	req = next_req(e, 100);
	assert_null(kube_request_body(req, NULL));
	reply(req, 200, "{}");

	obj = json_pack("{s:{s:s, s:s, s:s}}", "metadata", "namespace", "ns", "name", "web",
			"resourceVersion", "9");
	assert_int_equal(kube_update(e->c, &KUBE_SERVICES, obj, "status", on_done, &d, NULL), 0);
	req = next_req(e, 100);
	assert_string_equal(kube_request_method(req), "PUT");
	assert_string_equal(kube_request_path(req), "/api/v1/namespaces/ns/services/web/status");
	assert_string_equal(kube_request_content_type(req), "application/json");
	reply(req, 200, "{}");
	assert_int_equal(kube_create(e->c, &KUBE_SERVICES, "ns", obj, on_done, &d, NULL), 0);
	req = next_req(e, 100);
	assert_string_equal(kube_request_method(req), "POST");
	assert_string_equal(kube_request_path(req), "/api/v1/namespaces/ns/services");
	reply(req, 201, "{}");
	json_decref(obj);

	/* Bad calls fail at once, without a callback. */
	obj = json_pack("{s:{}}", "metadata");
	assert_int_equal(kube_update(e->c, &KUBE_SERVICES, obj, NULL, on_done, &d, NULL), -EINVAL);
	assert_int_equal(kube_create(e->c, &KUBE_SERVICES, NULL, obj, on_done, &d, NULL), -EINVAL);
	assert_int_equal(kube_get(e->c, &KUBE_SERVICES, "ns", "", on_done, &d, NULL), -EINVAL);
	assert_int_equal(kube_get(e->c, &KUBE_SERVICES, NULL, "x", on_done, &d, NULL), -EINVAL);
	{
		struct kube_call call = { .method = "GET", .raw_path = "version" };

		assert_int_equal(kube_submit(e->c, &call, on_done, &d, NULL), -EINVAL);
		call.raw_path = "/version";
		assert_int_equal(kube_submit(e->c, &call, on_done, &d, NULL), 0);
		req = next_req(e, 100);
		assert_string_equal(kube_request_url(req), "https://192.0.2.1:6443/version");
		reply(req, 200, "{\"major\":\"1\"}");
	}
	json_decref(obj);
	assert_int_equal(d.calls, 5);
	env_free(e);
}

static bool deny(void *ud)
{
	(void)ud;
	return false;
}

static void test_write_gate(void **state)
{
	struct env *e = env_new();
	json_t *patch = json_pack("{s:i}", "a", 1);
	struct kube_call call = { .method = "PATCH",
				  .res = &KUBE_SERVICES,
				  .ns = "ns",
				  .name = "x",
				  .body = patch,
				  .bypass_gate = true };
	struct done d = { 0 };

	(void)state;
	kube_client_set_write_gate(e->c, deny, NULL);
	assert_int_equal(
		kube_patch(e->c, &KUBE_SERVICES, "ns", "x", NULL, patch, NULL, on_done, &d, NULL),
		-EPERM);
	assert_int_equal(kube_delete(e->c, &KUBE_SERVICES, "ns", "x", NULL, on_done, &d, NULL),
			 -EPERM);
	assert_int_equal(kube_submit(e->c, &call, on_done, &d, NULL), 0);
	assert_int_equal(kube_get(e->c, &KUBE_SERVICES, "ns", "x", on_done, &d, NULL), 0);
	json_decref(patch);
	env_free(e);
}

static void test_metrics_count_by_verb_and_code(void **state)
{
	struct env *e = env_new();
	struct done d = { 0 };
	struct metrics *m2 = e->metrics;
	char *text;
	size_t len;

	(void)state;
	kube_get(e->c, &KUBE_NODES, NULL, "n1", on_done, &d, NULL);
	reply(next_req(e, 100), 404, status(404, "NotFound"));
	kube_list(e->c, &KUBE_NODES, NULL, NULL, on_done, &d, NULL);
	reply(next_req(e, 100), 200, "{\"items\":[]}");
	kube_get(e->c, &KUBE_NODES, NULL, "n1", on_done, &d, NULL);
	kube_transport_end(next_req(e, 100), -ETIMEDOUT, "timeout");
	assert_int_equal(metrics_render(m2, &text, &len), 0);
	assert_non_null(strstr(text, "ironlb_kube_requests_total{verb=\"GET\",code=\"404\"} 1"));
	assert_non_null(strstr(text, "ironlb_kube_requests_total{verb=\"LIST\",code=\"200\"} 1"));
	assert_non_null(
		strstr(text, "ironlb_kube_requests_total{verb=\"GET\",code=\"<error>\"} 1"));
	assert_non_null(strstr(text, "ironlb_kube_request_duration_seconds_count{verb=\"GET\"} 2"));
	free(text);
	/* One client per registry: a second registration is refused. */
	{
		struct kube_client_opts o = { .metrics = m2 };
		struct kube_config cfg = { .server = "https://h" };

		assert_null(kube_client_new_transport(e->loop, &cfg, &o, &fake_ops, &e->fake));
		assert_int_equal(errno, EEXIST);
	}
	env_free(e);
}

/* ---- 409 retry helper ---- */

struct mut {
	int calls;
	int ret;
	struct kube_retry *cancel;
};

static int mutate(json_t *obj, void *ud)
{
	struct mut *m = ud;
	json_t *md = json_object_get(obj, "metadata");

	m->calls++;
	if (m->cancel)
		kube_retry_cancel(m->cancel);
	if (m->ret)
		return m->ret;
	json_object_set_new(md, "labels", json_pack("{s:i}", "n", m->calls));
	return 0;
}

static struct done retry_done;
static struct mut retry_mut;

static void on_retry_done(const struct kube_result *res, void *ud)
{
	(void)ud;
	on_done(res, &retry_done);
}

static int retry_mutate(json_t *obj, void *ud)
{
	(void)ud;
	return mutate(obj, &retry_mut);
}

static void obj_reply(struct kube_request *req, long code, const char *rv)
{
	char buf[256];

	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"web\",\"resourceVersion\":\"%s\"},"
		 "\"spec\":{}}",
		 rv);
	reply(req, code, buf);
}

static void test_update_retry_rereads_after_conflict(void **state)
{
	struct env *e = env_new();
	struct kube_request *req;
	json_t *sent;

	(void)state;
	memset(&retry_done, 0, sizeof(retry_done));
	memset(&retry_mut, 0, sizeof(retry_mut));
	assert_int_equal(kube_update_retry(e->c, &KUBE_SERVICES, "ns", "web", "status", 3,
					   retry_mutate, on_retry_done, NULL, NULL),
			 0);
	req = next_req(e, 100);
	assert_string_equal(kube_request_method(req), "GET");
	assert_string_equal(kube_request_path(req), "/api/v1/namespaces/ns/services/web");
	obj_reply(req, 200, "5");
	req = next_req(e, 100);
	assert_string_equal(kube_request_method(req), "PUT");
	assert_string_equal(kube_request_path(req), "/api/v1/namespaces/ns/services/web/status");
	sent = body_json(req);
	/* The precondition is the version read. */
	assert_string_equal(json_string_value(json_object_get(json_object_get(sent, "metadata"),
							      "resourceVersion")),
			    "5");
	json_decref(sent);
	reply(req, 409, status(409, "Conflict"));
	assert_int_equal(retry_done.calls, 0);
	/* Read again, mutate the fresh copy, write with its version. */
	req = next_req(e, 100);
	assert_string_equal(kube_request_method(req), "GET");
	obj_reply(req, 200, "8");
	req = next_req(e, 100);
	sent = body_json(req);
	assert_string_equal(json_string_value(json_object_get(json_object_get(sent, "metadata"),
							      "resourceVersion")),
			    "8");
	assert_int_equal(
		json_integer_value(json_object_get(
			json_object_get(json_object_get(sent, "metadata"), "labels"), "n")),
		2);
	json_decref(sent);
	obj_reply(req, 200, "9");
	assert_int_equal(retry_done.calls, 1);
	assert_int_equal(retry_done.err, 0);
	assert_int_equal(retry_done.attempts, 2);
	assert_int_equal(retry_mut.calls, 2);
	env_free(e);
}

static void test_update_retry_gives_up_after_max_attempts(void **state)
{
	struct env *e = env_new();

	(void)state;
	memset(&retry_done, 0, sizeof(retry_done));
	memset(&retry_mut, 0, sizeof(retry_mut));
	kube_update_retry(e->c, &KUBE_SERVICES, "ns", "web", NULL, 3, retry_mutate, on_retry_done,
			  NULL, NULL);
	for (int i = 0; i < 3; i++) {
		obj_reply(next_req(e, 100), 200, "5");
		reply(next_req(e, 100), 409, status(409, "Conflict"));
	}
	assert_null(next_req(e, 10));
	assert_int_equal(retry_done.calls, 1);
	assert_int_equal(retry_done.err, -ESTALE);
	assert_int_equal(retry_done.code, 409);
	assert_int_equal(retry_done.attempts, 3);
	env_free(e);
}

static void test_update_retry_no_change_error_and_not_found(void **state)
{
	struct env *e = env_new();

	(void)state;
	/* Nothing to change: no PUT. */
	memset(&retry_done, 0, sizeof(retry_done));
	memset(&retry_mut, 0, sizeof(retry_mut));
	retry_mut.ret = KUBE_NO_CHANGE;
	kube_update_retry(e->c, &KUBE_SERVICES, "ns", "web", NULL, 0, retry_mutate, on_retry_done,
			  NULL, NULL);
	obj_reply(next_req(e, 100), 200, "5");
	assert_int_equal(retry_done.calls, 1);
	assert_int_equal(retry_done.err, 0);
	assert_int_equal(retry_done.attempts, 0);
	assert_null(next_req(e, 10));
	/* The mutation fails. */
	retry_mut.ret = -ERANGE;
	kube_update_retry(e->c, &KUBE_SERVICES, "ns", "web", NULL, 0, retry_mutate, on_retry_done,
			  NULL, NULL);
	obj_reply(next_req(e, 100), 200, "5");
	assert_int_equal(retry_done.calls, 2);
	assert_int_equal(retry_done.err, -ERANGE);
	assert_null(next_req(e, 10));
	/* Gone. */
	retry_mut.ret = 0;
	kube_update_retry(e->c, &KUBE_SERVICES, "ns", "web", NULL, 0, retry_mutate, on_retry_done,
			  NULL, NULL);
	reply(next_req(e, 100), 404, status(404, "NotFound"));
	assert_int_equal(retry_done.calls, 3);
	assert_int_equal(retry_done.err, -ENOENT);
	assert_int_equal(retry_mut.calls, 2);
	env_free(e);
}

static void test_update_retry_cancel(void **state)
{
	struct env *e = env_new();
	struct kube_retry *op = NULL;

	(void)state;
	memset(&retry_done, 0, sizeof(retry_done));
	memset(&retry_mut, 0, sizeof(retry_mut));
	kube_update_retry(e->c, &KUBE_SERVICES, "ns", "web", NULL, 0, retry_mutate, on_retry_done,
			  NULL, &op);
	kube_retry_cancel(op);
	assert_null(next_req(e, 10));
	/* From inside mutate. */
	kube_update_retry(e->c, &KUBE_SERVICES, "ns", "web", NULL, 0, retry_mutate, on_retry_done,
			  NULL, &retry_mut.cancel);
	obj_reply(next_req(e, 100), 200, "5");
	assert_null(next_req(e, 10));
	assert_int_equal(retry_done.calls, 0);
	env_free(e);
}

/* ---- queued requests ---- */

static int submit_q(struct env *e, enum kube_queue q, const char *name, struct done *d,
		    struct kube_request **ret)
{
	struct kube_call call = {
		.method = "GET", .res = &KUBE_SERVICES, .ns = "ns", .name = name, .queue = q
	};

	return kube_submit(e->c, &call, on_done, d, ret);
}

static const char *req_name(struct kube_request *r)
{
	const char *p = strrchr(kube_request_path(r), '/');

	return p ? p + 1 : "";
}

static void test_queued_requests_wait_for_a_slot_in_order(void **state)
{
	struct kube_client_opts o = { .max_in_flight = 2 };
	struct env *e = env_new_opts(NULL, &o);
	struct done d[7] = { 0 };
	struct kube_request *cancel_me = NULL, *r;
	struct kube_client_stats st;

	assert_int_equal(submit_q(e, KUBE_QUEUE_BACKGROUND, "b1", &d[0], NULL), 0);
	assert_int_equal(submit_q(e, KUBE_QUEUE_NORMAL, "n1", &d[1], NULL), 0);
	assert_int_equal(submit_q(e, KUBE_QUEUE_NORMAL, "n2", &d[2], NULL), 0);
	assert_int_equal(submit_q(e, KUBE_QUEUE_BACKGROUND, "b2", &d[3], NULL), 0);
	assert_int_equal(submit_q(e, KUBE_QUEUE_NORMAL, "n3", &d[4], &cancel_me), 0);
	assert_int_equal(submit_q(e, KUBE_QUEUE_NORMAL, "n4", &d[5], NULL), 0);
	/* A request of the default class never waits. */
	assert_int_equal(submit_q(e, KUBE_QUEUE_NONE, "now", &d[6], NULL), 0);
	assert_int_equal(e->fake.started, 3);
	kube_client_get_stats(e->c, &st);
	assert_int_equal(st.queued, 4);
	assert_int_equal(st.max_queued, 4);
	assert_int_equal(st.in_flight, 7);
	/* A queued request cancelled: no callback, nothing sent. */
	kube_request_cancel(cancel_me);
	assert_int_equal(e->fake.started, 3);

	/* Each answer frees a slot: the normal FIFO first, in order. */
	r = next_req(e, 10);
	assert_string_equal(req_name(r), "b1");
	reply(r, 200, "{}");
	assert_int_equal(d[0].calls, 1);
	assert_int_equal(e->fake.started, 3); /* "now" still holds a second slot */
	r = next_req(e, 10);
	assert_string_equal(req_name(r), "n1");
	reply(r, 200, "{}");
	r = next_req(e, 10);
	assert_string_equal(req_name(r), "now");
	reply(r, 200, "{}");
	assert_int_equal(e->fake.started, 5);
	r = next_req(e, 10);
	assert_string_equal(req_name(r), "n2");
	reply(r, 200, "{}");
	r = next_req(e, 10);
	assert_string_equal(req_name(r), "n4");
	reply(r, 200, "{}");
	r = next_req(e, 10);
	assert_string_equal(req_name(r), "b2");
	reply(r, 200, "{}");
	assert_null(next_req(e, 1));
	for (int i = 0; i < 7; i++)
		assert_int_equal(d[i].calls, i == 4 ? 0 : 1);
	kube_client_get_stats(e->c, &st);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.in_flight, 0);
	env_free(e);
}

static void test_queued_retry_goes_first_and_free_cancels_the_queue(void **state)
{
	struct kube_client_opts o = { .max_in_flight = 1 };
	struct env *e = env_new_opts(NULL, &o);
	struct done d[3] = { 0 };
	struct kube_request *r;

	assert_int_equal(submit_q(e, KUBE_QUEUE_NORMAL, "a", &d[0], NULL), 0);
	assert_int_equal(submit_q(e, KUBE_QUEUE_NORMAL, "b", &d[1], NULL), 0);
	assert_int_equal(submit_q(e, KUBE_QUEUE_NORMAL, "c", &d[2], NULL), 0);
	r = next_req(e, 10);
	assert_string_equal(req_name(r), "a");
	/* 429: the slot goes to "b" meanwhile, and the retry of "a" comes
	 * before "c". */
	reply_ra(r, 429, 0, status(429, "TooManyRequests"));
	r = next_req(e, 10);
	assert_string_equal(req_name(r), "b");
	/* The retry comes due (5 ms) while "b" holds the only slot. */
	for (uint64_t end = loop_now_us() + 30000; loop_now_us() < end;)
		loop_run_once(e->loop, 5);
	assert_int_equal(e->fake.n, 0);
	reply(r, 200, "{}");
	r = next_req(e, 100);
	assert_non_null(r);
	assert_string_equal(req_name(r), "a");
	reply(r, 200, "{}");
	assert_int_equal(d[0].calls, 1);
	assert_int_equal(d[0].attempts, 2);
	r = next_req(e, 10);
	assert_string_equal(req_name(r), "c");
	/* Freeing the client with "c" in flight and nothing queued. */
	assert_int_equal(submit_q(e, KUBE_QUEUE_BACKGROUND, "d", &d[2], NULL), 0);
	env_free(e); /* no callbacks, no leaks (LSan) */
	assert_int_equal(d[2].calls, 0);
}

static void test_discard_body_keeps_errors(void **state)
{
	struct env *e = env_new();
	struct done d = { 0 };
	struct kube_call call = {
		.method = "PATCH",
		.res = &KUBE_SERVICES,
		.ns = "ns",
		.name = "x",
		.body = NULL,
		.discard_body = true,
	};
	json_t *patch = json_pack("{s:i}", "a", 1);

	call.body = patch;
	call.content_type = KUBE_MERGE_PATCH;
	assert_int_equal(kube_submit(e->c, &call, on_done, &d, NULL), 0);
	struct kube_request *r = next_req(e, 10);
	assert_string_equal(kube_request_content_type(r), KUBE_MERGE_PATCH);
	assert_string_equal(kube_request_body(r, NULL), "{\"a\":1}");
	reply(r, 200, "{\"kind\":\"Service\"}");
	assert_int_equal(d.err, 0);
	assert_string_equal(d.body, "");
	assert_int_equal(kube_submit(e->c, &call, on_done, &d, NULL), 0);
	reply(next_req(e, 10), 404, status(404, "NotFound"));
	assert_int_equal(d.err, -ENOENT);
	assert_string_equal(d.reason, "NotFound");
	json_decref(patch);
	env_free(e);
}

static bool gate_flag(void *ud)
{
	return *(bool *)ud;
}

static void test_queued_write_meets_the_gate_when_it_starts(void **state)
{
	struct kube_client_opts o = { .max_in_flight = 1 };
	struct env *e = env_new_opts(NULL, &o);
	struct done d[2] = { 0 };
	bool open = true;
	json_t *patch = json_pack("{s:i}", "a", 1);
	struct kube_call call = { .method = "PATCH",
				  .res = &KUBE_SERVICES,
				  .ns = "ns",
				  .name = "x",
				  .body = patch,
				  .content_type = KUBE_MERGE_PATCH,
				  .queue = KUBE_QUEUE_NORMAL };
	struct kube_request *r;

	kube_client_set_write_gate(e->c, gate_flag, &open);
	assert_int_equal(kube_submit(e->c, &call, on_done, &d[0], NULL), 0);
	assert_int_equal(kube_submit(e->c, &call, on_done, &d[1], NULL), 0);
	assert_int_equal(e->fake.started, 1);
	/* Leadership ends while the second waits: it never goes out. */
	open = false;
	r = next_req(e, 10);
	reply(r, 200, "{}");
	assert_int_equal(d[0].err, 0);
	assert_int_equal(d[1].calls, 1);
	assert_int_equal(d[1].err, -EPERM);
	assert_int_equal(e->fake.started, 1);
	json_decref(patch);
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_404_gives_reason_message_errno_and_status_body),
		cmocka_unit_test(test_bad_bodies_are_errors_not_crashes),
		cmocka_unit_test(test_transport_errors_are_reported),
		cmocka_unit_test(test_errno_mapping),
		cmocka_unit_test(test_429_is_retried_and_the_retries_are_bounded),
		cmocka_unit_test(test_401_rereads_a_rotated_token_and_retries_once),
		cmocka_unit_test(test_token_file_is_reread_periodically),
		cmocka_unit_test(test_cancel_before_and_during_callbacks),
		cmocka_unit_test(test_stream_passes_2xx_data_and_buffers_errors),
		cmocka_unit_test(test_stream_callback_can_stop_or_cancel_the_request),
		cmocka_unit_test(test_patch_with_resource_version_precondition),
		cmocka_unit_test(test_delete_update_create_shapes),
		cmocka_unit_test(test_write_gate),
		cmocka_unit_test(test_metrics_count_by_verb_and_code),
		cmocka_unit_test(test_update_retry_rereads_after_conflict),
		cmocka_unit_test(test_update_retry_gives_up_after_max_attempts),
		cmocka_unit_test(test_update_retry_no_change_error_and_not_found),
		cmocka_unit_test(test_update_retry_cancel),
		cmocka_unit_test(test_queued_requests_wait_for_a_slot_in_order),
		cmocka_unit_test(test_queued_retry_goes_first_and_free_cancels_the_queue),
		cmocka_unit_test(test_discard_body_keeps_errors),
		cmocka_unit_test(test_queued_write_meets_the_gate_when_it_starts),
	};

	return cmocka_run_group_tests_name("kube_client", tests, NULL, NULL);
}
