/* The Kubernetes API client's request lifecycle, independent of how bytes
 * travel: building paths and bodies, the bearer token and its reloads,
 * retries the server asks for, metrics, and turning an answer into a
 * kube_result (Status reason and message, errno, parsed body).
 *
 * A request lives from kube_submit() until its completion callback has
 * returned, or until it is cancelled. The transport (lib/kube_curl.c, or a
 * fake in tests) moves each attempt's bytes and reports back through
 * kube_transport_*(). Callbacks can cancel requests, their own included,
 * at any point: a request inside a callback is only marked, and freed when
 * the callback returns.
 */
#include "ironlb/kube.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ironlb/kube_util.h"
#include "ironlb/loop.h"
#include "ironlb/metrics.h"

#ifndef IRONLB_VERSION
#define IRONLB_VERSION "0.0.0-unknown"
#endif

/* The largest body buffered (a list page, a Status): beyond it the answer
 * is refused with -EFBIG rather than growing without bound. Watch streams
 * are not buffered. */
#define KUBE_MAX_BODY ((size_t)256 << 20)
/* Extra time a watch may take past its timeoutSeconds before the client
 * gives up on the server. */
#define KUBE_WATCH_GRACE_US (60u * 1000000u)
#define KUBE_DEFAULT_RETRY_US 1000000u
#define KUBE_DEFAULT_MAX_IN_FLIGHT 16

struct kube_client {
	struct loop *loop;
	struct kube_config *cfg;
	struct kube_client_opts opts;
	char *user_agent;
	const struct kube_transport_ops *ops;
	void *tctx;
	char *token;
	uint64_t token_read_at;
	struct metric *m_requests;
	struct metric *m_duration;
	bool (*gate)(void *);
	void *gate_userdata;
	struct kube_request *reqs;
	struct kube_client_stats stats;
	/* Requests waiting for a slot: [0] KUBE_QUEUE_NORMAL, [1] background. */
	struct kube_request *qhead[2], *qtail[2];
	unsigned active; /* requests in the transport, watches not counted */
	bool pumping;
	bool freeing;
};

struct kube_request {
	struct kube_client *c;
	struct kube_request *prev, *next;
	char method[8];
	char verb[8];
	char *path; /* path, body and content_type live after the struct */
	char *url;  /* built when the request first starts */
	char *body;
	size_t body_len;
	char *content_type;
	enum kube_queue queue;
	bool discard_body;
	bool bypass_gate;
	bool queued;  /* waiting in qhead[queue - 1] */
	bool counted; /* counted in c->active */
	struct kube_request *qprev, *qnext;
	uint64_t timeout_us;
	kube_data_fn on_data;
	kube_done_fn done;
	void *userdata;
	void *tdata;
	struct loop_timer *retry_timer;
	/* the current attempt */
	long code;
	unsigned retry_after_s;
	int http_version;
	bool streaming_2xx;
	int abort_err;
	struct kube_buf resp;
	uint64_t started_us;
	uint64_t headers_us;
	unsigned attempts;
	bool token_retried;
	bool in_transport;
	/* callback bookkeeping */
	unsigned busy;
	bool cancelled;
};

/* ---- errors ---- */

int kube_code_errno(long code, const char *reason)
{
	if (code >= 200 && code < 300)
		return 0;
	switch (code) {
	case 400:
	case 422:
		return -EINVAL;
	case 401:
		return -EACCES;
	case 403:
		return -EPERM;
	case 404:
		return -ENOENT;
	case 405:
		return -EOPNOTSUPP;
	case 406:
	case 415:
		return -EPROTO;
	case 409:
		return reason && !strcmp(reason, "AlreadyExists") ? -EEXIST : -ESTALE;
	case 410:
		return -ETIME;
	case 413:
		return -EFBIG;
	case 429:
		return -EBUSY;
	case 503:
		return -EAGAIN;
	case 504:
		return -ETIMEDOUT;
	}
	if (code >= 500)
		return -EIO;
	return code >= 400 ? -EINVAL : -EPROTO;
}

/* ---- client ---- */

static void client_token_refresh(struct kube_client *c, bool force)
{
	uint64_t now = loop_now_us();
	char *t = NULL;

	if (!c->cfg->token_file)
		return;
	if (!force && now - c->token_read_at < c->opts.token_reload_us)
		return;
	c->token_read_at = now;
	/* A token file is a few hundred bytes on a tmpfs (a projected
	 * volume): reading it is as quick as any syscall. On failure the
	 * previous token is kept; a 401 will tell. */
	if (kube_token_read(c->cfg->token_file, &t) < 0)
		return;
	c->stats.token_reloads++;
	if (c->token && !strcmp(c->token, t)) {
		free(t);
		return;
	}
	if (c->token)
		explicit_bzero(c->token, strlen(c->token));
	free(c->token);
	c->token = t;
}

static const double duration_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
					  0.5,	 1,    2.5,   5,    10,	 30 };

struct kube_client *kube_client_new_transport(struct loop *loop, const struct kube_config *cfg,
					      const struct kube_client_opts *opts,
					      const struct kube_transport_ops *ops, void *ctx)
{
	struct kube_client *c = calloc(1, sizeof(*c));
	struct kube_buf ua = { 0 };

	if (!c)
		goto oom;
	c->loop = loop;
	c->ops = ops;
	c->tctx = ctx;
	if (opts)
		c->opts = *opts;
	if (!c->opts.timeout_us)
		c->opts.timeout_us = 30u * 1000000u;
	if (!c->opts.connect_timeout_us)
		c->opts.connect_timeout_us = 10u * 1000000u;
	if (!c->opts.max_retries)
		c->opts.max_retries = 3;
	if (!c->opts.max_retry_after_us)
		c->opts.max_retry_after_us = 10u * 1000000u;
	if (!c->opts.token_reload_us)
		c->opts.token_reload_us = 60u * 1000000u;
	if (!c->opts.max_in_flight)
		c->opts.max_in_flight = KUBE_DEFAULT_MAX_IN_FLIGHT;
	if (c->opts.user_agent)
		kube_buf_puts(&ua, c->opts.user_agent);
	else
		kube_buf_puts(&ua, "ironlb/" IRONLB_VERSION);
	c->user_agent = kube_buf_steal(&ua);
	c->opts.user_agent = c->user_agent;
	c->opts.metrics = NULL;
	if (cfg)
		c->cfg = kube_config_dup(cfg);
	else
		c->cfg = calloc(1, sizeof(*c->cfg));
	if (!c->user_agent || !c->cfg)
		goto oom;
	if (!c->cfg->server && !(c->cfg->server = strdup("http://invalid")))
		goto oom;
	if (c->cfg->token && !(c->token = strdup(c->cfg->token)))
		goto oom;
	c->token_read_at = loop_now_us();
	if (opts && opts->metrics) {
		c->m_requests = metrics_counter(opts->metrics, "ironlb_kube_requests_total",
						"Kubernetes API requests, by verb and HTTP code "
						"(\"<error>\" when no answer came).",
						"verb,code");
		c->m_duration = metrics_histogram(
			opts->metrics, "ironlb_kube_request_duration_seconds",
			"Kubernetes API request latency (watches: until the answer starts).",
			"verb", duration_bounds,
			sizeof(duration_bounds) / sizeof(duration_bounds[0]));
		if (!c->m_requests || !c->m_duration) {
			c->ops = NULL;
			kube_client_free(c);
			errno = EEXIST;
			return NULL;
		}
	}
	return c;
oom:
	if (c)
		c->ops = NULL;
	kube_client_free(c);
	errno = ENOMEM;
	return NULL;
}

struct kube_client *kube_client_new(struct loop *loop, const struct kube_config *cfg,
				    const struct kube_client_opts *opts)
{
	struct kube_client *c = kube_client_new_transport(loop, cfg, opts, NULL, NULL);
	const struct kube_transport_ops *ops;
	void *ctx;
	int r;

	if (!c)
		return NULL;
	/* The transport takes its TLS settings from the client's own copy of
	 * the configuration, which lives as long as it does. */
	r = kube_curl_transport(loop, c->cfg, &c->opts, &ops, &ctx);
	if (r < 0) {
		kube_client_free(c);
		errno = -r;
		return NULL;
	}
	c->ops = ops;
	c->tctx = ctx;
	return c;
}

static void request_free(struct kube_request *req);

void kube_client_free(struct kube_client *c)
{
	if (!c)
		return;
	c->freeing = true; /* cancelling must not start queued requests */
	for (struct kube_request *req = c->reqs, *next; req; req = next) {
		next = req->next;
		kube_request_cancel(req);
	}
	if (c->ops && c->ops->free)
		c->ops->free(c->tctx);
	if (c->token)
		explicit_bzero(c->token, strlen(c->token));
	free(c->token);
	free(c->user_agent);
	kube_config_free(c->cfg);
	free(c);
}

void kube_client_set_write_gate(struct kube_client *c, bool (*fn)(void *), void *userdata)
{
	c->gate = fn;
	c->gate_userdata = userdata;
}

void kube_client_get_stats(const struct kube_client *c, struct kube_client_stats *ret)
{
	*ret = c->stats;
}

const char *kube_client_namespace(const struct kube_client *c)
{
	return c->cfg->namespace;
}

struct loop *kube_client_loop(const struct kube_client *c)
{
	return c->loop;
}

const struct kube_config *kube_client_config(const struct kube_client *c)
{
	return c->cfg;
}

const struct kube_client_opts *kube_client_opts(const struct kube_client *c)
{
	return &c->opts;
}

void kube_transport_count_connects(struct kube_client *c, unsigned n)
{
	c->stats.connects += n;
}

/* ---- request accessors for transports ---- */

const char *kube_request_method(const struct kube_request *req)
{
	return req->method;
}

const char *kube_request_url(const struct kube_request *req)
{
	return req->url;
}

const char *kube_request_path(const struct kube_request *req)
{
	return req->path;
}

const char *kube_request_body(const struct kube_request *req, size_t *ret_len)
{
	if (ret_len)
		*ret_len = req->body_len;
	return req->body;
}

const char *kube_request_content_type(const struct kube_request *req)
{
	return req->content_type;
}

const char *kube_request_token(const struct kube_request *req)
{
	return req->c->token;
}

uint64_t kube_request_timeout_us(const struct kube_request *req)
{
	return req->timeout_us;
}

bool kube_request_streaming(const struct kube_request *req)
{
	return req->on_data != NULL;
}

void kube_request_set_transport_data(struct kube_request *req, void *data)
{
	req->tdata = data;
}

void *kube_request_transport_data(const struct kube_request *req)
{
	return req->tdata;
}

struct kube_client *kube_request_client(const struct kube_request *req)
{
	return req->c;
}

/* ---- lifecycle ---- */

static int queue_class(const struct kube_request *req)
{
	return req->queue == KUBE_QUEUE_BACKGROUND ? 1 : 0;
}

static void queue_remove(struct kube_request *req)
{
	struct kube_client *c = req->c;
	int q = queue_class(req);

	if (req->qprev)
		req->qprev->qnext = req->qnext;
	else
		c->qhead[q] = req->qnext;
	if (req->qnext)
		req->qnext->qprev = req->qprev;
	else
		c->qtail[q] = req->qprev;
	req->qprev = req->qnext = NULL;
	req->queued = false;
	c->stats.queued--;
}

/* Puts a request in its FIFO: at the back, or at the front for a retry,
 * which waited its turn once already. */
static void queue_add(struct kube_request *req, bool front)
{
	struct kube_client *c = req->c;
	int q = queue_class(req);

	if (front) {
		req->qnext = c->qhead[q];
		if (c->qhead[q])
			c->qhead[q]->qprev = req;
		else
			c->qtail[q] = req;
		c->qhead[q] = req;
	} else {
		req->qprev = c->qtail[q];
		if (c->qtail[q])
			c->qtail[q]->qnext = req;
		else
			c->qhead[q] = req;
		c->qtail[q] = req;
	}
	req->queued = true;
	if (++c->stats.queued > c->stats.max_queued)
		c->stats.max_queued = c->stats.queued;
}

static void request_free(struct kube_request *req)
{
	struct kube_client *c = req->c;

	if (req->prev)
		req->prev->next = req->next;
	else
		c->reqs = req->next;
	if (req->next)
		req->next->prev = req->prev;
	c->stats.in_flight--;
	if (req->queued)
		queue_remove(req);
	loop_timer_free(req->retry_timer);
	kube_buf_free(&req->resp);
	free(req->url);
	free(req);
}

/* Hands the request's next attempt to the transport. */
static int transport_start(struct kube_request *req)
{
	struct kube_client *c = req->c;
	int r;

	if (!req->url) {
		struct kube_buf url = { 0 };

		kube_buf_puts(&url, c->cfg->server);
		kube_buf_puts(&url, req->path);
		req->url = kube_buf_steal(&url);
		if (!req->url)
			return -ENOMEM;
	}
	kube_buf_free(&req->resp);
	req->code = 0;
	req->retry_after_s = 0;
	req->http_version = 0;
	req->streaming_2xx = false;
	req->abort_err = 0;
	req->headers_us = 0;
	req->started_us = loop_now_us();
	req->attempts++;
	client_token_refresh(c, false);
	if (!c->ops)
		return -ENOTCONN;
	req->in_transport = true;
	r = c->ops->start(req, c->tctx);
	if (r < 0) {
		req->in_transport = false;
		return r;
	}
	c->stats.requests++;
	if (!req->on_data) {
		req->counted = true;
		c->active++;
	}
	return 0;
}

static void request_complete(struct kube_request *req, int err, const char *message);
static bool is_write(const char *method);

/* Starts queued requests while there are free slots, the first FIFO
 * before the background one. */
static void queue_pump(struct kube_client *c)
{
	if (c->pumping || c->freeing)
		return;
	c->pumping = true;
	while (c->active < c->opts.max_in_flight) {
		struct kube_request *req = c->qhead[0] ? c->qhead[0] : c->qhead[1];
		int r;

		if (!req)
			break;
		queue_remove(req);
		/* The gate again: leadership may have ended while it waited. */
		if (is_write(req->method) && !req->bypass_gate && c->gate &&
		    !c->gate(c->gate_userdata))
			request_complete(req, -EPERM, "refused by the write gate");
		else if ((r = transport_start(req)) < 0)
			request_complete(req, r, "could not start the request");
	}
	c->pumping = false;
}

/* A request left the transport: its slot goes to the next in line. */
static void slot_release(struct kube_request *req)
{
	if (!req->counted)
		return;
	req->counted = false;
	req->c->active--;
}

/* Starts the request's next attempt, or queues it when it is a queued
 * request and every slot is taken (or others wait before it). front: a
 * retry, which goes before the requests that have not been sent yet. */
static int attempt_start(struct kube_request *req, bool front)
{
	struct kube_client *c = req->c;

	if (req->queue != KUBE_QUEUE_NONE &&
	    (c->active >= c->opts.max_in_flight || (!front && c->qhead[queue_class(req)]) ||
	     (req->queue == KUBE_QUEUE_BACKGROUND && c->qhead[0]))) {
		queue_add(req, front);
		return 0;
	}
	return transport_start(req);
}

void kube_request_cancel(struct kube_request *req)
{
	struct kube_client *c;

	if (!req || req->cancelled)
		return;
	c = req->c;
	req->cancelled = true;
	if (req->in_transport) {
		req->in_transport = false;
		c->ops->stop(req, c->tctx);
	}
	slot_release(req);
	if (req->queued)
		queue_remove(req);
	if (req->retry_timer)
		loop_timer_disarm(req->retry_timer);
	if (!req->busy)
		request_free(req);
	queue_pump(c);
}

static bool is_write(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

int kube_submit(struct kube_client *c, const struct kube_call *call, kube_done_fn done,
		void *userdata, struct kube_request **ret_req)
{
	struct kube_request *req;
	char *path = NULL, *body = NULL, *p;
	const char *ctype = NULL;
	size_t plen, blen = 0, clen = 0;
	int r;

	if (!call->method || strlen(call->method) >= sizeof(req->method) ||
	    (call->verb && strlen(call->verb) >= sizeof(req->verb)) ||
	    (!call->res && !call->raw_path) || call->queue > KUBE_QUEUE_BACKGROUND)
		return -EINVAL;
	if (call->raw_path && call->raw_path[0] != '/')
		return -EINVAL;
	if (is_write(call->method) && !call->bypass_gate && c->gate && !c->gate(c->gate_userdata))
		return -EPERM;
	if (call->raw_path) {
		path = strdup(call->raw_path);
		r = path ? 0 : -ENOMEM;
	} else {
		r = kube_path_build(call->res, call->ns, call->name, call->subresource, call->list,
				    &path);
	}
	if (r < 0)
		return r;
	if (call->body) {
		body = json_dumps(call->body, JSON_COMPACT); /* new string */
		if (!body) {
			free(path);
			return -EINVAL;
		}
		blen = strlen(body);
		ctype = call->content_type ? call->content_type : "application/json";
		clen = strlen(ctype) + 1;
	}
	/* One allocation for the request, its path, body and content type:
	 * a backlog of queued writes costs little more than its bytes. */
	plen = strlen(path) + 1;
	req = calloc(1, sizeof(*req) + plen + (body ? blen + 1 : 0) + clen);
	if (!req) {
		free(path);
		free(body);
		return -ENOMEM;
	}
	p = (char *)(req + 1);
	req->path = memcpy(p, path, plen);
	p += plen;
	free(path);
	if (body) {
		req->body = memcpy(p, body, blen + 1);
		req->body_len = blen;
		p += blen + 1;
		req->content_type = memcpy(p, ctype, clen);
		free(body);
	}
	req->c = c;
	snprintf(req->method, sizeof(req->method), "%s", call->method);
	snprintf(req->verb, sizeof(req->verb), "%s", call->verb ? call->verb : call->method);
	req->on_data = call->on_data;
	req->done = done;
	req->userdata = userdata;
	/* A watch never waits for a slot: it would hold one for minutes. */
	req->queue = call->on_data ? KUBE_QUEUE_NONE : call->queue;
	req->discard_body = call->discard_body;
	req->bypass_gate = call->bypass_gate;
	if (call->timeout_us == UINT64_MAX)
		req->timeout_us = 0;
	else if (call->timeout_us)
		req->timeout_us = call->timeout_us;
	else if (call->on_data)
		req->timeout_us = call->list && call->list->timeout_s
					  ? call->list->timeout_s * 1000000ull + KUBE_WATCH_GRACE_US
					  : 0;
	else
		req->timeout_us = c->opts.timeout_us;
	req->next = c->reqs;
	if (c->reqs)
		c->reqs->prev = req;
	c->reqs = req;
	c->stats.in_flight++;
	r = attempt_start(req, false);
	if (r < 0) {
		request_free(req);
		return r;
	}
	if (ret_req)
		*ret_req = req;
	return 0;
}

void kube_transport_headers(struct kube_request *req, long code, unsigned retry_after_s,
			    int http_version)
{
	req->code = code;
	req->retry_after_s = retry_after_s;
	req->http_version = http_version;
	req->headers_us = loop_now_us();
	req->streaming_2xx = req->on_data && code >= 200 && code < 300;
}

int kube_transport_data(struct kube_request *req, const void *data, size_t len)
{
	int r;

	if (req->cancelled)
		return -ECANCELED;
	if (req->abort_err)
		return req->abort_err;
	if (req->streaming_2xx) {
		req->busy++;
		r = req->on_data(data, len, req->userdata);
		req->busy--;
		if (req->cancelled) {
			if (!req->busy)
				request_free(req);
			return -ECANCELED;
		}
		if (r < 0)
			req->abort_err = r;
		return r < 0 ? r : 0;
	}
	if (req->discard_body && req->code >= 200 && req->code < 300)
		return 0;
	if (req->resp.len + len > KUBE_MAX_BODY) {
		req->abort_err = -EFBIG;
		return -EFBIG;
	}
	if (kube_buf_append(&req->resp, data, len) < 0) {
		req->abort_err = -ENOMEM;
		return -ENOMEM;
	}
	return 0;
}

static void count_attempt(struct kube_request *req, uint64_t now)
{
	struct kube_client *c = req->c;
	char code[16];
	uint64_t end = req->on_data && req->headers_us ? req->headers_us : now;

	if (req->code)
		snprintf(code, sizeof(code), "%ld", req->code);
	else
		snprintf(code, sizeof(code), "<error>");
	if (c->m_requests)
		metric_add(c->m_requests, 1, req->verb, code);
	if (c->m_duration)
		metric_observe(c->m_duration, (double)(end - req->started_us) / 1e6, req->verb);
}

static void on_retry_timer(struct loop_timer *t, void *userdata);

static bool schedule_retry(struct kube_request *req, uint64_t delay_us)
{
	if (!req->retry_timer) {
		req->retry_timer = loop_timer_new(req->c->loop, on_retry_timer, req);
		if (!req->retry_timer)
			return false;
	}
	req->c->stats.retries++;
	loop_timer_arm(req->retry_timer, delay_us);
	return true;
}

/* Whether this attempt's answer asks for another attempt, and when. */
static bool want_retry(struct kube_request *req, int err, uint64_t *ret_delay)
{
	struct kube_client *c = req->c;

	if (err || req->abort_err || req->cancelled)
		return false;
	if (req->code == 401 && c->cfg->token_file && !req->token_retried) {
		char *before = c->token ? strdup(c->token) : NULL;
		bool changed;

		client_token_refresh(c, true);
		changed = (before == NULL) != (c->token == NULL) ||
			  (before && c->token && strcmp(before, c->token) != 0);
		free(before);
		req->token_retried = true;
		if (changed) {
			*ret_delay = 0;
			return true;
		}
		return false;
	}
	if (req->attempts > c->opts.max_retries)
		return false;
	if (req->code == 429 || (req->code >= 500 && req->retry_after_s > 0)) {
		uint64_t d = req->retry_after_s ? req->retry_after_s * 1000000ull
						: KUBE_DEFAULT_RETRY_US;

		*ret_delay = d > c->opts.max_retry_after_us ? c->opts.max_retry_after_us : d;
		return true;
	}
	return false;
}

static void status_fields(json_t *body, const char **reason, const char **message)
{
	json_t *v;

	if (!json_is_object(body))
		return;
	v = json_object_get(body, "kind"); /* borrowed */
	if (!json_is_string(v) || strcmp(json_string_value(v), "Status") != 0)
		return;
	v = json_object_get(body, "reason"); /* borrowed */
	if (json_is_string(v))
		*reason = json_string_value(v);
	v = json_object_get(body, "message"); /* borrowed */
	if (json_is_string(v))
		*message = json_string_value(v);
}

static void request_complete(struct kube_request *req, int err, const char *message)
{
	struct kube_result res = {
		.verb = req->verb,
		.path = req->path,
		.code = req->code,
		.reason = "",
		.message = message ? message : "",
		.http_version = req->http_version,
		.attempts = req->attempts,
	};
	json_t *body = NULL;
	char msg[JSON_ERROR_TEXT_LENGTH + 64];

	if (req->resp.len) {
		json_error_t je;

		body = json_loadb(req->resp.data, req->resp.len, 0, &je); /* new */
		if (!body && !err && !req->abort_err && req->code >= 200 && req->code < 300) {
			snprintf(msg, sizeof(msg), "invalid JSON in the answer: %s", je.text);
			err = -EBADMSG;
			res.message = msg;
		}
	}
	res.body = body;
	if (req->abort_err) {
		err = req->abort_err;
		if (err == -EFBIG)
			res.message = "answer too large";
	}
	if (!err && req->code && (req->code < 200 || req->code >= 300)) {
		status_fields(body, &res.reason, &res.message);
		err = kube_code_errno(req->code, res.reason);
		if (!res.message[0] && !body && req->resp.len) {
			/* Not JSON (a proxy's error page): show its start. */
			snprintf(msg, sizeof(msg), "%.120s", req->resp.data);
			for (char *p = msg; *p; p++)
				if ((unsigned char)*p < 0x20)
					*p = ' ';
			res.message = msg;
		}
	} else if (!err && !req->code) {
		err = -EPROTO;
		res.message = "no answer";
	}
	res.err = err;
	req->busy++;
	if (req->done && !req->cancelled)
		req->done(&res, req->userdata);
	req->busy--;
	json_decref(body);
	request_free(req);
}

void kube_transport_end(struct kube_request *req, int err, const char *message)
{
	uint64_t delay;

	struct kube_client *c = req->c;

	if (!req->in_transport)
		return;
	req->in_transport = false;
	slot_release(req);
	count_attempt(req, loop_now_us());
	if (err == -ECANCELED && req->abort_err)
		err = 0;
	if (want_retry(req, err, &delay) && schedule_retry(req, delay)) {
		queue_pump(c);
		return;
	}
	request_complete(req, err, message);
	queue_pump(c);
}

static void on_retry_timer(struct loop_timer *t, void *userdata)
{
	struct kube_request *req = userdata;
	int r;

	(void)t;
	r = attempt_start(req, true);
	if (r < 0)
		request_complete(req, r, "could not start the request");
}

/* ---- convenience ---- */

int kube_get(struct kube_client *c, const struct kube_resource *res, const char *ns,
	     const char *name, kube_done_fn done, void *userdata, struct kube_request **ret_req)
{
	struct kube_call call = { .method = "GET", .res = res, .ns = ns, .name = name };

	if (!name || !name[0])
		return -EINVAL;
	return kube_submit(c, &call, done, userdata, ret_req);
}

int kube_create(struct kube_client *c, const struct kube_resource *res, const char *ns, json_t *obj,
		kube_done_fn done, void *userdata, struct kube_request **ret_req)
{
	struct kube_call call = { .method = "POST", .res = res, .ns = ns, .body = obj };

	if (!json_is_object(obj) || (res->namespaced && (!ns || !ns[0])))
		return -EINVAL;
	return kube_submit(c, &call, done, userdata, ret_req);
}

int kube_update(struct kube_client *c, const struct kube_resource *res, json_t *obj,
		const char *subresource, kube_done_fn done, void *userdata,
		struct kube_request **ret_req)
{
	struct kube_call call = {
		.method = "PUT", .res = res, .subresource = subresource, .body = obj
	};
	struct kube_meta m;

	if (kube_meta_get(obj, true, false, &m, NULL) < 0)
		return -EINVAL;
	call.ns = m.ns;
	call.name = m.name;
	return kube_submit(c, &call, done, userdata, ret_req);
}

int kube_patch(struct kube_client *c, const struct kube_resource *res, const char *ns,
	       const char *name, const char *subresource, json_t *patch,
	       const char *resource_version, kube_done_fn done, void *userdata,
	       struct kube_request **ret_req)
{
	struct kube_call call = { .method = "PATCH",
				  .res = res,
				  .ns = ns,
				  .name = name,
				  .subresource = subresource,
				  .body = patch,
				  .content_type = KUBE_MERGE_PATCH };
	json_t *copy = NULL, *md;
	int r;

	if (!name || !name[0] || !json_is_object(patch))
		return -EINVAL;
	if (resource_version) {
		copy = json_copy(patch); /* new, shallow: only metadata is replaced */
		if (!copy)
			return -ENOMEM;
		md = json_object_get(copy, "metadata");			 /* borrowed */
		md = json_is_object(md) ? json_copy(md) : json_object(); /* new */
		if (!md ||
		    json_object_set_new(md, "resourceVersion", json_string(resource_version)) < 0 ||
		    json_object_set_new(copy, "metadata", md) < 0) { /* steals md */
			json_decref(copy);
			return -ENOMEM;
		}
		call.body = copy;
	}
	r = kube_submit(c, &call, done, userdata, ret_req);
	json_decref(copy);
	return r;
}

int kube_delete(struct kube_client *c, const struct kube_resource *res, const char *ns,
		const char *name, const char *resource_version, kube_done_fn done, void *userdata,
		struct kube_request **ret_req)
{
	struct kube_call call = { .method = "DELETE", .res = res, .ns = ns, .name = name };
	json_t *opts = NULL;
	int r;

	if (!name || !name[0])
		return -EINVAL;
	if (resource_version) {
		opts = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "DeleteOptions",
				 "preconditions", "resourceVersion", resource_version); /* new */
		if (!opts)
			return -ENOMEM;
		call.body = opts;
	}
	r = kube_submit(c, &call, done, userdata, ret_req);
	json_decref(opts);
	return r;
}

int kube_list(struct kube_client *c, const struct kube_resource *res, const char *ns,
	      const struct kube_list_opts *opts, kube_done_fn done, void *userdata,
	      struct kube_request **ret_req)
{
	struct kube_list_opts o = { 0 };
	struct kube_call call = {
		.method = "GET", .verb = "LIST", .res = res, .ns = ns, .list = &o
	};

	if (opts)
		o = *opts;
	o.watch = false;
	return kube_submit(c, &call, done, userdata, ret_req);
}

int kube_watch(struct kube_client *c, const struct kube_resource *res, const char *ns,
	       const struct kube_list_opts *opts, kube_data_fn on_data, kube_done_fn done,
	       void *userdata, struct kube_request **ret_req)
{
	struct kube_list_opts o = { 0 };
	struct kube_call call = { .method = "GET",
				  .verb = "WATCH",
				  .res = res,
				  .ns = ns,
				  .list = &o,
				  .on_data = on_data };

	if (!on_data)
		return -EINVAL;
	if (opts)
		o = *opts;
	o.watch = true;
	o.limit = 0;
	o.continue_token = NULL;
	return kube_submit(c, &call, done, userdata, ret_req);
}
