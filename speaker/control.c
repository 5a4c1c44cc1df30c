/* Control socket server. Each connection is read until a newline or EOF
 * (bounded by CONTROL_MAX_REQUEST and a timeout), answered, and closed; all
 * of it non-blocking inside the speaker's loop. */
#include "control.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ironlb/loop.h"

#define CONTROL_TIMEOUT_US (5 * 1000000)
#define CONTROL_MAX_CONNS 16

struct control_conn {
	struct control *ctl;
	int fd;
	struct loop_io *io;
	struct loop_timer *timer;
	char *in;
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	struct control_conn *prev, *next;
};

struct control {
	struct loop *loop;
	int fd;
	struct loop_io *io;
	char *path;
	bool bound; /* path is our socket, to remove on control_free() */
	control_handler_fn fn;
	void *userdata;
	struct control_conn *conns;
	unsigned n_conns;
};

static void conn_free(struct control_conn *cc)
{
	struct control *c = cc->ctl;

	loop_io_free(cc->io);
	loop_timer_free(cc->timer);
	close(cc->fd);
	if (cc->prev)
		cc->prev->next = cc->next;
	else
		c->conns = cc->next;
	if (cc->next)
		cc->next->prev = cc->prev;
	c->n_conns--;
	free(cc->in);
	free(cc->out);
	free(cc);
}

static json_t *error_reply(const char *msg)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

/* Builds the reply to the request buffered in cc->in. */
static json_t *conn_answer(struct control_conn *cc)
{
	json_error_t jerr;
	json_t *req, *reply;
	const char *command;

	/* Any JSON value parses, so that a valid non-object is told what is
	 * missing rather than that it is not JSON. */
	req = json_loadb(cc->in ? cc->in : "", cc->in_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
			 &jerr); /* new */
	if (!req)
		return error_reply("request is not valid JSON");
	command = json_string_value(json_object_get(req, "command")); /* borrowed */
	if (!json_is_object(req) || !command) {
		json_decref(req);
		return error_reply("request needs a \"command\" string");
	}
	reply = cc->ctl->fn(command, req, cc->ctl->userdata);
	json_decref(req);
	if (!reply)
		return error_reply("unknown command");
	return reply;
}

static void conn_write(struct control_conn *cc)
{
	while (cc->out_off < cc->out_len) {
		ssize_t n = send(cc->fd, cc->out + cc->out_off, cc->out_len - cc->out_off,
				 MSG_NOSIGNAL);

		if (n == -1) {
			if (errno == EAGAIN)
				return;
			break;
		}
		cc->out_off += (size_t)n;
	}
	conn_free(cc);
}

static void conn_respond(struct control_conn *cc)
{
	json_t *reply = conn_answer(cc); /* new */
	char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
	size_t len;

	json_decref(reply);
	if (!text) {
		conn_free(cc);
		return;
	}
	len = strlen(text);
	cc->out = realloc(text, len + 2);
	if (!cc->out) {
		free(text);
		conn_free(cc);
		return;
	}
	cc->out[len] = '\n';
	cc->out_len = len + 1;
	loop_io_set_events(cc->io, EPOLLOUT);
	conn_write(cc);
}

/* Answers "request too long" and closes. */
static void conn_refuse_too_long(struct control_conn *cc)
{
	static const char too_long[] = "{\"ok\":false,\"error\":\"request too long\"}\n";

	cc->out = strdup(too_long);
	if (!cc->out) {
		conn_free(cc);
		return;
	}
	cc->out_len = sizeof(too_long) - 1;
	loop_io_set_events(cc->io, EPOLLOUT);
	conn_write(cc);
}

static void on_conn(struct loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct control_conn *cc = userdata;
	char buf[4096];

	(void)io;
	(void)events;
	if (cc->out) {
		conn_write(cc);
		return;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		char *in, *nl;

		if (n == -1) {
			if (errno == EAGAIN)
				return;
			conn_free(cc);
			return;
		}
		if (n == 0) {
			/* EOF: the request is what we have. */
			conn_respond(cc);
			return;
		}
		/* Buffered: at most CONTROL_MAX_REQUEST bytes without a newline
		 * (more is refused below), plus this read. */
		in = realloc(cc->in, cc->in_len + (size_t)n + 1);
		if (!in) {
			conn_free(cc);
			return;
		}
		cc->in = in;
		memcpy(cc->in + cc->in_len, buf, (size_t)n);
		nl = memchr(cc->in + cc->in_len, '\n', (size_t)n);
		cc->in_len += (size_t)n;
		cc->in[cc->in_len] = '\0';
		if (nl) {
			/* The request is everything before the newline. */
			cc->in_len = (size_t)(nl - cc->in);
			if (cc->in_len > CONTROL_MAX_REQUEST)
				conn_refuse_too_long(cc);
			else
				conn_respond(cc);
			return;
		}
		if (cc->in_len > CONTROL_MAX_REQUEST) {
			conn_refuse_too_long(cc);
			return;
		}
	}
}

static void on_conn_timeout(struct loop_timer *t, void *userdata)
{
	(void)t;
	conn_free(userdata);
}

static void on_accept(struct loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct control *c = userdata;

	(void)io;
	(void)events;
	for (int i = 0; i < CONTROL_MAX_CONNS; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct control_conn *cc;

		if (cfd == -1)
			return;
		if (c->n_conns >= CONTROL_MAX_CONNS) {
			close(cfd);
			continue;
		}
		cc = calloc(1, sizeof(*cc));
		if (!cc) {
			close(cfd);
			continue;
		}
		cc->ctl = c;
		cc->fd = cfd;
		cc->timer = loop_timer_new(c->loop, on_conn_timeout, cc);
		if (!cc->timer || loop_io_add(c->loop, cfd, EPOLLIN, on_conn, cc, &cc->io) < 0) {
			loop_timer_free(cc->timer);
			close(cfd);
			free(cc);
			continue;
		}
		loop_timer_arm(cc->timer, CONTROL_TIMEOUT_US);
		cc->next = c->conns;
		if (c->conns)
			c->conns->prev = cc;
		c->conns = cc;
		c->n_conns++;
	}
}

/* Creates the socket's directory if missing (0755, like /run/ironlb). */
static int ensure_parent_dir(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return -errno;
	return 0;
}

struct control *control_new(struct loop *l, const char *path, control_handler_fn fn, void *userdata,
			    int *ret_err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct control *c;
	struct stat st;
	mode_t old_mask;
	int r;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		r = -ENAMETOOLONG;
		goto fail_early;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	c = calloc(1, sizeof(*c));
	if (!c) {
		r = -ENOMEM;
		goto fail_early;
	}
	c->loop = l;
	c->fn = fn;
	c->userdata = userdata;
	c->fd = -1;
	c->path = strdup(path);
	if (!c->path) {
		r = -ENOMEM;
		goto fail;
	}
	r = ensure_parent_dir(path);
	if (r < 0)
		goto fail;
	/* A socket left by a previous run is ours to replace; any other file
	 * at that path is not. */
	if (lstat(path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			r = -EEXIST;
			goto fail;
		}
		/* A socket someone still answers on belongs to a running
		 * speaker: leave it alone. Non-blocking, so that one too busy
		 * to accept (EAGAIN: backlog full) cannot hang us, and counts
		 * as running. */
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (probe >= 0 && (connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0 ||
				   errno == EAGAIN)) {
			close(probe);
			r = -EADDRINUSE;
			goto fail;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		goto fail_errno;
	/* Created 0600 from the start, not chmod()ed after a window in
	 * which others could connect. */
	old_mask = umask(0177);
	r = bind(c->fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_mask);
	if (r == -1)
		goto fail_errno;
	c->bound = true;
	if (chmod(path, 0600) == -1 || listen(c->fd, 16) == -1)
		goto fail_errno;
	r = loop_io_add(l, c->fd, EPOLLIN, on_accept, c, &c->io);
	if (r < 0)
		goto fail;
	return c;
fail_errno:
	r = -errno;
fail:
	control_free(c);
fail_early:
	if (ret_err)
		*ret_err = r;
	return NULL;
}

void control_free(struct control *c)
{
	if (!c)
		return;
	while (c->conns)
		conn_free(c->conns);
	loop_io_free(c->io);
	if (c->fd >= 0)
		close(c->fd);
	/* Only a socket that this process bound is there to remove: a failed
	 * bind() means the file at path belongs to someone else. */
	if (c->bound)
		unlink(c->path);
	free(c->path);
	free(c);
}
