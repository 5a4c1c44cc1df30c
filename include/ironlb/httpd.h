/* The probes and metrics endpoint of a daemon: /healthz, /readyz and
 * /metrics over HTTP/1.1, served by libmicrohttpd driven from the event loop
 * (no threads of its own). */
#ifndef IRONLB_HTTPD_H
#define IRONLB_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct loop;
struct metrics;
struct httpd;

/* Fills detail (NUL-terminated, at most len bytes) with a short reason when
 * not ready, and returns whether the daemon is ready for traffic. A ready
 * daemon may leave a detail too: /readyz then answers "ok: DETAIL". */
typedef bool (*httpd_ready_fn)(void *userdata, char *detail, size_t len);

/* Parses a listen address: ":PORT" (all addresses, IPv4 and IPv6),
 * "IPv4:PORT", "[IPv6]:PORT". Port 1..65535 (0 is allowed: any free port,
 * for tests). 0 or -EINVAL; *ret_why names the problem. */
int httpd_parse_addr(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len,
		     const char **ret_why);

/* Binds addr and serves. reg may be NULL (then /metrics is 404). Returns NULL
 * and sets *ret_err to a negative errno on failure (e.g. -EADDRINUSE). */
struct httpd *httpd_new(struct loop *l, const char *addr, struct metrics *reg, int *ret_err);
/* Without a hook, /readyz answers ready. */
void httpd_set_ready(struct httpd *h, httpd_ready_fn fn, void *userdata);
/* The port actually bound (useful with port 0). */
int httpd_port(const struct httpd *h);
void httpd_free(struct httpd *h);

#endif
