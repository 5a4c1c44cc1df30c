/* Unit tests for lib/httpd.c: the listen-address parser, and a real server
 * on 127.0.0.1 with an ephemeral port, driven by loop_run_once() while a
 * non-blocking client socket in the same thread sends one request and reads
 * until the server closes. Every exchange is bounded in time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ironlb/httpd.h"
#include "ironlb/loop.h"
#include "ironlb/metrics.h"

#define EXCHANGE_LIMIT_US 5000000

/* ---- httpd_parse_addr ---- */

static void test_parse_addr_accepts_port_only_as_dual_stack_any(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len = 0;
	const char *why = NULL;

	(void)state;
	assert_int_equal(httpd_parse_addr(":7480", &ss, &len, &why), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(ntohs(sin6->sin6_port), 7480);
	assert_memory_equal(&sin6->sin6_addr, &in6addr_any, sizeof(in6addr_any));
	assert_null(why);
}

static void test_parse_addr_accepts_ipv4_with_port_zero(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	socklen_t len = 0;

	(void)state;
	assert_int_equal(httpd_parse_addr("127.0.0.1:0", &ss, &len, NULL), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(sin->sin_port), 0);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(httpd_parse_addr("0.0.0.0:65535", &ss, &len, NULL), 0);
	assert_int_equal(ntohs(sin->sin_port), 65535);
}

static void test_parse_addr_accepts_bracketed_ipv6(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len = 0;

	(void)state;
	assert_int_equal(httpd_parse_addr("[::1]:7480", &ss, &len, NULL), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(ntohs(sin6->sin6_port), 7480);
	assert_memory_equal(&sin6->sin6_addr, &in6addr_loopback, sizeof(in6addr_loopback));
	assert_int_equal(httpd_parse_addr("[2001:db8::1]:1", &ss, &len, NULL), 0);
}

static void test_parse_addr_rejects_malformed(void **state)
{
	static const char *const bad[] = {
		"7480",	       "::1:7480",
		"[::1]7480",   ":70000",
		":65536",      ":-1",
		"a.b.c.d:1",   "",
		":",	       "1.2.3.4:",
		"[::1]",       "[::1]:",
		"[1.2.3.4]:1", "::1",
		":+80",	       ": 80",
		":\t80",       ":80 ",
		":0x50",       "1.2.3:80",
		"[::1:80",     "[]:80",
		"host:80",     "1.2.3.4:80:80",
		"[::1]:7480x", "[fe80::1%eth0]:80",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sockaddr_storage ss;
		socklen_t len = 12345;
		const char *why = NULL;

		memset(&ss, 0xa5, sizeof(ss));
		if (httpd_parse_addr(bad[i], &ss, &len, &why) != -EINVAL)
			fail_msg("httpd_parse_addr(\"%s\") accepted", bad[i]);
		if (!why || !*why)
			fail_msg("httpd_parse_addr(\"%s\") gave no reason", bad[i]);
		if (len != 12345 || ((unsigned char *)&ss)[0] != 0xa5)
			fail_msg("httpd_parse_addr(\"%s\") touched its output", bad[i]);
	}
	assert_int_equal(
		httpd_parse_addr(NULL, &(struct sockaddr_storage){ 0 }, &(socklen_t){ 0 }, NULL),
		-EINVAL);
}

static void test_parse_addr_rejects_over_long_input(void **state)
{
	char buf[200];
	struct sockaddr_storage ss;
	socklen_t len;

	(void)state;
	memset(buf, '1', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	buf[0] = '[';
	buf[150] = ']';
	buf[151] = ':';
	assert_int_equal(httpd_parse_addr(buf, &ss, &len, NULL), -EINVAL);
}

/* ---- a real server ---- */

struct fixture {
	struct loop *loop;
	struct metrics *reg;
	struct httpd *httpd;
	bool ready;
	int ready_calls;
};

static bool ready_hook(void *userdata, char *detail, size_t len)
{
	struct fixture *f = userdata;

	f->ready_calls++;
	if (!f->ready)
		snprintf(detail, len, "caches not synced (%d)", f->ready_calls);
	return f->ready;
}

static int server_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct metric *m;
	int err = 0;

	if (!f)
		return -1;
	f->loop = loop_new();
	f->reg = metrics_new();
	if (!f->loop || !f->reg)
		return -1;
	m = metrics_counter(f->reg, "ironlb_test_total", "Test counter.", "kind");
	metric_add(m, 3, "a");
	f->httpd = httpd_new(f->loop, "127.0.0.1:0", f->reg, &err);
	if (!f->httpd) {
		print_error("httpd_new: %d\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int server_teardown(void **state)
{
	struct fixture *f = *state;

	httpd_free(f->httpd);
	metrics_free(f->reg);
	loop_free(f->loop);
	free(f);
	return 0;
}

struct response {
	int status;
	char *headers; /* status line and headers, CRLF-separated */
	char *body;
};

static void response_free(struct response *r)
{
	free(r->headers);
	free(r->body);
}

/* Sends request to the server of f and reads the whole response, running
 * the loop in between. Fails the test if it takes too long. */
static struct response exchange(struct fixture *f, const char *request)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	uint64_t deadline = loop_now_us() + EXCHANGE_LIMIT_US;
	size_t sent = 0, len = 0, req_len = strlen(request);
	char *buf = malloc(1 << 20), *sep;
	struct response r = { 0 };
	int fd;

	assert_non_null(buf);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)httpd_port(f->httpd));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		assert_int_equal(errno, EINPROGRESS);
	for (;;) {
		ssize_t n;

		if (loop_now_us() > deadline)
			fail_msg("no complete response within %d us; got %zu bytes",
				 EXCHANGE_LIMIT_US, len);
		assert_true(loop_run_once(f->loop, 5) >= 0);
		if (sent < req_len) {
			n = send(fd, request + sent, req_len - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n == -1 && errno != EAGAIN && errno != ENOTCONN)
				fail_msg("send: %s", strerror(errno));
			continue;
		}
		n = recv(fd, buf + len, (1 << 20) - 1 - len, 0);
		if (n == 0)
			break;
		if (n == -1) {
			if (errno == EAGAIN)
				continue;
			fail_msg("recv: %s", strerror(errno));
		}
		len += (size_t)n;
		assert_true(len < (1 << 20) - 1);
	}
	close(fd);
	buf[len] = '\0';
	sep = strstr(buf, "\r\n\r\n");
	if (!sep)
		fail_msg("no end of headers in: %s", buf);
	*sep = '\0';
	r.headers = strdup(buf);
	r.body = strdup(sep + 4);
	assert_int_equal(sscanf(buf, "HTTP/1.%*d %d", &r.status), 1);
	free(buf);
	return r;
}

static struct response get(struct fixture *f, const char *path)
{
	char req[256];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
		 path);
	return exchange(f, req);
}

static bool has_header(const struct response *r, const char *name, const char *value)
{
	char want[256];
	const char *p = r->headers;

	snprintf(want, sizeof(want), "\r\n%s: %s", name, value);
	while ((p = strcasestr(p, want))) {
		p += strlen(want);
		if (*p == '\r' || *p == '\0')
			return true;
	}
	return false;
}

static void test_server_binds_an_ephemeral_port(void **state)
{
	struct fixture *f = *state;

	assert_true(httpd_port(f->httpd) > 0);
}

static void test_healthz_answers_200_ok(void **state)
{
	struct response r = get(*state, "/healthz");

	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok\n");
	assert_true(has_header(&r, "Content-Type", "text/plain; charset=utf-8"));
	response_free(&r);
}

static void test_readyz_without_hook_is_ready(void **state)
{
	struct response r = get(*state, "/readyz");

	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok\n");
	response_free(&r);
}

static void test_readyz_follows_the_hook_with_its_detail(void **state)
{
	struct fixture *f = *state;
	struct response r;

	httpd_set_ready(f->httpd, ready_hook, f);
	f->ready = false;
	r = get(f, "/readyz");
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body, "not ready: caches not synced (1)\n");
	response_free(&r);

	f->ready = true;
	r = get(f, "/readyz");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok\n");
	response_free(&r);
	assert_int_equal(f->ready_calls, 2);
}

static void test_metrics_answers_prometheus_text(void **state)
{
	struct response r = get(*state, "/metrics");

	assert_int_equal(r.status, 200);
	assert_true(has_header(&r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8"));
	assert_string_equal(r.body, "# HELP ironlb_test_total Test counter.\n"
				    "# TYPE ironlb_test_total counter\n"
				    "ironlb_test_total{kind=\"a\"} 3\n");
	response_free(&r);
}

static void test_unknown_path_is_404(void **state)
{
	struct response r = get(*state, "/nope");

	assert_int_equal(r.status, 404);
	response_free(&r);
	r = get(*state, "/healthz/extra");
	assert_int_equal(r.status, 404);
	response_free(&r);
}

static void test_query_string_is_ignored(void **state)
{
	struct response r = get(*state, "/healthz?verbose=1");

	assert_int_equal(r.status, 200);
	response_free(&r);
}

static void test_post_is_405_with_allow_header(void **state)
{
	struct response r = exchange(*state, "POST /healthz HTTP/1.1\r\nHost: t\r\n"
					     "Connection: close\r\nContent-Length: 5\r\n\r\n"
					     "hello");

	assert_int_equal(r.status, 405);
	assert_true(has_header(&r, "Allow", "GET, HEAD"));
	response_free(&r);
	r = exchange(*state, "DELETE /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 405);
	response_free(&r);
}

static void test_head_answers_headers_only(void **state)
{
	struct response r =
		exchange(*state, "HEAD /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");

	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "");
	response_free(&r);
}

static void test_many_requests_in_a_row(void **state)
{
	for (int i = 0; i < 50; i++) {
		struct response r = get(*state, i % 2 ? "/metrics" : "/healthz");

		assert_int_equal(r.status, 200);
		response_free(&r);
	}
}

static void test_metrics_is_404_without_registry(void **state)
{
	struct fixture f = { 0 };
	struct response r;
	int err = 0;

	(void)state;
	f.loop = loop_new();
	assert_non_null(f.loop);
	f.httpd = httpd_new(f.loop, "127.0.0.1:0", NULL, &err);
	assert_non_null(f.httpd);
	r = get(&f, "/metrics");
	assert_int_equal(r.status, 404);
	response_free(&r);
	httpd_free(f.httpd);
	loop_free(f.loop);
}

static void test_new_reports_bad_address_and_port_in_use(void **state)
{
	struct fixture *f = *state;
	struct loop *l = loop_new();
	char addr[32];
	int err = 0;

	assert_non_null(l);
	assert_null(httpd_new(l, "nonsense", NULL, &err));
	assert_int_equal(err, -EINVAL);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", httpd_port(f->httpd));
	err = 0;
	assert_null(httpd_new(l, addr, NULL, &err));
	assert_int_equal(err, -EADDRINUSE);
	assert_null(httpd_new(l, "192.0.2.1:1", NULL, &err));
	assert_int_equal(err, -EADDRNOTAVAIL);
	loop_free(l);
	httpd_free(NULL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, server_setup, server_teardown)
	const struct CMUnitTest httpd_tests[] = {
		cmocka_unit_test(test_parse_addr_accepts_port_only_as_dual_stack_any),
		cmocka_unit_test(test_parse_addr_accepts_ipv4_with_port_zero),
		cmocka_unit_test(test_parse_addr_accepts_bracketed_ipv6),
		cmocka_unit_test(test_parse_addr_rejects_malformed),
		cmocka_unit_test(test_parse_addr_rejects_over_long_input),
		T(test_server_binds_an_ephemeral_port),
		T(test_healthz_answers_200_ok),
		T(test_readyz_without_hook_is_ready),
		T(test_readyz_follows_the_hook_with_its_detail),
		T(test_metrics_answers_prometheus_text),
		T(test_unknown_path_is_404),
		T(test_query_string_is_ignored),
		T(test_post_is_405_with_allow_header),
		T(test_head_answers_headers_only),
		T(test_many_requests_in_a_row),
		cmocka_unit_test(test_metrics_is_404_without_registry),
		T(test_new_reports_bad_address_and_port_in_use),
	};
#undef T

	return cmocka_run_group_tests(httpd_tests, NULL, NULL);
}
