/* See fake_bird.h. One client at a time: a new connection replaces the
 * previous one. */
#include "fake_bird.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ironlb/loop.h"

static void flush(struct fake_bird *fb);

static void on_timer(struct loop_timer *t, void *userdata)
{
	(void)t;
	flush(userdata);
}

void fake_bird_drop_client(struct fake_bird *fb)
{
	loop_io_free(fb->io);
	fb->io = NULL;
	if (fb->fd >= 0)
		close(fb->fd);
	fb->fd = -1;
	free(fb->out);
	fb->out = NULL;
	fb->out_len = fb->out_off = 0;
	fb->in_len = 0;
	loop_timer_disarm(fb->timer);
}

static void flush(struct fake_bird *fb)
{
	while (fb->fd >= 0 && fb->out_off < fb->out_len) {
		size_t n = fb->out_len - fb->out_off;
		ssize_t w;

		if (fb->chunk && n > fb->chunk)
			n = fb->chunk;
		w = send(fb->fd, fb->out + fb->out_off, n, MSG_NOSIGNAL);
		if (w == -1) {
			if (errno == EAGAIN) {
				loop_timer_arm(fb->timer, 1000);
				return;
			}
			fake_bird_drop_client(fb);
			return;
		}
		fb->out_off += (size_t)w;
		if (fb->chunk && fb->out_off < fb->out_len) {
			/* The rest on a later iteration, so the client sees pieces. */
			loop_timer_arm(fb->timer, 1000);
			return;
		}
	}
	if (fb->fd >= 0 && fb->out_off == fb->out_len && fb->close_after_send && fb->out_len)
		fake_bird_drop_client(fb);
}

void fake_bird_send(struct fake_bird *fb, const char *bytes)
{
	size_t n = strlen(bytes);
	char *o;

	if (fb->fd < 0)
		return;
	o = realloc(fb->out, fb->out_len + n);
	if (!o)
		abort();
	memcpy(o + fb->out_len, bytes, n);
	fb->out = o;
	fb->out_len += n;
	flush(fb);
}

static void on_client(struct loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct fake_bird *fb = userdata;
	ssize_t n;
	char *nl;

	(void)io;
	(void)events;
	n = recv(fd, fb->in + fb->in_len, sizeof(fb->in) - fb->in_len - 1, 0);
	if (n == -1 && errno == EAGAIN)
		return;
	if (n <= 0) {
		fake_bird_drop_client(fb);
		return;
	}
	fb->in_len += (size_t)n;
	fb->in[fb->in_len] = '\0';
	while (fb->fd >= 0 && (nl = memchr(fb->in, '\n', fb->in_len))) {
		const char *ans;

		*nl = '\0';
		if (fb->n_cmds < FAKE_BIRD_MAX_CMDS)
			fb->cmds[fb->n_cmds++] = strdup(fb->in);
		ans = fb->answer ? fb->answer(fb->in, fb->userdata) : NULL;
		fb->in_len -= (size_t)(nl + 1 - fb->in);
		memmove(fb->in, nl + 1, fb->in_len);
		fb->in[fb->in_len] = '\0';
		if (ans)
			fake_bird_send(fb, ans);
	}
}

static void on_accept(struct loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct fake_bird *fb = userdata;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	(void)io;
	(void)events;
	if (cfd == -1)
		return;
	fake_bird_drop_client(fb);
	fb->fd = cfd;
	fb->accepts++;
	if (loop_io_add(fb->loop, cfd, EPOLLIN, on_client, fb, &fb->io) < 0)
		abort();
	fake_bird_send(fb, fb->greeting ? fb->greeting : "0001 BIRD 2.0.12 ready.\n");
}

struct fake_bird *fake_bird_new(struct loop *l, const char *path)
{
	struct fake_bird *fb = calloc(1, sizeof(*fb));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (!fb)
		return NULL;
	fb->listen_fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path))
		goto fail;
	fb->loop = l;
	fb->fd = -1;
	fb->listen_fd = -1;
	snprintf(fb->path, sizeof(fb->path), "%s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	unlink(path);
	fb->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	fb->timer = loop_timer_new(l, on_timer, fb);
	if (fb->listen_fd == -1 || !fb->timer ||
	    bind(fb->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(fb->listen_fd, 8) == -1 ||
	    loop_io_add(l, fb->listen_fd, EPOLLIN, on_accept, fb, &fb->listen_io) < 0)
		goto fail;
	return fb;
fail:
	if (fb) {
		if (fb->listen_fd >= 0)
			close(fb->listen_fd);
		loop_timer_free(fb->timer);
		free(fb);
	}
	return NULL;
}

void fake_bird_forget_cmds(struct fake_bird *fb)
{
	for (size_t i = 0; i < fb->n_cmds; i++)
		free(fb->cmds[i]);
	fb->n_cmds = 0;
}

void fake_bird_free(struct fake_bird *fb)
{
	if (!fb)
		return;
	fake_bird_drop_client(fb);
	loop_io_free(fb->listen_io);
	close(fb->listen_fd);
	unlink(fb->path);
	loop_timer_free(fb->timer);
	fake_bird_forget_cmds(fb);
	free(fb);
}

size_t fake_bird_count(const struct fake_bird *fb, const char *prefix)
{
	size_t n = 0;

	for (size_t i = 0; i < fb->n_cmds; i++)
		if (strncmp(fb->cmds[i], prefix, strlen(prefix)) == 0)
			n++;
	return n;
}
