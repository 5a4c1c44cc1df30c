/* The Kubernetes API client: asynchronous REST requests driven by the
 * daemon's event loop.
 *
 * Every request is non-blocking and completes through a callback, on the
 * loop, never from inside the call that submitted it. HTTP goes through
 * libcurl's multi socket interface: one connection to the API server is
 * reused, and with TLS requests are multiplexed over HTTP/2 when the server
 * offers it (watches included). The client adds the bearer token (re-read
 * from a token file every minute and after a 401), retries a request the
 * server asked to retry later (429, or 5xx with Retry-After; bounded), and
 * counts requests in ironlb_kube_requests_total{verb,code} and
 * ironlb_kube_request_duration_seconds{verb}.
 *
 * The client never logs: a kube_result carries the HTTP code, the Status
 * reason and message, and a negative errno, for the daemon to log.
 *
 *	static void on_done(const struct kube_result *res, void *ud)
 *	{
 *		if (res->err < 0)
 *			log_warn("main", "get failed", LF_INT("code", res->code),
 *				 LF_STR("reason", res->reason), LF_STR("message", res->message));
 *	}
 *	kube_get(client, &KUBE_SERVICES, "default", "web", on_done, ctx, NULL);
 */
#ifndef IRONLB_KUBE_H
#define IRONLB_KUBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ironlb/kube_config.h"
#include "ironlb/kube_resource.h"

struct loop;
struct metrics;
struct kube_client;
struct kube_request;

/* Content types of PATCH bodies. */
#define KUBE_MERGE_PATCH "application/merge-patch+json"
#define KUBE_JSON_PATCH "application/json-patch+json"

struct kube_client_opts {
	struct metrics *metrics;     /* registers the request metrics on it; NULL: none */
	const char *user_agent;	     /* default "ironlb/<version>" */
	uint64_t timeout_us;	     /* per request (not watches); default 30 s */
	uint64_t connect_timeout_us; /* default 10 s */
	unsigned max_retries;	     /* of a request the server asked to retry; default 3 */
	uint64_t max_retry_after_us; /* cap on the server's Retry-After; default 10 s */
	uint64_t token_reload_us;    /* re-read period of a token file; default 60 s */
	bool http1;		     /* never negotiate HTTP/2 (tests) */
	/* Queued requests (kube_call.queue, below) wait while this many
	 * requests are in flight (watches not counted); default 16. Every
	 * request in flight holds transport buffers, so a burst of
	 * thousands waits here, in order, instead of opening thousands of
	 * streams at once. */
	unsigned max_in_flight;
};

/* What a request produced. Pointers are borrowed and valid only during the
 * completion callback (json_incref the body to keep it). */
struct kube_result {
	/* 0 when the request succeeded: a 2xx answer whose body (if any)
	 * is JSON. Otherwise a negative errno: for HTTP errors
	 * kube_code_errno(code) (-ENOENT for 404, -ESTALE for 409 Conflict,
	 * -EEXIST for 409 AlreadyExists, ...); for transport failures what
	 * went wrong (-ECONNREFUSED, -ETIMEDOUT, -ECONNRESET, -EPROTO for
	 * TLS, -EBADMSG for a truncated or non-JSON body, -ECANCELED when a
	 * stream callback stopped it). */
	int err;
	long code;	     /* HTTP status, 0 when no answer came */
	const char *verb;    /* "GET", "LIST", "WATCH", "POST", "PUT", "PATCH", "DELETE" */
	const char *path;    /* the request path with its query */
	const char *reason;  /* Status.reason ("NotFound", "Conflict", ...) or "" */
	const char *message; /* Status.message, the transport error text, or "" */
	json_t *body;	     /* the parsed body (object or Status), or NULL */
	int http_version;    /* 1 or 2; 0 when unknown */
	unsigned attempts;   /* 1 + the retries made */
};

typedef void (*kube_done_fn)(const struct kube_result *res, void *userdata);
/* Stream data of a watch, as it arrives, only for a 2xx answer. Return 0 to
 * continue, or a negative errno to stop the request: the completion
 * callback then gets that error. */
typedef int (*kube_data_fn)(const char *data, size_t len, void *userdata);

/* When a request starts. KUBE_QUEUE_NONE (the default, and all the
 * convenience functions) starts it at once: leader election, informers and
 * watches must never wait behind a burst of writes. KUBE_QUEUE_NORMAL waits
 * in a FIFO while kube_client_opts.max_in_flight requests are in flight;
 * KUBE_QUEUE_BACKGROUND waits in a second FIFO served only when the first
 * is empty (Events, annotations). A retry of a queued request goes to the
 * front of its FIFO. */
enum kube_queue { KUBE_QUEUE_NONE = 0, KUBE_QUEUE_NORMAL, KUBE_QUEUE_BACKGROUND };

/* A request as the generic entry point takes it. */
struct kube_call {
	const char *method;		 /* "GET", "POST", "PUT", "PATCH", "DELETE" */
	const char *verb;		 /* metric label; default: method ("LIST", "WATCH") */
	const struct kube_resource *res; /* with ns, name, subresource, list; or... */
	const char *ns;
	const char *name;
	const char *subresource;
	const struct kube_list_opts *list;
	const char *raw_path; /* ...a literal path with query ("/version") */
	json_t *body;	      /* borrowed; serialised at submission */
	const char *content_type;
	uint64_t timeout_us; /* 0: the client's default; UINT64_MAX: none */
	kube_data_fn on_data;
	bool bypass_gate; /* a write allowed even when the write gate says no */
	enum kube_queue queue;
	/* A 2xx answer's body is neither kept nor parsed (kube_result.body
	 * is NULL): for writes whose answer the caller does not read. Error
	 * answers are parsed as usual. */
	bool discard_body;
};

/* ---- client ---- */

/* cfg is copied. NULL on failure with errno set (EEXIST: the metrics are
 * already registered on opts->metrics). */
struct kube_client *kube_client_new(struct loop *loop, const struct kube_config *cfg,
				    const struct kube_client_opts *opts);
/* Cancels what is still in flight (without callbacks). Not from inside one
 * of this client's callbacks. NULL is a no-op. */
void kube_client_free(struct kube_client *c);

/* A check made before every write (POST, PUT, PATCH, DELETE) not marked
 * bypass_gate: when it returns false the write is refused with -EPERM.
 * Daemons point it at leader_is_leader() so no write leaves a replica that
 * is not the leader, whatever path it comes from. fn NULL removes it. */
void kube_client_set_write_gate(struct kube_client *c, bool (*fn)(void *), void *userdata);

struct kube_client_stats {
	uint64_t requests; /* HTTP exchanges, retries included */
	uint64_t connects; /* new connections opened */
	uint64_t retries;  /* requests re-sent (Retry-After, new token) */
	uint64_t token_reloads;
	unsigned in_flight;  /* requests submitted and not finished, queued ones included */
	unsigned queued;     /* of those, waiting for a slot (kube_call.queue) */
	unsigned max_queued; /* the most that ever waited at once */
};
void kube_client_get_stats(const struct kube_client *c, struct kube_client_stats *ret);

/* The namespace of the configuration (context namespace, or the service
 * account's), or NULL. */
const char *kube_client_namespace(const struct kube_client *c);

/* ---- requests ----
 * All return 0 after queueing the request, or a negative errno without
 * calling done (-EINVAL for a bad call, -EPERM refused by the write gate,
 * -ENOMEM). ret_req (may be NULL) gets a handle to cancel the request with;
 * it is invalid once done has returned. */

int kube_submit(struct kube_client *c, const struct kube_call *call, kube_done_fn done,
		void *userdata, struct kube_request **ret_req);

/* Cancels a request: its callbacks are not called. NULL is a no-op. May be
 * called from any callback, including the request's own. */
void kube_request_cancel(struct kube_request *req);

int kube_get(struct kube_client *c, const struct kube_resource *res, const char *ns,
	     const char *name, kube_done_fn done, void *userdata, struct kube_request **ret_req);
/* POST obj (borrowed) to the collection of ns (NULL/"" for cluster-scoped). */
int kube_create(struct kube_client *c, const struct kube_resource *res, const char *ns, json_t *obj,
		kube_done_fn done, void *userdata, struct kube_request **ret_req);
/* PUT obj (borrowed) to its own path (namespace and name from its metadata),
 * or to its subresource ("status"). metadata.resourceVersion, when set, is
 * the precondition: the server answers 409 Conflict if the object changed. */
int kube_update(struct kube_client *c, const struct kube_resource *res, json_t *obj,
		const char *subresource, kube_done_fn done, void *userdata,
		struct kube_request **ret_req);
/* JSON merge patch (RFC 7386) of ns/name or its subresource; patch is
 * borrowed. resource_version non-NULL adds metadata.resourceVersion to the
 * patch, which makes it conditional like an update. */
int kube_patch(struct kube_client *c, const struct kube_resource *res, const char *ns,
	       const char *name, const char *subresource, json_t *patch,
	       const char *resource_version, kube_done_fn done, void *userdata,
	       struct kube_request **ret_req);
/* DELETE; resource_version non-NULL is a precondition. */
int kube_delete(struct kube_client *c, const struct kube_resource *res, const char *ns,
		const char *name, const char *resource_version, kube_done_fn done, void *userdata,
		struct kube_request **ret_req);
/* One page of a list. */
int kube_list(struct kube_client *c, const struct kube_resource *res, const char *ns,
	      const struct kube_list_opts *opts, kube_done_fn done, void *userdata,
	      struct kube_request **ret_req);
/* A watch stream: on_data gets the raw bytes (feed them to a
 * watch_framer); done is called when the stream ends. opts->watch is
 * implied. The request has no client-side timeout other than
 * opts->timeout_s plus a grace period. */
int kube_watch(struct kube_client *c, const struct kube_resource *res, const char *ns,
	       const struct kube_list_opts *opts, kube_data_fn on_data, kube_done_fn done,
	       void *userdata, struct kube_request **ret_req);

/* ---- read, modify, write ----
 * GET the object, let mutate change it in place, PUT it back with the
 * resourceVersion it was read at; on 409 Conflict start again from the GET,
 * at most max_attempts times (0: 5). mutate returns 0 to write, KUBE_NO_CHANGE
 * to stop without writing (done then gets the GET's result), or a negative
 * errno to abort (done gets that err with the GET's code). done gets the
 * last request's result; attempts counts the PUTs made. */
#define KUBE_NO_CHANGE 1
typedef int (*kube_mutate_fn)(json_t *obj, void *userdata);

struct kube_retry;
int kube_update_retry(struct kube_client *c, const struct kube_resource *res, const char *ns,
		      const char *name, const char *subresource, unsigned max_attempts,
		      kube_mutate_fn mutate, kube_done_fn done, void *userdata,
		      struct kube_retry **ret_op);
/* Cancels the operation; no callback follows. NULL is a no-op. Allowed
 * from mutate, not after done has been called. */
void kube_retry_cancel(struct kube_retry *op);

/* ---- helpers ---- */

/* The negative errno for an HTTP status (0 for 2xx). reason distinguishes
 * 409 AlreadyExists (-EEXIST) from Conflict (-ESTALE); may be NULL. */
int kube_code_errno(long code, const char *reason);

/* ---- transports ----
 * The client talks HTTP through a transport: libcurl in production, a fake
 * in unit tests that answers requests from a script. A transport gets
 * start() for every attempt and answers, later (never from inside start()),
 * with kube_transport_headers(), kube_transport_data() any number of times,
 * then kube_transport_end(). stop() tells it to forget a request it has not
 * ended (cancelled); it must not call back for it afterwards. */
struct kube_transport_ops {
	int (*start)(struct kube_request *req, void *ctx);
	void (*stop)(struct kube_request *req, void *ctx);
	void (*free)(void *ctx);
};

struct kube_client *kube_client_new_transport(struct loop *loop, const struct kube_config *cfg,
					      const struct kube_client_opts *opts,
					      const struct kube_transport_ops *ops, void *ctx);

/* What the transport sends (valid until the request ends or is stopped). */
const char *kube_request_method(const struct kube_request *req);
const char *kube_request_url(const struct kube_request *req);			/* server + path */
const char *kube_request_path(const struct kube_request *req);			/* path + query */
const char *kube_request_body(const struct kube_request *req, size_t *ret_len); /* or NULL */
const char *kube_request_content_type(const struct kube_request *req);
const char *kube_request_token(const struct kube_request *req);	  /* bearer token or NULL */
uint64_t kube_request_timeout_us(const struct kube_request *req); /* 0: none */
bool kube_request_streaming(const struct kube_request *req);
/* Per-request storage for the transport. */
void kube_request_set_transport_data(struct kube_request *req, void *data);
void *kube_request_transport_data(const struct kube_request *req);

/* The answer: the status line (retry_after_s: the Retry-After header, 0 if
 * none; http_version 1 or 2). */
void kube_transport_headers(struct kube_request *req, long code, unsigned retry_after_s,
			    int http_version);
/* Body bytes. Returns 0, or a negative errno when the request wants no
 * more (the transport then aborts and calls kube_transport_end()). */
int kube_transport_data(struct kube_request *req, const void *data, size_t len);
/* The end of the exchange: err 0 when the whole answer arrived, else a
 * negative errno and a message (may be NULL). The request may be retried
 * (start() again) or completed and freed: the transport must not touch it
 * after this call. */
void kube_transport_end(struct kube_request *req, int err, const char *message);
/* A transport counts the connections it opened (for stats). */
void kube_transport_count_connects(struct kube_client *c, unsigned n);
struct kube_client *kube_request_client(const struct kube_request *req);
struct loop *kube_client_loop(const struct kube_client *c);
const struct kube_config *kube_client_config(const struct kube_client *c);
const struct kube_client_opts *kube_client_opts(const struct kube_client *c);

/* The libcurl transport (lib/kube_curl.c). */
int kube_curl_transport(struct loop *loop, const struct kube_config *cfg,
			const struct kube_client_opts *opts,
			const struct kube_transport_ops **ret_ops, void **ret_ctx);

#endif
