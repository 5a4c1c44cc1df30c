/* Probes and metrics over HTTP, with libmicrohttpd in external-epoll mode:
 * MHD keeps its own epoll set, whose fd we watch from our loop, and tells us
 * when its next timeout is due, which we turn into a loop timer. */
#include "ironlb/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ironlb/loop.h"
#include "ironlb/metrics.h"

#define HTTPD_MAX_CONNECTIONS 64
#define HTTPD_CONNECTION_TIMEOUT_S 10

struct httpd {
	struct loop *loop;
	struct MHD_Daemon *mhd;
	struct loop_io *io;
	struct loop_timer *timer;
	struct metrics *reg;
	httpd_ready_fn ready_fn;
	void *ready_userdata;
	int listen_fd;
	int port;
};

int httpd_parse_addr(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len,
		     const char **ret_why)
{
	char host[64];
	const char *colon, *port_s;
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	char *end;
	long port;

#define FAIL(why)                                                                                  \
	do {                                                                                       \
		if (ret_why)                                                                       \
			*ret_why = (why);                                                          \
		return -EINVAL;                                                                    \
	} while (0)

	if (!s || !*s)
		FAIL("empty");
	if (strlen(s) > 60)
		FAIL("too long");
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			FAIL("expected [IPv6]:PORT");
		if (close == s + 1)
			FAIL("empty IPv6 address");
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		port_s = close + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			FAIL("missing :PORT");
		if (memchr(s, ':', (size_t)(colon - s)))
			FAIL("IPv6 addresses need brackets: [ADDR]:PORT");
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		port_s = colon + 1;
	}
	/* Digits only: strtol() alone would take blanks and signs. */
	if (!*port_s || strspn(port_s, "0123456789") != strlen(port_s))
		FAIL("bad port");
	errno = 0;
	port = strtol(port_s, &end, 10);
	if (errno || *end || port < 0 || port > 65535)
		FAIL("bad port");
	if (!*host) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_any;
		sin6->sin6_port = htons((uint16_t)port);
		len = sizeof(*sin6);
	} else if (s[0] == '[') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			FAIL("bad IPv6 address");
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			FAIL("bad IPv4 address");
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		len = sizeof(*sin);
	}
#undef FAIL
	*ret = ss;
	*ret_len = len;
	return 0;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *ctype,
			     char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result r;

	if (!resp) {
		/* The body was to be MHD's to free. */
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", ctype);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	/* RFC 9110: a 405 names the methods that are allowed. */
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, "Allow", "GET, HEAD");
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
	return reply(conn, status, "text/plain; charset=utf-8", (char *)text, strlen(text),
		     MHD_RESPMEM_MUST_COPY);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct httpd *h = cls;

	(void)version;
	(void)upload_data;
	/* First call per request only announces the headers; a body is never
	 * expected, and anything uploaded is discarded. */
	if (!*con_cls) {
		*con_cls = h;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (strcmp(url, "/healthz") == 0 || strcmp(url, "/livez") == 0)
		return reply_text(conn, MHD_HTTP_OK, "ok\n");
	if (strcmp(url, "/readyz") == 0) {
		char detail[256] = "";
		char body[300];

		if (!h->ready_fn || h->ready_fn(h->ready_userdata, detail, sizeof(detail))) {
			if (!detail[0])
				return reply_text(conn, MHD_HTTP_OK, "ok\n");
			/* ready, with something worth knowing (e.g. BGP down) */
			snprintf(body, sizeof(body), "ok: %s\n", detail);
			return reply_text(conn, MHD_HTTP_OK, body);
		}
		snprintf(body, sizeof(body), "not ready: %s\n", detail);
		return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, body);
	}
	if (strcmp(url, "/metrics") == 0 && h->reg) {
		char *text;
		size_t len;

		if (metrics_render(h->reg, &text, &len) < 0)
			return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
		return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text,
			     len, MHD_RESPMEM_MUST_FREE);
	}
	return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

static void httpd_schedule(struct httpd *h)
{
	MHD_UNSIGNED_LONG_LONG timeout_ms;

	if (MHD_get_timeout(h->mhd, &timeout_ms) == MHD_YES)
		loop_timer_arm(h->timer, (uint64_t)timeout_ms * 1000u);
	else
		loop_timer_disarm(h->timer);
}

static void on_mhd_io(struct loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct httpd *h = userdata;

	(void)io;
	(void)fd;
	(void)events;
	MHD_run(h->mhd);
	httpd_schedule(h);
}

static void on_mhd_timer(struct loop_timer *t, void *userdata)
{
	struct httpd *h = userdata;

	(void)t;
	MHD_run(h->mhd);
	httpd_schedule(h);
}

struct httpd *httpd_new(struct loop *l, const char *addr, struct metrics *reg, int *ret_err)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	const union MHD_DaemonInfo *info;
	struct httpd *h;
	int one = 1, zero = 0, r;

	r = httpd_parse_addr(addr, &ss, &sslen, NULL);
	if (r < 0)
		goto fail_early;
	h = calloc(1, sizeof(*h));
	if (!h) {
		r = -ENOMEM;
		goto fail_early;
	}
	h->loop = l;
	h->reg = reg;
	h->listen_fd = -1;
	h->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->listen_fd == -1 && errno == EAFNOSUPPORT && ss.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr)) {
		/* ":PORT" on a kernel without IPv6 (ipv6.disable=1): all the
		 * addresses there are, which are IPv4 ones. */
		struct sockaddr_in sin = { .sin_family = AF_INET,
					   .sin_port = ((struct sockaddr_in6 *)&ss)->sin6_port,
					   .sin_addr.s_addr = htonl(INADDR_ANY) };

		memset(&ss, 0, sizeof(ss));
		memcpy(&ss, &sin, sizeof(sin));
		sslen = sizeof(sin);
		h->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (h->listen_fd == -1)
		goto fail_errno;
	setsockopt(h->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(h->listen_fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(h->listen_fd, (struct sockaddr *)&ss, sslen) == -1 ||
	    listen(h->listen_fd, 64) == -1)
		goto fail_errno;
	if (getsockname(h->listen_fd, (struct sockaddr *)&ss, &sslen) == 0)
		h->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							 : ((struct sockaddr_in *)&ss)->sin_port);
	h->mhd = MHD_start_daemon(MHD_USE_EPOLL, 0, NULL, NULL, on_request, h,
				  MHD_OPTION_LISTEN_SOCKET, h->listen_fd,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTPD_MAX_CONNECTIONS,
				  MHD_OPTION_CONNECTION_TIMEOUT,
				  (unsigned)HTTPD_CONNECTION_TIMEOUT_S, MHD_OPTION_END);
	if (!h->mhd) {
		r = -EIO;
		goto fail;
	}
	h->listen_fd = -1; /* MHD owns and closes it from here on */
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		r = -EIO;
		goto fail;
	}
	h->timer = loop_timer_new(l, on_mhd_timer, h);
	if (!h->timer) {
		r = -ENOMEM;
		goto fail;
	}
	r = loop_io_add(l, info->epoll_fd, EPOLLIN, on_mhd_io, h, &h->io);
	if (r < 0)
		goto fail;
	httpd_schedule(h);
	return h;
fail_errno:
	r = -errno;
fail:
	httpd_free(h);
fail_early:
	if (ret_err)
		*ret_err = r;
	return NULL;
}

void httpd_set_ready(struct httpd *h, httpd_ready_fn fn, void *userdata)
{
	h->ready_fn = fn;
	h->ready_userdata = userdata;
}

int httpd_port(const struct httpd *h)
{
	return h->port;
}

void httpd_free(struct httpd *h)
{
	if (!h)
		return;
	loop_io_free(h->io);
	loop_timer_free(h->timer);
	if (h->mhd)
		MHD_stop_daemon(h->mhd);
	if (h->listen_fd >= 0)
		close(h->listen_fd);
	free(h);
}
