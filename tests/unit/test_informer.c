/* Unit tests for lib/informer.c, driven through a scripted transport: the
 * informer is the real one, the API server is the test. Covered: paginated
 * list and synced, watch from the list's resourceVersion, events split at
 * every possible chunk boundary, relist after 410 (ERROR event and HTTP
 * status) delivering the diff including deletions, garbage and oversized
 * lines, clean watch ends, transport errors and backoff, expired continue
 * tokens, decode failures and skips, and secondary indexes.
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

#include "ironlb/informer.h"
#include "ironlb/kube.h"
#include "ironlb/loop.h"

/* ---- scripted transport ---- */

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

/* ---- the daemon side: decoded items and a log of what handlers saw ---- */

struct item {
	char *name;
	char *svc; /* label kubernetes.io/service-name */
	int rv;
};

static int live_items;

static int item_decode_cb(json_t *obj, void *ud, void **ret_item, const char **ret_why)
{
	json_t *spec = json_object_get(obj, "spec");
	json_t *md = json_object_get(obj, "metadata");
	const char *svc = json_string_value(
		json_object_get(json_object_get(md, "labels"), "kubernetes.io/service-name"));
	struct item *it;

	(void)ud;
	if (json_object_get(spec, "skip"))
		return INFORMER_SKIP;
	if (spec && !json_is_object(spec)) {
		*ret_why = "spec is not an object";
		return -EBADMSG;
	}
	it = calloc(1, sizeof(*it));
	it->name = strdup(json_string_value(json_object_get(md, "name")));
	it->svc = svc ? strdup(svc) : NULL;
	it->rv = atoi(json_string_value(json_object_get(md, "resourceVersion")));
	live_items++;
	*ret_item = it;
	return 0;
}

static void item_free_cb(void *item, void *ud)
{
	struct item *it = item;

	(void)ud;
	free(it->name);
	free(it->svc);
	free(it);
	live_items--;
}

struct env {
	struct loop *loop;
	struct fake fake;
	struct kube_client *c;
	struct informer *inf;
	char log[8192];
	int synced;
	int errors[5];
	int last_err;
	long last_code;
};

static void logf_(struct env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void logf_(struct env *e, const char *fmt, ...)
{
	size_t n = strlen(e->log);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->log + n, sizeof(e->log) - n, fmt, ap);
	va_end(ap);
}

static void on_add(struct informer *inf, const char *key, void *item, void *ud)
{
	struct item *it = item;

	(void)inf;
	logf_(ud, "add %s %d;", key, it->rv);
}

static void on_update(struct informer *inf, const char *key, void *old_item, void *new_item,
		      void *ud)
{
	struct item *o = old_item, *n = new_item;

	(void)inf;
	logf_(ud, "update %s %d>%d;", key, o->rv, n->rv);
}

static void on_delete(struct informer *inf, const char *key, void *old_item, void *ud)
{
	struct item *o = old_item;

	(void)inf;
	/* The item is still readable, and no longer in the cache. */
	assert_null(informer_get_key(inf, key));
	logf_(ud, "delete %s %d;", key, o->rv);
}

static void on_synced(struct informer *inf, void *ud)
{
	struct env *e = ud;

	e->synced++;
	logf_(ud, "synced %zu;", informer_count(inf));
}

static void on_error(struct informer *inf, const struct informer_error *err, void *ud)
{
	struct env *e = ud;

	(void)inf;
	e->errors[err->kind]++;
	e->last_err = err->err;
	e->last_code = err->code;
	assert_non_null(err->message);
	assert_string_equal(err->resource, "endpointslices");
	if (err->kind == INFORMER_ERR_DECODE)
		logf_(ud, "decode-error %s;", err->key);
}

static void index_by_service(const char *key, const void *item, struct informer_emitter *emit,
			     void *ud)
{
	const struct item *it = item;
	char buf[300];

	(void)ud;
	if (!it->svc)
		return;
	/* namespace/service: the namespace is the key's prefix */
	snprintf(buf, sizeof(buf), "%.*s/%s", (int)(strchr(key, '/') - key), key, it->svc);
	informer_index_emit(emit, buf);
	informer_index_emit(emit, buf); /* duplicates are ignored */
}

static struct env *env_new(bool decode)
{
	struct env *e = calloc(1, sizeof(*e));
	struct kube_config cfg = { .server = "https://192.0.2.1:6443", .token = "tok" };
	struct informer_opts o = {
		.res = &KUBE_ENDPOINTSLICES,
		.label_selector = "app in (a,b)",
		.page_size = 2,
		.watch_timeout_min_s = 300,
		.watch_timeout_max_s = 600,
		.backoff_initial_us = 2000,
		.backoff_max_us = 8000,
		.max_line = 4096,
		.on_add = on_add,
		.on_update = on_update,
		.on_delete = on_delete,
		.on_synced = on_synced,
		.on_error = on_error,
		.seed = 7,
	};

	if (decode) {
		o.decode = item_decode_cb;
		o.free_item = item_free_cb;
	}
	o.userdata = e;
	e->loop = loop_new();
	e->c = kube_client_new_transport(e->loop, &cfg, NULL, &fake_ops, &e->fake);
	assert_non_null(e->c);
	e->inf = informer_new(e->c, e->loop, &o);
	assert_non_null(e->inf);
	if (decode)
		assert_int_equal(informer_add_index(e->inf, "service", index_by_service, NULL), 0);
	return e;
}

static void env_free(struct env *e)
{
	informer_free(e->inf);
	kube_client_free(e->c);
	loop_free(e->loop);
	free(e);
	assert_int_equal(live_items, 0);
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

static void reply(struct kube_request *req, long code, const char *body)
{
	kube_transport_headers(req, code, 0, 2);
	if (body)
		kube_transport_data(req, body, strlen(body));
	kube_transport_end(req, 0, NULL);
}

/* Feeds stream data; if the informer refused it, ends the request the
 * way a transport does. Returns what kube_transport_data returned. */
static int feed(struct kube_request *req, const char *data)
{
	int r = kube_transport_data(req, data, strlen(data));

	if (r < 0)
		kube_transport_end(req, -ECANCELED, "aborted");
	return r;
}

static void assert_path_prefix(struct kube_request *req, const char *prefix)
{
	if (!req)
		fail_msg("no request, want %s", prefix);
	if (strncmp(kube_request_path(req), prefix, strlen(prefix)) != 0)
		fail_msg("path %s, want prefix %s", kube_request_path(req), prefix);
}

#define OBJ(ns, name, rv, extra)                                                                   \
	"{\"metadata\":{\"namespace\":\"" ns "\",\"name\":\"" name "\",\"resourceVersion\":\"" rv  \
	"\"" extra "}}"
#define SVC_LABEL(svc) ",\"labels\":{\"kubernetes.io/service-name\":\"" svc "\"}"
#define EV(type, obj) "{\"type\":\"" type "\",\"object\":" obj "}\n"
#define LIST(rv, cont, items)                                                                      \
	"{\"kind\":\"EndpointSliceList\",\"metadata\":{\"resourceVersion\":\"" rv                  \
	"\",\"continue\":\"" cont "\"},\"items\":[" items "]}"

#define LIST_PREFIX "/apis/discovery.k8s.io/v1/endpointslices?labelSelector=app%20in%20%28a%2Cb%29"
#define WATCH_PREFIX                                                                               \
	"/apis/discovery.k8s.io/v1/endpointslices?watch=1&allowWatchBookmarks=true&labelSelector=" \
	"app%20in%20%28a%2Cb%29"

/* Lists a, b (page 1) and c (page 2) at rv 10; returns the watch request. */
static struct kube_request *sync3(struct env *e)
{
	struct kube_request *req;

	assert_int_equal(informer_start(e->inf), 0);
	req = next_req(e, 1000);
	assert_path_prefix(req, LIST_PREFIX "&limit=2");
	assert_null(strstr(kube_request_path(req), "continue="));
	reply(req, 200,
	      LIST("10", "tok1",
		   OBJ("ns", "a", "3", SVC_LABEL("web")) "," OBJ("ns", "b", "4",
								 SVC_LABEL("web"))));
	assert_false(informer_synced(e->inf));
	assert_int_equal(e->synced, 0);
	req = next_req(e, 1000);
	assert_path_prefix(req, LIST_PREFIX "&limit=2&continue=tok1");
	reply(req, 200, LIST("10", "", OBJ("ns", "c", "5", SVC_LABEL("db"))));
	assert_true(informer_synced(e->inf));
	assert_int_equal(e->synced, 1);
	assert_string_equal(informer_resource_version(e->inf), "10");
	req = next_req(e, 1000);
	assert_path_prefix(req, WATCH_PREFIX "&resourceVersion=10&timeoutSeconds=");
	assert_true(kube_request_streaming(req));
	kube_transport_headers(req, 200, 0, 2);
	return req;
}

static void test_list_pages_then_synced_then_watch(void **state)
{
	struct env *e = env_new(true);
	struct kube_request *w;
	struct item *it;
	unsigned t;

	(void)state;
	w = sync3(e);
	assert_string_equal(e->log, "add ns/a 3;add ns/b 4;add ns/c 5;synced 3;");
	assert_int_equal(informer_count(e->inf), 3);
	it = informer_get(e->inf, "ns", "b");
	assert_non_null(it);
	assert_string_equal(it->name, "b");
	assert_string_equal(informer_get_rv(e->inf, "ns/b"), "4");
	assert_null(informer_get(e->inf, "other", "b"));
	/* timeoutSeconds within 5-10 minutes */
	t = (unsigned)atoi(strstr(kube_request_path(w), "timeoutSeconds=") + 15);
	assert_true(t >= 300 && t <= 600);
	assert_int_equal(informer_index_count(e->inf, "service", "ns/web"), 2);
	assert_int_equal(informer_index_count(e->inf, "service", "ns/db"), 1);
	kube_transport_end(w, 0, NULL);
	env_free(e);
}

static const char events_stream[] = EV("ADDED", OBJ("ns", "d", "11", SVC_LABEL("web")))
	EV("MODIFIED", OBJ("ns", "a", "12", SVC_LABEL("db"))) "\n" EV(
		"DELETED", OBJ("ns", "b", "13", SVC_LABEL("web")))
		EV("BOOKMARK", "{\"metadata\":{\"resourceVersion\":\"14\"}}")
			EV("MODIFIED", OBJ("ns", "c", "5", SVC_LABEL("db")));

static const char events_log[] = "add ns/d 11;update ns/a 3>12;delete ns/b 4;";

static void test_watch_events_at_every_chunk_split(void **state)
{
	size_t len = strlen(events_stream);

	(void)state;
	for (size_t cut = 0; cut <= len; cut += (cut < 40 || cut > len - 40) ? 1 : 7) {
		struct env *e = env_new(true);
		struct kube_request *w = sync3(e);
		char part[sizeof(events_stream)];

		e->log[0] = '\0';
		memcpy(part, events_stream, cut);
		part[cut] = '\0';
		assert_int_equal(feed(w, part), 0);
		assert_int_equal(feed(w, events_stream + cut), 0);
		if (strcmp(e->log, events_log) != 0)
			fail_msg("split at %zu: %s", cut, e->log);
		/* The same RV for c: no update delivered. */
		assert_string_equal(informer_resource_version(e->inf), "5");
		assert_int_equal(informer_index_count(e->inf, "service", "ns/web"), 1);
		assert_int_equal(informer_index_count(e->inf, "service", "ns/db"), 2);
		kube_transport_end(w, 0, NULL);
		env_free(e);
	}
}

static int collect(const char *key, void *item, void *ud)
{
	(void)item;
	strcat(ud, key);
	strcat(ud, ",");
	return 0;
}

static void test_error_410_event_relists_and_delivers_the_diff(void **state)
{
	struct env *e = env_new(true);
	struct kube_request *w = sync3(e), *req;
	struct informer_stats st;
	char keys[256] = "";

	(void)state;
	assert_int_equal(feed(w, EV("ADDED", OBJ("ns", "d", "11", ""))), 0);
	e->log[0] = '\0';
	/* While we were not looking: b and d deleted, a changed, e added. */
	assert_true(feed(w, EV("ERROR", "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\","
					"\"message\":\"too old resource version: 11 (20)\"}")) < 0);
	assert_int_equal(e->errors[INFORMER_ERR_EXPIRED], 1);
	req = next_req(e, 1000);
	assert_path_prefix(req, LIST_PREFIX "&limit=2");
	reply(req, 200,
	      LIST("30", "n", OBJ("ns", "a", "25", SVC_LABEL("web")) "," OBJ("ns", "c", "5", "")));
	assert_string_equal(e->log, "update ns/a 3>25;");
	req = next_req(e, 1000);
	assert_path_prefix(req, LIST_PREFIX "&limit=2&continue=n");
	reply(req, 200, LIST("30", "", OBJ("ns", "e", "29", "")));
	assert_string_equal(e->log, "update ns/a 3>25;add ns/e 29;delete ns/b 4;delete ns/d 11;");
	/* synced only once */
	assert_int_equal(e->synced, 1);
	informer_foreach(e->inf, collect, keys);
	assert_int_equal(strlen(keys), strlen("ns/a,ns/c,ns/e,"));
	assert_non_null(strstr(keys, "ns/a,"));
	assert_non_null(strstr(keys, "ns/c,"));
	assert_non_null(strstr(keys, "ns/e,"));
	assert_int_equal(informer_index_count(e->inf, "service", "ns/web"), 1);
	/* c kept its resourceVersion: the same object, not decoded again. */
	assert_int_equal(informer_index_count(e->inf, "service", "ns/db"), 1);
	req = next_req(e, 1000);
	assert_path_prefix(req, WATCH_PREFIX "&resourceVersion=30&");
	informer_get_stats(e->inf, &st);
	assert_int_equal(st.lists, 2);
	assert_int_equal(st.relists, 1);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.failures, 0);
	assert_int_equal(st.state, INFORMER_WATCHING);
	env_free(e);
}

static void test_http_410_on_watch_relists(void **state)
{
	struct env *e = env_new(true);
	struct kube_request *w = sync3(e), *req;

	(void)state;
	kube_transport_end(w, -ECONNRESET, "reset");
	/* Reset: back off, watch again from the same RV. */
	assert_int_equal(e->errors[INFORMER_ERR_WATCH], 1);
	assert_int_equal(e->last_err, -ECONNRESET);
	req = next_req(e, 1000);
	assert_path_prefix(req, WATCH_PREFIX "&resourceVersion=10&");
	reply(req, 410, "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Gone\"}");
	assert_int_equal(e->errors[INFORMER_ERR_EXPIRED], 1);
	req = next_req(e, 1000);
	assert_path_prefix(req, LIST_PREFIX "&limit=2");
	reply(req, 200, LIST("40", "", ""));
	assert_string_equal(e->log, "add ns/a 3;add ns/b 4;add ns/c 5;synced 3;"
				    "delete ns/a 3;delete ns/b 4;delete ns/c 5;");
	assert_int_equal(informer_count(e->inf), 0);
	env_free(e);
}

static void test_repeated_410_without_progress_backs_off(void **state)
{
	struct env *e = env_new(true);
	struct kube_request *w = sync3(e), *req;
	struct informer_stats st;

	(void)state;
	for (int i = 0; i < 3; i++) {
		assert_true(feed(w, EV("ERROR", "{\"code\":410}")) < 0);
		req = next_req(e, 1000);
		assert_path_prefix(req, LIST_PREFIX);
		reply(req, 200, LIST("10", "", OBJ("ns", "a", "3", "")));
		w = next_req(e, 1000);
		assert_path_prefix(w, WATCH_PREFIX);
		kube_transport_headers(w, 200, 0, 2);
	}
	informer_get_stats(e->inf, &st);
	assert_int_equal(st.expired, 3);
	/* The first was free; the next ones counted as failures. */
	assert_int_equal(st.failures, 2);
	kube_transport_end(w, 0, NULL);
	env_free(e);
}

static void test_garbage_line_restarts_with_a_relist(void **state)
{
	struct env *e = env_new(true);
	struct kube_request *w = sync3(e), *req;
	struct informer_stats st;

	(void)state;
	e->log[0] = '\0';
	/* Events before the garbage apply; the garbage stops the stream. */
	assert_true(feed(w, EV("ADDED", OBJ("ns", "d", "11", "")) "{\"type\":\"ADDED\",\"obj\n" EV(
				    "ADDED", OBJ("ns", "x", "12", ""))) < 0);
	assert_string_equal(e->log, "add ns/d 11;");
	assert_int_equal(e->errors[INFORMER_ERR_STREAM], 1);
	assert_int_equal(e->last_err, -EBADMSG);
	req = next_req(e, 1000);
	assert_path_prefix(req, LIST_PREFIX);
	reply(req, 200, LIST("12", "", OBJ("ns", "a", "3", "") "," OBJ("ns", "x", "12", "")));
	assert_string_equal(e->log, "add ns/d 11;add ns/x 12;delete ns/b 4;delete ns/c 5;"
				    "delete ns/d 11;");
	informer_get_stats(e->inf, &st);
	assert_int_equal(st.bad_lines, 1);
	assert_int_equal(st.failures, 1);
	req = next_req(e, 1000);
	assert_path_prefix(req, WATCH_PREFIX "&resourceVersion=12&");
	env_free(e);
}

static void test_oversized_line_restarts_with_a_relist(void **state)
{
	struct env *e = env_new(true);
	struct kube_request *w = sync3(e), *req;
	struct informer_stats st;
	char *big = malloc(6000);

	(void)state;
	memset(big, ' ', 5999);
	big[5999] = '\0';
	memcpy(big, "{\"type\":\"ADDED\"", 15);
	assert_int_equal(feed(w, EV("ADDED", OBJ("ns", "d", "11", ""))), 0);
	assert_true(feed(w, big) < 0);
	free(big);
	assert_int_equal(e->errors[INFORMER_ERR_STREAM], 1);
	assert_int_equal(e->last_err, -EMSGSIZE);
	informer_get_stats(e->inf, &st);
	assert_int_equal(st.long_lines, 1);
	req = next_req(e, 1000);
	assert_path_prefix(req, LIST_PREFIX);
	reply(req, 500, "{\"kind\":\"Status\",\"code\":500,\"reason\":\"InternalError\"}");
	assert_int_equal(e->errors[INFORMER_ERR_LIST], 1);
	assert_int_equal(e->last_code, 500);
	req = next_req(e, 1000);
	assert_path_prefix(req, LIST_PREFIX);
	reply(req, 200, LIST("11", "", ""));
	env_free(e);
}

static void test_clean_end_rewatches_from_the_last_resource_version(void **state)
{
	struct env *e = env_new(true);
	struct kube_request *w = sync3(e), *req;
	struct informer_stats st;

	(void)state;
	assert_int_equal(feed(w, EV("BOOKMARK", "{\"metadata\":{\"resourceVersion\":\"77\"}}")), 0);
	kube_transport_end(w, 0, NULL);
	req = next_req(e, 1000);
	assert_path_prefix(req, WATCH_PREFIX "&resourceVersion=77&");
	informer_get_stats(e->inf, &st);
	assert_int_equal(st.watches, 2);
	assert_int_equal(st.failures, 0);
	assert_int_equal(st.bookmarks, 1);
	/* A watch that ends at once without events counts as a failure. */
	kube_transport_headers(req, 200, 0, 2);
	kube_transport_end(req, 0, NULL);
	informer_get_stats(e->inf, &st);
	assert_int_equal(st.failures, 1);
	assert_int_equal(st.state, INFORMER_BACKOFF);
	req = next_req(e, 1000);
	assert_path_prefix(req, WATCH_PREFIX "&resourceVersion=77&");
	env_free(e);
}

static void test_watch_error_status_and_server_errors_back_off_and_resume(void **state)
{
	struct env *e = env_new(true);
	struct kube_request *w = sync3(e), *req;
	struct informer_stats st;

	(void)state;
	assert_true(feed(w, EV("ERROR", "{\"code\":500,\"reason\":\"InternalError\","
					"\"message\":\"etcd down\"}")) < 0);
	assert_int_equal(e->errors[INFORMER_ERR_WATCH], 1);
	assert_int_equal(e->last_code, 500);
	req = next_req(e, 1000);
	assert_path_prefix(req, WATCH_PREFIX "&resourceVersion=10&");
	reply(req, 503, "{\"kind\":\"Status\",\"code\":503}");
	req = next_req(e, 1000);
	assert_path_prefix(req, WATCH_PREFIX "&resourceVersion=10&");
	informer_get_stats(e->inf, &st);
	assert_int_equal(st.failures, 2);
	assert_int_equal(st.lists, 1);
	/* A 403 is not transient for this resourceVersion: list again. */
	reply(req, 403, "{\"kind\":\"Status\",\"code\":403,\"reason\":\"Forbidden\"}");
	req = next_req(e, 1000);
	assert_path_prefix(req, LIST_PREFIX);
	env_free(e);
}

static void test_expired_continue_token_restarts_the_list(void **state)
{
	struct env *e = env_new(true);
	struct kube_request *req;

	(void)state;
	informer_start(e->inf);
	req = next_req(e, 1000);
	reply(req, 200, LIST("10", "tok1", OBJ("ns", "a", "3", "") "," OBJ("ns", "b", "4", "")));
	req = next_req(e, 1000);
	assert_path_prefix(req, LIST_PREFIX "&limit=2&continue=tok1");
	reply(req, 410, "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}");
	req = next_req(e, 1000);
	assert_path_prefix(req, LIST_PREFIX "&limit=2");
	assert_null(strstr(kube_request_path(req), "continue"));
	assert_false(informer_synced(e->inf));
	reply(req, 200, LIST("20", "", OBJ("ns", "b", "4", "")));
	/* a, seen only in the abandoned list, is deleted; b unchanged. */
	assert_string_equal(e->log, "add ns/a 3;add ns/b 4;delete ns/a 3;synced 1;");
	env_free(e);
}

static void item_decode_cb_failures_are_reported_and_skipped(void **state)
{
	struct env *e = env_new(true);
	struct kube_request *req, *w;

	(void)state;
	informer_start(e->inf);
	req = next_req(e, 1000);
	reply(req, 200,
	      LIST("10", "",
		   OBJ("ns", "a", "3",
		       "},\"spec\":{\"skip\":true") ","
						    "{\"metadata\":{\"name\":\"noversion\"}},"
						    "{\"metadata\":[]},"
						    "17," OBJ("ns", "bad", "4",
							      "},\"spec\":\"string\",\"x\":{\"y\":"
							      "0") "," OBJ("ns", "ok", "5", "")));
	assert_string_equal(e->log, "decode-error ;decode-error ;decode-error ;"
				    "decode-error ns/bad;add ns/ok 5;synced 1;");
	assert_int_equal(e->errors[INFORMER_ERR_DECODE], 4);
	w = next_req(e, 1000);
	kube_transport_headers(w, 200, 0, 2);
	e->log[0] = '\0';
	/* An item that stops decoding, or becomes uninteresting, is gone. */
	assert_int_equal(
		feed(w, EV("MODIFIED", OBJ("ns", "ok", "6", "},\"spec\":[1],\"x\":{\"y\":0"))), 0);
	assert_string_equal(e->log, "decode-error ns/ok;delete ns/ok 5;");
	assert_int_equal(feed(w, EV("MODIFIED", OBJ("ns", "ok", "7", ""))), 0);
	assert_int_equal(feed(w, EV("MODIFIED", OBJ("ns", "ok", "8", "},\"spec\":{\"skip\":1"))),
			 0);
	assert_string_equal(e->log,
			    "decode-error ns/ok;delete ns/ok 5;add ns/ok 7;delete ns/ok 7;");
	/* A DELETED for something unknown is harmless. */
	assert_int_equal(feed(w, EV("DELETED", OBJ("ns", "never", "9", ""))), 0);
	assert_int_equal(informer_count(e->inf), 0);
	kube_transport_end(w, 0, NULL);
	env_free(e);
}

static void test_default_decode_keeps_json_and_label_index(void **state)
{
	struct env *e;
	struct kube_request *req, *w;
	json_t *obj;

	(void)state;
	e = calloc(1, sizeof(*e));
	{
		struct kube_config cfg = { .server = "https://h" };
		struct informer_opts o = {
			.res = &KUBE_NODES,
			.on_synced = on_synced,
			.userdata = e,
		};

		e->loop = loop_new();
		e->c = kube_client_new_transport(e->loop, &cfg, NULL, &fake_ops, &e->fake);
		e->inf = informer_new(e->c, e->loop, &o);
		assert_int_equal(
			informer_add_index(e->inf, "zone", informer_index_by_label, "zone"), 0);
		assert_int_equal(
			informer_add_index(e->inf, "zone", informer_index_by_label, "zone"),
			-EEXIST);
	}
	informer_start(e->inf);
	assert_int_equal(informer_add_index(e->inf, "late", informer_index_by_label, "x"), -EINVAL);
	req = next_req(e, 1000);
	assert_path_prefix(req, "/api/v1/nodes?limit=500");
	reply(req, 200,
	      "{\"metadata\":{\"resourceVersion\":\"3\"},\"items\":[{\"metadata\":{\"name\":\"n1\","
	      "\"resourceVersion\":\"2\",\"labels\":{\"zone\":\"z1\"}}}]}");
	obj = informer_get(e->inf, "ignored", "n1");
	assert_true(json_is_object(obj));
	assert_string_equal(kube_label_get(obj, "zone"), "z1");
	assert_int_equal(informer_index_count(e->inf, "zone", "z1"), 1);
	assert_int_equal(informer_index_foreach(e->inf, "nope", "z1", collect, NULL), -ENOENT);
	w = next_req(e, 1000);
	assert_path_prefix(w, "/api/v1/nodes?watch=1&allowWatchBookmarks=true&resourceVersion=3");
	kube_transport_headers(w, 200, 0, 2);
	assert_int_equal(feed(w, EV("MODIFIED", "{\"metadata\":{\"name\":\"n1\","
						"\"resourceVersion\":\"4\",\"labels\":{\"zone\":"
						"\"z2\"}}}")),
			 0);
	assert_int_equal(informer_index_count(e->inf, "zone", "z1"), 0);
	assert_int_equal(informer_index_count(e->inf, "zone", "z2"), 1);
	kube_transport_end(w, 0, NULL);
	env_free(e);
}

/* The cache keeps a resourceVersion in its entry while it fits and on the
 * heap when it grows past that, and back; an index value holds one entry
 * in place of an array until a second one joins it. */
static void test_resource_versions_grow_and_index_buckets_fill_and_drain(void **state)
{
	struct env *e = env_new(true);
	struct kube_request *w = sync3(e);
	char got[256] = "";

	(void)state;
	assert_string_equal(informer_get_rv(e->inf, "ns/c"), "5");
	assert_int_equal(informer_index_count(e->inf, "service", "ns/db"), 1);
	/* A long resourceVersion, then a short one again. */
	assert_int_equal(feed(w, EV("MODIFIED", OBJ("ns", "c", "1234567890123456789012345678901",
						    SVC_LABEL("db")))),
			 0);
	assert_string_equal(informer_get_rv(e->inf, "ns/c"), "1234567890123456789012345678901");
	assert_int_equal(feed(w, EV("MODIFIED", OBJ("ns", "c", "12", SVC_LABEL("db")))), 0);
	assert_string_equal(informer_get_rv(e->inf, "ns/c"), "12");
	assert_int_equal(feed(w, EV("MODIFIED", OBJ("ns", "c", "123456789", SVC_LABEL("db")))), 0);
	assert_string_equal(informer_get_rv(e->inf, "ns/c"), "123456789");
	/* ns/db: one entry, then five (an array), then back to none. */
	assert_int_equal(feed(w, EV("ADDED", OBJ("ns", "d", "13", SVC_LABEL("db")))), 0);
	assert_int_equal(feed(w, EV("ADDED", OBJ("ns", "f", "14", SVC_LABEL("db")))), 0);
	assert_int_equal(feed(w, EV("ADDED", OBJ("ns", "g", "15", SVC_LABEL("db")))), 0);
	assert_int_equal(feed(w, EV("ADDED", OBJ("ns", "h", "16", SVC_LABEL("db")))), 0);
	assert_int_equal(informer_index_count(e->inf, "service", "ns/db"), 5);
	assert_int_equal(informer_index_foreach(e->inf, "service", "ns/db", collect, got), 0);
	assert_int_equal(strlen(got), strlen("ns/c,ns/d,ns/f,ns/g,ns/h,"));
	assert_non_null(strstr(got, "ns/h,"));
	assert_int_equal(feed(w, EV("DELETED", OBJ("ns", "c", "17", SVC_LABEL("db")))), 0);
	assert_int_equal(feed(w, EV("DELETED", OBJ("ns", "g", "18", SVC_LABEL("db")))), 0);
	/* A moved item leaves its old value and joins the new one. */
	assert_int_equal(feed(w, EV("MODIFIED", OBJ("ns", "d", "19", SVC_LABEL("web")))), 0);
	assert_int_equal(informer_index_count(e->inf, "service", "ns/db"), 2);
	assert_int_equal(informer_index_count(e->inf, "service", "ns/web"), 3);
	got[0] = '\0';
	assert_int_equal(informer_index_foreach(e->inf, "service", "ns/db", collect, got), 0);
	assert_true(!strcmp(got, "ns/f,ns/h,") || !strcmp(got, "ns/h,ns/f,"));
	assert_int_equal(feed(w, EV("DELETED", OBJ("ns", "f", "20", SVC_LABEL("db")))), 0);
	assert_int_equal(feed(w, EV("DELETED", OBJ("ns", "h", "21", SVC_LABEL("db")))), 0);
	assert_int_equal(informer_index_count(e->inf, "service", "ns/db"), 0);
	/* A fresh value after its bucket was freed. */
	assert_int_equal(feed(w, EV("ADDED", OBJ("ns", "i", "22", SVC_LABEL("db")))), 0);
	got[0] = '\0';
	assert_int_equal(informer_index_foreach(e->inf, "service", "ns/db", collect, got), 0);
	assert_string_equal(got, "ns/i,");
	kube_transport_end(w, 0, NULL);
	env_free(e);
}

static void item_free_cb_with_an_active_stream_and_items_does_not_leak(void **state)
{
	struct env *e = env_new(true);
	struct kube_request *w = sync3(e);

	(void)state;
	assert_int_equal(feed(w, EV("ADDED", OBJ("ns", "d", "11", SVC_LABEL("web")))), 0);
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_pages_then_synced_then_watch),
		cmocka_unit_test(test_watch_events_at_every_chunk_split),
		cmocka_unit_test(test_error_410_event_relists_and_delivers_the_diff),
		cmocka_unit_test(test_http_410_on_watch_relists),
		cmocka_unit_test(test_repeated_410_without_progress_backs_off),
		cmocka_unit_test(test_garbage_line_restarts_with_a_relist),
		cmocka_unit_test(test_oversized_line_restarts_with_a_relist),
		cmocka_unit_test(test_clean_end_rewatches_from_the_last_resource_version),
		cmocka_unit_test(test_watch_error_status_and_server_errors_back_off_and_resume),
		cmocka_unit_test(test_expired_continue_token_restarts_the_list),
		cmocka_unit_test(item_decode_cb_failures_are_reported_and_skipped),
		cmocka_unit_test(test_default_decode_keeps_json_and_label_index),
		cmocka_unit_test(item_free_cb_with_an_active_stream_and_items_does_not_leak),
		cmocka_unit_test(test_resource_versions_grow_and_index_buckets_fill_and_drain),
	};

	return cmocka_run_group_tests_name("informer", tests, NULL, NULL);
}
