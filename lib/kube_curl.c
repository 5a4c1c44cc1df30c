/* The libcurl transport of the Kubernetes client: the multi socket
 * interface driven by our event loop.
 *
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when
 * its next timeout is due (CURLMOPT_TIMERFUNCTION); we turn those into loop
 * watchers and one loop timer, and call curl_multi_socket_action() when
 * they fire. One multi handle means one connection cache: requests reuse
 * the connection to the API server, and over TLS they are multiplexed as
 * HTTP/2 streams when the server offers h2 (PIPEWAIT makes a burst of
 * requests wait for the first connection instead of opening one each).
 *
 * Easy handles are reused: a finished transfer's handle is reset and kept
 * in a small pool (as many as the client lets be in flight), so that a
 * burst of short requests does not allocate and free curl's per-handle
 * state and buffers for each. The upload buffer is cut to curl's minimum
 * (16 KiB instead of 64 KiB): our request bodies are small.
 *
 * curl forbids calling multi functions from inside its callbacks, yet our
 * write callback runs user code (watch handlers) that may submit or cancel
 * requests. So while curl is on the stack (in_curl), adding a handle is
 * queued and a cancelled transfer is only detached from its request; both
 * are settled once curl has returned.
 *
 * TLS material from the kubeconfig (CA, client certificate and key) lives in
 * memory. curl takes it as blobs with OpenSSL; its GnuTLS backend, the one
 * Debian's libcurl4-gnutls-dev links (chosen because libmicrohttpd loads
 * GnuTLS anyway, and OpenSSL's libcrypto would add ~4 MiB of resident
 * pages), takes file names only in curl 7.88. There each PEM goes into a
 * sealed memfd named by /proc/self/fd/N: it never touches a disk.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libssh2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ironlb/kube.h"
#include "ironlb/loop.h"

struct xfer {
	struct curl_ctx *t;
	CURL *easy;
	struct kube_request *req; /* NULL once detached (cancelled) */
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
	unsigned retry_after_s;
	bool headers_done;
	bool added;		    /* in the multi handle */
	struct xfer *prev, *next;   /* all transfers */
	struct xfer *next_deferred; /* pending add or pending cleanup */
	bool deferred;
};

struct curl_ctx {
	struct loop *loop;
	const struct kube_config *cfg;
	const struct kube_client_opts *opts;
	CURLM *multi;
	struct loop_timer *timer;
	unsigned in_curl;
	struct xfer *xfers;
	struct xfer *pending_add;
	struct xfer *pending_cleanup;
	CURL **idle; /* reset easy handles for the next transfers */
	unsigned nidle, max_idle;
	bool pem_files; /* the TLS backend takes file names, not blobs */
	int pem_fd[3];	/* memfds of the CA, certificate, key; -1 if none */
	char pem_path[3][32];
};

enum { PEM_CA, PEM_CERT, PEM_KEY };

static unsigned curl_global_refs;

/* ---- transfers ---- */

static void xfer_destroy(struct xfer *x)
{
	struct curl_ctx *t = x->t;

	if (x->added)
		curl_multi_remove_handle(t->multi, x->easy);
	if (x->easy && t->nidle < t->max_idle) {
		curl_easy_reset(x->easy);
		t->idle[t->nidle++] = x->easy;
	} else {
		curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->headers);
	if (x->prev)
		x->prev->next = x->next;
	else
		t->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	free(x);
}

static void flush_deferred(struct curl_ctx *t)
{
	if (t->in_curl)
		return;
	while (t->pending_cleanup) {
		struct xfer *x = t->pending_cleanup;

		t->pending_cleanup = x->next_deferred;
		xfer_destroy(x);
	}
	while (t->pending_add) {
		struct xfer *x = t->pending_add;

		t->pending_add = x->next_deferred;
		x->deferred = false;
		if (!x->req) {
			/* Cancelled before it ever started. */
			xfer_destroy(x);
			continue;
		}
		if (curl_multi_add_handle(t->multi, x->easy) == CURLM_OK) {
			x->added = true;
		} else {
			struct kube_request *req = x->req;

			x->req = NULL;
			kube_request_set_transport_data(req, NULL);
			xfer_destroy(x);
			kube_transport_end(req, -ENOMEM, "could not add the transfer");
		}
	}
}

static int curl_errno(CURLcode c)
{
	switch (c) {
	case CURLE_OK:
		return 0;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_USE_SSL_FAILED:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
		return -EPROTO;
	case CURLE_WRITE_ERROR:
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return -ECONNRESET;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* Drains curl's completion messages and hands them to the client. */
static void process_done(struct curl_ctx *t)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(t->multi, &left))) {
		struct kube_request *req;
		struct xfer *x = NULL;
		char message[CURL_ERROR_SIZE + 64];
		CURLcode code;
		long connects = 0;

		if (msg->msg != CURLMSG_DONE)
			continue;
		code = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (!x)
			continue;
		req = x->req;
		if (!req) {
			/* Detached while curl was on the stack: it is queued
			 * for cleanup already, unless it was detached later. */
			if (!x->deferred)
				xfer_destroy(x);
			continue;
		}
		curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &connects);
		kube_transport_count_connects(kube_request_client(req), (unsigned)connects);
		if (code == CURLE_OK)
			message[0] = '\0';
		else
			snprintf(message, sizeof(message), "%s",
				 x->errbuf[0] ? x->errbuf : curl_easy_strerror(code));
		x->req = NULL;
		kube_request_set_transport_data(req, NULL);
		xfer_destroy(x);
		/* May start new transfers (retries, follow-up requests). */
		kube_transport_end(req, curl_errno(code), message[0] ? message : NULL);
	}
}

/* ---- curl callbacks ---- */

static int http_version_of(CURL *easy)
{
	long v = 0;

	curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &v);
	switch (v) {
	case CURL_HTTP_VERSION_2_0:
		return 2;
	case CURL_HTTP_VERSION_1_0:
	case CURL_HTTP_VERSION_1_1:
		return 1;
	default:
		return 0;
	}
}

static size_t on_header(char *data, size_t size, size_t n, void *userdata)
{
	struct xfer *x = userdata;
	size_t len = size * n;

	if (!x->req)
		return 0;
	if (len >= 5 && !strncmp(data, "HTTP/", 5)) {
		/* A new status line: an interim 1xx or the final answer. */
		x->retry_after_s = 0;
		x->headers_done = false;
	} else if (len > 12 && !strncasecmp(data, "Retry-After:", 12)) {
		unsigned long v = strtoul(data + 12, NULL, 10);

		/* Only the delta-seconds form; an HTTP date falls back to
		 * the default delay. */
		x->retry_after_s = v > 3600 ? 3600 : (unsigned)v;
	} else if ((len == 2 && data[0] == '\r') || (len == 1 && data[0] == '\n')) {
		long code = 0;

		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 200) {
			x->headers_done = true;
			kube_transport_headers(x->req, code, x->retry_after_s,
					       http_version_of(x->easy));
		}
	}
	return len;
}

static size_t on_write(char *data, size_t size, size_t n, void *userdata)
{
	struct xfer *x = userdata;
	size_t len = size * n;

	if (!x->req)
		return 0;
	if (!x->headers_done) {
		long code = 0;

		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
		x->headers_done = true;
		kube_transport_headers(x->req, code, x->retry_after_s, http_version_of(x->easy));
	}
	/* The request may be cancelled (and x detached) from in here. */
	if (kube_transport_data(x->req, data, len) < 0)
		return 0;
	return x->req ? len : 0;
}

static void on_io(struct loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct curl_ctx *t = userdata;
	int flags = 0, running;

	(void)io;
	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	t->in_curl++;
	curl_multi_socket_action(t->multi, fd, flags, &running);
	t->in_curl--;
	process_done(t);
	flush_deferred(t);
}

static void on_timer(struct loop_timer *timer, void *userdata)
{
	struct curl_ctx *t = userdata;
	int running;

	(void)timer;
	t->in_curl++;
	curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	t->in_curl--;
	process_done(t);
	flush_deferred(t);
}

static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct curl_ctx *t = userp;
	struct loop_io *io = socketp;
	uint32_t events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		loop_io_free(io);
		curl_multi_assign(t->multi, s, NULL);
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		events |= EPOLLOUT;
	if (io)
		return loop_io_set_events(io, events) < 0 ? -1 : 0;
	if (loop_io_add(t->loop, s, events, on_io, t, &io) < 0)
		return -1;
	curl_multi_assign(t->multi, s, io);
	return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct curl_ctx *t = userp;

	uint64_t want, have;

	(void)multi;
	/* No timeout wanted: an armed timer is left to fire once, which
	 * costs curl a look at its timeouts, rather than a timerfd update
	 * now and another when the next request starts. */
	if (timeout_ms < 0)
		return 0;
	/* Even 0 goes through the loop: curl must not be re-entered from its
	 * own callback. curl announces about the same deadline again and
	 * again during a burst; a timer armed to fire at most 1 ms earlier
	 * is kept (curl re-arms when woken early). */
	want = loop_now_us() + (uint64_t)timeout_ms * 1000u;
	if (loop_timer_armed(t->timer)) {
		have = loop_timer_deadline(t->timer);
		if (have <= want && want - have < 1000)
			return 0;
	}
	loop_timer_arm_at(t->timer, want);
	return 0;
}

/* ---- transport ops ---- */

static int header_add(struct xfer *x, const char *h)
{
	struct curl_slist *l = curl_slist_append(x->headers, h);

	if (!l)
		return -ENOMEM;
	x->headers = l;
	return 0;
}

static int easy_setup(struct curl_ctx *t, struct xfer *x, struct kube_request *req)
{
	const struct kube_config *cfg = t->cfg;
	const char *method = kube_request_method(req), *token = kube_request_token(req);
	const char *ctype = kube_request_content_type(req);
	size_t body_len;
	const char *body = kube_request_body(req, &body_len);
	CURL *e = x->easy;
	char *auth;
	int r = 0;

	if (header_add(x, "Accept: application/json") < 0 || header_add(x, "Expect:") < 0)
		return -ENOMEM;
	if (ctype) {
		char h[128];

		snprintf(h, sizeof(h), "Content-Type: %s", ctype);
		if (header_add(x, h) < 0)
			return -ENOMEM;
	}
	if (token) {
		if (asprintf(&auth, "Authorization: Bearer %s", token) < 0)
			return -ENOMEM;
		r = header_add(x, auth);
		explicit_bzero(auth, strlen(auth));
		free(auth);
		if (r < 0)
			return r;
	}
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	if (curl_easy_setopt(e, CURLOPT_URL, kube_request_url(req)) != CURLE_OK)
		return -EINVAL;
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, t->opts->user_agent);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip");
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
			 t->opts->http1 ? CURL_HTTP_VERSION_1_1 : CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(t->opts->connect_timeout_us / 1000));
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(kube_request_timeout_us(req) / 1000));
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
	if (!strcmp(method, "GET")) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else {
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
		if (body || strcmp(method, "DELETE") != 0) {
			/* Copied: a cancelled request's memory may go before
			 * curl is done with the transfer. */
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
			curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body ? body : "");
		}
	}
	if (cfg->insecure_skip_tls_verify) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (cfg->ca_pem) {
		/* The cluster's CA only: not the system trust store too. */
		struct curl_blob ca = { cfg->ca_pem, cfg->ca_pem_len, CURL_BLOB_NOCOPY };

		if (t->pem_files)
			curl_easy_setopt(e, CURLOPT_CAINFO, t->pem_path[PEM_CA]);
		else
			curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &ca);
		curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	}
	if (cfg->cert_pem && cfg->key_pem && t->pem_files) {
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(e, CURLOPT_SSLCERT, t->pem_path[PEM_CERT]);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
		curl_easy_setopt(e, CURLOPT_SSLKEY, t->pem_path[PEM_KEY]);
	} else if (cfg->cert_pem && cfg->key_pem) {
		struct curl_blob cert = { cfg->cert_pem, cfg->cert_pem_len, CURL_BLOB_NOCOPY };
		struct curl_blob key = { cfg->key_pem, cfg->key_pem_len, CURL_BLOB_NOCOPY };

		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cert);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
		curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &key);
	}
	return 0;
}

static int curl_start(struct kube_request *req, void *ctx)
{
	struct curl_ctx *t = ctx;
	struct xfer *x = calloc(1, sizeof(*x));
	int r;

	if (!x)
		return -ENOMEM;
	x->t = t;
	x->req = req;
	x->easy = t->nidle ? t->idle[--t->nidle] : curl_easy_init();
	if (!x->easy) {
		free(x);
		return -ENOMEM;
	}
	x->next = t->xfers;
	if (t->xfers)
		t->xfers->prev = x;
	t->xfers = x;
	r = easy_setup(t, x, req);
	if (r < 0) {
		xfer_destroy(x);
		return r;
	}
	if (t->in_curl) {
		x->deferred = true;
		x->next_deferred = t->pending_add;
		t->pending_add = x;
	} else if (curl_multi_add_handle(t->multi, x->easy) != CURLM_OK) {
		xfer_destroy(x);
		return -ENOMEM;
	} else {
		x->added = true;
	}
	kube_request_set_transport_data(req, x);
	return 0;
}

static void curl_stop(struct kube_request *req, void *ctx)
{
	struct curl_ctx *t = ctx;
	struct xfer *x = kube_request_transport_data(req);

	if (!x)
		return;
	x->req = NULL;
	kube_request_set_transport_data(req, NULL);
	if (x->deferred)
		return; /* still queued for adding; flush_deferred drops it */
	if (t->in_curl) {
		x->deferred = true;
		x->next_deferred = t->pending_cleanup;
		t->pending_cleanup = x;
		return;
	}
	xfer_destroy(x);
}

static void curl_free_ctx(void *ctx)
{
	struct curl_ctx *t = ctx;

	if (!t)
		return;
	t->pending_add = t->pending_cleanup = NULL;
	t->max_idle = 0; /* handles of the transfers below are not kept */
	while (t->xfers)
		xfer_destroy(t->xfers);
	while (t->nidle)
		curl_easy_cleanup(t->idle[--t->nidle]);
	free(t->idle);
	if (t->multi)
		curl_multi_cleanup(t->multi);
	loop_timer_free(t->timer);
	for (int i = 0; i < 3; i++)
		if (t->pem_fd[i] >= 0)
			close(t->pem_fd[i]);
	free(t);
	if (--curl_global_refs == 0) {
		curl_global_cleanup();
		libssh2_exit();
	}
}

/* Does curl's TLS backend take PEM blobs? OpenSSL does; GnuTLS (curl 7.88)
 * silently ignores a certificate blob and refuses a CA blob. */
static bool tls_takes_blobs(void)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

	return v && v->ssl_version && !strncmp(v->ssl_version, "OpenSSL", 7);
}

/* Puts data into a sealed memfd; its path goes to ret_path. */
static int pem_memfd(const char *name, const void *data, size_t len, char ret_path[32])
{
	size_t off = 0;
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, (const char *)data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int r = n < 0 ? -errno : -EIO;

			close(fd);
			return r;
		}
		off += (size_t)n;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	snprintf(ret_path, 32, "/proc/self/fd/%d", fd);
	return fd;
}

static int pem_files_make(struct curl_ctx *t, const struct kube_config *cfg)
{
	const struct {
		const char *name;
		const void *data;
		size_t len;
	} pem[3] = {
		[PEM_CA] = { "kube-ca", cfg->insecure_skip_tls_verify ? NULL : cfg->ca_pem,
			     cfg->ca_pem_len },
		[PEM_CERT] = { "kube-cert", cfg->key_pem ? cfg->cert_pem : NULL,
			       cfg->cert_pem_len },
		[PEM_KEY] = { "kube-key", cfg->cert_pem ? cfg->key_pem : NULL, cfg->key_pem_len },
	};

	for (int i = 0; i < 3; i++) {
		if (!pem[i].data)
			continue;
		t->pem_fd[i] = pem_memfd(pem[i].name, pem[i].data, pem[i].len, t->pem_path[i]);
		if (t->pem_fd[i] < 0) {
			int r = t->pem_fd[i];

			t->pem_fd[i] = -1;
			return r;
		}
	}
	return 0;
}

static const struct kube_transport_ops curl_ops = {
	.start = curl_start,
	.stop = curl_stop,
	.free = curl_free_ctx,
};

int kube_curl_transport(struct loop *loop, const struct kube_config *cfg,
			const struct kube_client_opts *opts,
			const struct kube_transport_ops **ret_ops, void **ret_ctx)
{
	struct curl_ctx *t;

	if (curl_global_refs == 0) {
		/* curl_global_init initialises libssh2, and libssh2 OpenSSL's
		 * engines and configuration (some 3 MiB of libcrypto pages
		 * touched). The client never speaks SSH (the protocols are
		 * http and https): take libssh2's first reference without its
		 * crypto, so curl's own reference finds it initialised. */
		libssh2_init(LIBSSH2_INIT_NO_CRYPTO);
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			libssh2_exit();
			return -ENOMEM;
		}
	}
	curl_global_refs++;
	t = calloc(1, sizeof(*t));
	if (!t) {
		if (--curl_global_refs == 0)
			curl_global_cleanup();
		return -ENOMEM;
	}
	t->loop = loop;
	t->cfg = cfg;
	t->opts = opts;
	t->pem_fd[0] = t->pem_fd[1] = t->pem_fd[2] = -1;
	t->pem_files = !tls_takes_blobs();
	if (t->pem_files) {
		int r = pem_files_make(t, cfg);

		if (r < 0) {
			curl_free_ctx(t);
			return r;
		}
	}
	t->multi = curl_multi_init();
	t->timer = loop_timer_new(loop, on_timer, t);
	t->max_idle = opts->max_in_flight ? opts->max_in_flight : 16;
	t->idle = calloc(t->max_idle, sizeof(t->idle[0]));
	if (!t->multi || !t->timer || !t->idle) {
		curl_free_ctx(t);
		return -ENOMEM;
	}
	curl_multi_setopt(t->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(t->multi, CURLMOPT_SOCKETDATA, t);
	curl_multi_setopt(t->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(t->multi, CURLMOPT_TIMERDATA, t);
	curl_multi_setopt(t->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	*ret_ops = &curl_ops;
	*ret_ctx = t;
	return 0;
}
