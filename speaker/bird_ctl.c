/* BIRD control-socket client: non-blocking connect, greeting, a FIFO of
 * commands with one in flight, per-command timeout, reconnect with backoff.
 * Writes happen only from the fd callback, so that bird_ctl_send() never
 * calls back into its caller. */
#include "bird_ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ironlb/loop.h"

#define DEFAULT_TIMEOUT_US (10 * 1000000ULL)
#define DEFAULT_BACKOFF_MIN_US (200 * 1000ULL)
#define DEFAULT_BACKOFF_MAX_US (2 * 1000000ULL)

enum ctl_state {
	CTL_IDLE,	/* no socket; retry_timer armed */
	CTL_CONNECTING, /* connect() in progress, waiting for EPOLLOUT */
	CTL_GREETING,	/* connected, waiting for "0001 ..." */
	CTL_UP,
};

struct cmd {
	char *line; /* command + '\n' */
	size_t len, off;
	bird_ctl_reply_fn fn;
	void *userdata;
	struct cmd *next;
};

struct bird_ctl {
	struct loop *loop;
	struct bird_ctl_cfg cfg;
	char *path;
	enum ctl_state state;
	int fd;
	struct loop_io *io;
	struct loop_timer *retry_timer, *timer;
	struct bird_parser *parser;
	uint64_t backoff_us;
	struct cmd *head, *tail;
	size_t n_cmds;
	uint64_t connects;
};

static void cmd_free(struct cmd *c)
{
	if (c) {
		free(c->line);
		free(c);
	}
}

static void update_events(struct bird_ctl *c)
{
	uint32_t ev = EPOLLIN;

	if (!c->io)
		return;
	if (c->state == CTL_CONNECTING)
		ev = EPOLLOUT;
	else if (c->state == CTL_UP && c->head && c->head->off < c->head->len)
		ev |= EPOLLOUT;
	loop_io_set_events(c->io, ev);
}

static void schedule_retry(struct bird_ctl *c)
{
	loop_timer_arm(c->retry_timer, c->backoff_us);
	c->backoff_us *= 2;
	if (c->backoff_us > c->cfg.backoff_max_us)
		c->backoff_us = c->cfg.backoff_max_us;
}

static void close_socket(struct bird_ctl *c)
{
	loop_io_free(c->io);
	c->io = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	loop_timer_disarm(c->timer);
	bird_parser_reset(c->parser);
}

/* Drops the connection (or the attempt), fails every command (the one in
 * flight with err), and schedules the next attempt. */
static void disconnect(struct bird_ctl *c, int err)
{
	bool was_up = c->state == CTL_UP;
	struct cmd *list = c->head;

	close_socket(c);
	c->state = CTL_IDLE;
	c->head = c->tail = NULL;
	c->n_cmds = 0;
	if (was_up)
		c->backoff_us = c->cfg.backoff_min_us;
	schedule_retry(c);
	while (list) {
		struct cmd *next = list->next;

		list->fn(err, NULL, list->userdata);
		cmd_free(list);
		err = -ECONNRESET;
		list = next;
	}
	if (was_up && c->cfg.on_state)
		c->cfg.on_state(false, c->cfg.userdata);
}

static void on_connected(struct bird_ctl *c)
{
	c->state = CTL_GREETING;
	loop_timer_arm(c->timer, c->cfg.timeout_us);
	update_events(c);
}

static void on_io(struct loop_io *io, int fd, uint32_t events, void *userdata);

static void try_connect(struct bird_ctl *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		schedule_retry(c);
		return;
	}
	if (loop_io_add(c->loop, c->fd, EPOLLIN, on_io, c, &c->io) < 0) {
		close_socket(c);
		schedule_retry(c);
		return;
	}
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		on_connected(c);
		return;
	}
	if (errno == EINPROGRESS) {
		c->state = CTL_CONNECTING;
		loop_timer_arm(c->timer, c->cfg.timeout_us);
		update_events(c);
		return;
	}
	/* ENOENT, ECONNREFUSED (BIRD absent) and EAGAIN (a unix socket's
	 * backlog is full: nothing is in progress) all mean: later. */
	close_socket(c);
	schedule_retry(c);
}

static void on_retry(struct loop_timer *t, void *userdata)
{
	(void)t;
	try_connect(userdata);
}

static void on_timeout(struct loop_timer *t, void *userdata)
{
	struct bird_ctl *c = userdata;

	(void)t;
	disconnect(c, -ETIMEDOUT);
}

static void flush_write(struct bird_ctl *c)
{
	struct cmd *h = c->head;

	while (h && h->off < h->len) {
		ssize_t n = send(c->fd, h->line + h->off, h->len - h->off, MSG_NOSIGNAL);

		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			disconnect(c, -ECONNRESET);
			return;
		}
		if (h->off == 0)
			loop_timer_arm(c->timer, c->cfg.timeout_us);
		h->off += (size_t)n;
	}
	update_events(c);
}

/* Dispatches queued replies and async messages. false if the connection
 * was dropped. */
static bool dispatch(struct bird_ctl *c)
{
	struct bird_reply rep;
	char *async;
	enum bird_item kind;

	while ((kind = bird_parser_next(c->parser, &rep, &async)) != BIRD_ITEM_NONE) {
		struct cmd *h;

		if (kind == BIRD_ITEM_ASYNC) {
			if (c->cfg.on_async)
				c->cfg.on_async(async, c->cfg.userdata);
			free(async);
			continue;
		}
		if (c->state == CTL_GREETING) {
			bool ok = rep.code == BIRD_CODE_WELCOME;

			bird_reply_clear(&rep);
			if (!ok) {
				disconnect(c, -ECONNRESET);
				return false;
			}
			c->state = CTL_UP;
			c->connects++;
			c->backoff_us = c->cfg.backoff_min_us;
			loop_timer_disarm(c->timer);
			if (c->cfg.on_state)
				c->cfg.on_state(true, c->cfg.userdata);
			if (c->state != CTL_UP)
				return false;
			continue;
		}
		h = c->head;
		if (!h || h->off < h->len) {
			/* A reply nobody asked for: the stream is out of step. */
			bird_reply_clear(&rep);
			disconnect(c, -ECONNRESET);
			return false;
		}
		c->head = h->next;
		if (!c->head)
			c->tail = NULL;
		c->n_cmds--;
		loop_timer_disarm(c->timer);
		h->fn(0, &rep, h->userdata);
		bird_reply_clear(&rep);
		cmd_free(h);
	}
	return true;
}

static void on_io(struct loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct bird_ctl *c = userdata;
	char buf[16384];

	(void)io;
	if (c->state == CTL_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err) {
			close_socket(c);
			c->state = CTL_IDLE;
			schedule_retry(c);
			return;
		}
		on_connected(c);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		for (int rounds = 0; rounds < 64; rounds++) {
			ssize_t n = recv(fd, buf, sizeof(buf), 0);

			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				break;
			if (n <= 0) {
				/* EOF or error: whatever came before it still counts. */
				if (!dispatch(c))
					return;
				disconnect(c, -ECONNRESET);
				return;
			}
			if (bird_parser_feed(c->parser, buf, (size_t)n) < 0) {
				disconnect(c, -ECONNRESET);
				return;
			}
			if (!dispatch(c))
				return;
		}
	}
	if (c->state == CTL_UP)
		flush_write(c);
}

struct bird_ctl *bird_ctl_new(struct loop *l, const struct bird_ctl_cfg *cfg)
{
	struct bird_ctl *c;

	if (!cfg->socket_path ||
	    strlen(cfg->socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path) ||
	    !*cfg->socket_path) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->loop = l;
	c->cfg = *cfg;
	c->fd = -1;
	if (!c->cfg.timeout_us)
		c->cfg.timeout_us = DEFAULT_TIMEOUT_US;
	if (!c->cfg.backoff_min_us)
		c->cfg.backoff_min_us = DEFAULT_BACKOFF_MIN_US;
	if (!c->cfg.backoff_max_us)
		c->cfg.backoff_max_us = DEFAULT_BACKOFF_MAX_US;
	if (c->cfg.backoff_max_us < c->cfg.backoff_min_us)
		c->cfg.backoff_max_us = c->cfg.backoff_min_us;
	c->backoff_us = c->cfg.backoff_min_us;
	c->path = strdup(cfg->socket_path);
	c->cfg.socket_path = c->path;
	c->parser = bird_parser_new();
	c->retry_timer = loop_timer_new(l, on_retry, c);
	c->timer = loop_timer_new(l, on_timeout, c);
	if (!c->path || !c->parser || !c->retry_timer || !c->timer) {
		bird_ctl_free(c);
		errno = ENOMEM;
		return NULL;
	}
	try_connect(c);
	return c;
}

void bird_ctl_free(struct bird_ctl *c)
{
	if (!c)
		return;
	close_socket(c);
	while (c->head) {
		struct cmd *next = c->head->next;

		cmd_free(c->head);
		c->head = next;
	}
	loop_timer_free(c->retry_timer);
	loop_timer_free(c->timer);
	bird_parser_free(c->parser);
	free(c->path);
	free(c);
}

bool bird_ctl_up(const struct bird_ctl *c)
{
	return c && c->state == CTL_UP;
}

uint64_t bird_ctl_connects(const struct bird_ctl *c)
{
	return c ? c->connects : 0;
}

static bool valid_text(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

int bird_ctl_send(struct bird_ctl *c, const char *command, bird_ctl_reply_fn fn, void *userdata)
{
	size_t len = command ? strlen(command) : 0;
	struct cmd *cmd;

	if (!len || len > BIRD_CTL_MAX_COMMAND || !valid_text(command) || !fn)
		return -EINVAL;
	if (c->state != CTL_UP)
		return -ENOTCONN;
	if (c->n_cmds >= BIRD_CTL_MAX_QUEUE)
		return -ENOBUFS;
	cmd = calloc(1, sizeof(*cmd));
	if (!cmd || !(cmd->line = malloc(len + 1))) {
		free(cmd);
		return -ENOMEM;
	}
	memcpy(cmd->line, command, len);
	cmd->line[len] = '\n';
	cmd->len = len + 1;
	cmd->fn = fn;
	cmd->userdata = userdata;
	if (c->tail)
		c->tail->next = cmd;
	else
		c->head = cmd;
	c->tail = cmd;
	c->n_cmds++;
	update_events(c);
	return 0;
}

int bird_ctl_quote(const char *s, char *buf, size_t len)
{
	size_t n = strlen(s);

	if (!valid_text(s) || strpbrk(s, "\"\\"))
		return -EINVAL;
	if (n + 3 > len)
		return -ENOSPC;
	buf[0] = '"';
	memcpy(buf + 1, s, n);
	buf[n + 1] = '"';
	buf[n + 2] = '\0';
	return 0;
}
