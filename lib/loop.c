/* The event loop: epoll + one timerfd + one signalfd.
 *
 * Timers live in a binary min-heap (heap.h) keyed by deadline; the timerfd is armed to
 * the heap's root, so the kernel wakes us once for the earliest deadline and
 * arming or disarming a timer is O(log n). Watchers freed while a batch is
 * being dispatched are only marked dead and reclaimed after the batch, since
 * epoll may still hold a pointer to them in the same events array.
 */
#include "ironlb/loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "ironlb/heap.h"

#define LOOP_MAX_EVENTS 64
#define LOOP_MAX_SIGNALS 65

struct loop_io {
	struct loop *loop;
	int fd;
	uint32_t events;
	loop_io_fn fn;
	void *userdata;
	bool dead;
	struct loop_io *next_dead;
	struct loop_io *prev, *next; /* all live watchers, for loop_free */
};

struct loop_timer {
	struct loop *loop;
	loop_timer_fn fn;
	void *userdata;
	uint64_t deadline;
	uint32_t heap_pos; /* in loop.timer_heap; 0 when disarmed */
	struct loop_timer *prev, *next;
};

struct loop_signal {
	loop_signal_fn fn;
	void *userdata;
};

struct loop {
	int epfd;
	int timerfd;
	int sigfd;
	sigset_t sigmask;
	struct loop_io *timer_io;
	struct loop_io *signal_io;
	struct loop_io *ios;
	struct loop_io *dead_ios;
	struct loop_timer *timers;
	struct heap timer_heap;	   /* armed timers by deadline */
	uint64_t timerfd_deadline; /* what the timerfd is armed to; 0 = disarmed */
	struct loop_signal signals[LOOP_MAX_SIGNALS];
	bool quit;
	int quit_code;
};

static uint64_t clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t loop_now_us(void)
{
	return clock_us(CLOCK_MONOTONIC);
}

uint64_t loop_wall_us(void)
{
	return clock_us(CLOCK_REALTIME);
}

/* Points the timerfd at the earliest deadline, touching the kernel only when
 * that deadline changed. */
static void timerfd_sync(struct loop *l)
{
	const struct loop_timer *first = heap_top(&l->timer_heap);
	uint64_t want = first ? first->deadline : 0;
	struct itimerspec its = { 0 };

	if (want == l->timerfd_deadline)
		return;
	if (want) {
		/* A deadline in the past fires at once. */
		its.it_value.tv_sec = (time_t)(want / 1000000u);
		its.it_value.tv_nsec = (long)(want % 1000000u) * 1000;
	}
	if (timerfd_settime(l->timerfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		l->timerfd_deadline = want;
}

static void timers_expire(struct loop *l)
{
	uint64_t now = loop_now_us();

	/* A timer re-armed from its own callback with delay 0 would loop here
	 * forever; bound the batch to what was due when we started. */
	size_t budget = heap_count(&l->timer_heap);
	struct loop_timer *t;

	while (budget-- > 0 && (t = heap_top(&l->timer_heap)) && t->deadline <= now) {
		heap_remove(&l->timer_heap, t);
		t->fn(t, t->userdata);
		if (l->quit)
			break;
	}
}

static void on_timerfd(struct loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct loop *l = userdata;
	uint64_t expirations;

	(void)io;
	(void)events;
	if (read(fd, &expirations, sizeof(expirations)) == -1 && errno != EAGAIN)
		return;
	l->timerfd_deadline = 0;
	timers_expire(l);
}

static void on_signalfd(struct loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct loop *l = userdata;
	struct signalfd_siginfo si;

	(void)io;
	(void)events;
	for (int i = 0; i < 16; i++) {
		ssize_t n = read(fd, &si, sizeof(si));

		if (n != (ssize_t)sizeof(si))
			return;
		if (si.ssi_signo < LOOP_MAX_SIGNALS && l->signals[si.ssi_signo].fn)
			l->signals[si.ssi_signo].fn(l, (int)si.ssi_signo,
						    l->signals[si.ssi_signo].userdata);
	}
}

/* ---- loop ---- */

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));
	int saved;

	if (!l)
		return NULL;
	l->timer_heap = HEAP_INIT(struct loop_timer, deadline, heap_pos);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	sigemptyset(&l->sigmask);
	l->sigfd = signalfd(-1, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (l->epfd == -1 || l->timerfd == -1 || l->sigfd == -1)
		goto fail;
	if (loop_io_add(l, l->timerfd, EPOLLIN, on_timerfd, l, &l->timer_io) < 0)
		goto fail;
	if (loop_io_add(l, l->sigfd, EPOLLIN, on_signalfd, l, &l->signal_io) < 0)
		goto fail;
	return l;
fail:
	saved = errno;
	loop_free(l);
	errno = saved;
	return NULL;
}

static void reap_dead(struct loop *l)
{
	while (l->dead_ios) {
		struct loop_io *io = l->dead_ios;

		l->dead_ios = io->next_dead;
		free(io);
	}
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	while (l->ios)
		loop_io_free(l->ios);
	while (l->timers)
		loop_timer_free(l->timers);
	reap_dead(l);
	heap_free(&l->timer_heap);
	if (l->sigfd >= 0)
		close(l->sigfd);
	if (l->timerfd >= 0)
		close(l->timerfd);
	if (l->epfd >= 0)
		close(l->epfd);
	free(l);
}

int loop_run_once(struct loop *l, int timeout_ms)
{
	struct epoll_event ev[LOOP_MAX_EVENTS];
	int n, ran = 0;

	timerfd_sync(l);
	n = epoll_wait(l->epfd, ev, LOOP_MAX_EVENTS, timeout_ms);
	if (n == -1)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n && !l->quit; i++) {
		struct loop_io *io = ev[i].data.ptr;

		if (io->dead)
			continue;
		io->fn(io, io->fd, ev[i].events, io->userdata);
		ran++;
	}
	reap_dead(l);
	return ran;
}

int loop_run(struct loop *l)
{
	while (!l->quit) {
		int r = loop_run_once(l, -1);

		if (r < 0)
			return r;
	}
	return l->quit_code;
}

void loop_quit(struct loop *l, int code)
{
	l->quit = true;
	l->quit_code = code;
}

bool loop_quitting(const struct loop *l)
{
	return l->quit;
}

/* ---- fd watchers ---- */

int loop_io_add(struct loop *l, int fd, uint32_t events, loop_io_fn fn, void *userdata,
		struct loop_io **ret_io)
{
	struct loop_io *io = calloc(1, sizeof(*io));
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (!io)
		return -ENOMEM;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		int r = -errno;

		free(io);
		return r;
	}
	io->loop = l;
	io->fd = fd;
	io->events = events;
	io->fn = fn;
	io->userdata = userdata;
	io->next = l->ios;
	if (l->ios)
		l->ios->prev = io;
	l->ios = io;
	if (ret_io)
		*ret_io = io;
	return 0;
}

int loop_io_set_events(struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (io->events == events)
		return 0;
	if (epoll_ctl(io->loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) == -1)
		return -errno;
	io->events = events;
	return 0;
}

void *loop_io_userdata(const struct loop_io *io)
{
	return io->userdata;
}

int loop_io_fd(const struct loop_io *io)
{
	return io->fd;
}

void loop_io_free(struct loop_io *io)
{
	struct loop *l;

	if (!io || io->dead)
		return;
	l = io->loop;
	/* The fd may already be closed by its owner; EBADF is fine then. */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	if (io->prev)
		io->prev->next = io->next;
	else
		l->ios = io->next;
	if (io->next)
		io->next->prev = io->prev;
	io->dead = true;
	io->next_dead = l->dead_ios;
	l->dead_ios = io;
}

/* ---- timers ---- */

struct loop_timer *loop_timer_new(struct loop *l, loop_timer_fn fn, void *userdata)
{
	struct loop_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->loop = l;
	t->fn = fn;
	t->userdata = userdata;
	t->next = l->timers;
	if (l->timers)
		l->timers->prev = t;
	l->timers = t;
	return t;
}

void loop_timer_arm_at(struct loop_timer *t, uint64_t deadline_us)
{
	struct loop *l = t->loop;

	if (deadline_us == 0)
		deadline_us = 1;
	t->deadline = deadline_us;
	if (heap_contains(&l->timer_heap, t))
		heap_fix(&l->timer_heap, t);
	else
		/* On ENOMEM the timer stays disarmed; the heap grows in
		 * doubling steps so this only fails when nothing else works. */
		heap_push(&l->timer_heap, t);
}

void loop_timer_arm(struct loop_timer *t, uint64_t delay_us)
{
	uint64_t now = loop_now_us();

	/* A huge delay means "not in this lifetime", not a wrapped deadline
	 * in the past that fires at once. */
	loop_timer_arm_at(t, delay_us > UINT64_MAX - now ? UINT64_MAX : now + delay_us);
}

void loop_timer_disarm(struct loop_timer *t)
{
	heap_remove(&t->loop->timer_heap, t);
}

bool loop_timer_armed(const struct loop_timer *t)
{
	return t->heap_pos != 0;
}

uint64_t loop_timer_deadline(const struct loop_timer *t)
{
	return t->heap_pos ? t->deadline : 0;
}

void loop_timer_free(struct loop_timer *t)
{
	struct loop *l;

	if (!t)
		return;
	l = t->loop;
	heap_remove(&l->timer_heap, t);
	if (t->prev)
		t->prev->next = t->next;
	else
		l->timers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	free(t);
}

/* ---- signals ---- */

int loop_signal_add(struct loop *l, int signo, loop_signal_fn fn, void *userdata)
{
	sigset_t one;

	if (signo <= 0 || signo >= LOOP_MAX_SIGNALS)
		return -EINVAL;
	sigemptyset(&one);
	sigaddset(&one, signo);
	if (sigprocmask(SIG_BLOCK, &one, NULL) == -1)
		return -errno;
	sigaddset(&l->sigmask, signo);
	if (signalfd(l->sigfd, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC) == -1)
		return -errno;
	l->signals[signo].fn = fn;
	l->signals[signo].userdata = userdata;
	return 0;
}
