/* Unit tests for lib/loop.c: timer order, re-arming and disarming, freeing
 * watchers and timers from callbacks (their own and others reported in the
 * same batch), fairness of zero-delay timers, signals through the signalfd,
 * loop_quit, and pipes as fd watchers.
 *
 * Every wait is bounded: a loop that never wakes fails the test instead of
 * hanging it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ironlb/loop.h"

/* Upper bound on any wait in these tests. */
#define WAIT_LIMIT_US 2000000

static int setup(void **state)
{
	*state = loop_new();
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	loop_free(*state);
	return 0;
}

/* Runs the loop until *done or the limit passes; fails on the limit. */
static void run_until(struct loop *l, const int *done)
{
	uint64_t deadline = loop_now_us() + WAIT_LIMIT_US;

	while (!*done) {
		if (loop_now_us() > deadline)
			fail_msg("condition not reached within %d us", WAIT_LIMIT_US);
		assert_true(loop_run_once(l, 50) >= 0);
	}
}

/* Runs the loop for about us microseconds. */
static void run_for(struct loop *l, uint64_t us)
{
	uint64_t end = loop_now_us() + us;

	while (loop_now_us() < end)
		assert_true(loop_run_once(l, 5) >= 0);
}

static void make_pipe(int fds[2])
{
	assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
}

/* ---- timers ---- */

struct order {
	int fired[16];
	int n;
	int done;
	int want;
};

struct tagged {
	struct order *order;
	int tag;
};

static void on_order_timer(struct loop_timer *t, void *userdata)
{
	struct tagged *tg = userdata;

	(void)t;
	tg->order->fired[tg->order->n++] = tg->tag;
	if (tg->order->n == tg->order->want)
		tg->order->done = 1;
}

static void test_timers_fire_in_deadline_order(void **state)
{
	struct loop *l = *state;
	struct order o = { .want = 3 };
	struct tagged tg[3] = { { &o, 30 }, { &o, 10 }, { &o, 20 } };
	struct loop_timer *t[3];
	uint64_t base;

	for (int i = 0; i < 3; i++)
		assert_non_null(t[i] = loop_timer_new(l, on_order_timer, &tg[i]));
	for (int i = 0; i < 3; i++)
		assert_false(loop_timer_armed(t[i]));
	/* From one base, so that a slow machine between the calls cannot
	 * reorder the deadlines. */
	base = loop_now_us();
	loop_timer_arm_at(t[0], base + 30000);
	loop_timer_arm_at(t[1], base + 10000);
	loop_timer_arm_at(t[2], base + 20000);
	for (int i = 0; i < 3; i++)
		assert_true(loop_timer_armed(t[i]));
	run_until(l, &o.done);
	assert_int_equal(o.fired[0], 10);
	assert_int_equal(o.fired[1], 20);
	assert_int_equal(o.fired[2], 30);
	/* One-shot: fired timers are disarmed. */
	for (int i = 0; i < 3; i++)
		assert_false(loop_timer_armed(t[i]));
	for (int i = 0; i < 3; i++)
		loop_timer_free(t[i]);
}

static void test_timers_do_not_fire_early(void **state)
{
	struct loop *l = *state;
	struct order o = { .want = 1 };
	struct tagged tg = { &o, 1 };
	struct loop_timer *t = loop_timer_new(l, on_order_timer, &tg);
	uint64_t start = loop_now_us();

	loop_timer_arm(t, 20000);
	run_until(l, &o.done);
	assert_true(loop_now_us() - start >= 20000);
	loop_timer_free(t);
}

static void test_rearming_moves_the_deadline(void **state)
{
	struct loop *l = *state;
	struct order o = { .want = 2 };
	struct tagged tg[2] = { { &o, 1 }, { &o, 2 } };
	struct loop_timer *a = loop_timer_new(l, on_order_timer, &tg[0]);
	struct loop_timer *b = loop_timer_new(l, on_order_timer, &tg[1]);
	uint64_t d1, base = loop_now_us();

	loop_timer_arm(a, 1000000);
	loop_timer_arm_at(b, base + 20000);
	d1 = loop_timer_deadline(a);
	/* Earlier than b now. */
	loop_timer_arm_at(a, base + 1000);
	assert_true(loop_timer_deadline(a) < d1);
	assert_true(loop_timer_deadline(a) < loop_timer_deadline(b));
	run_until(l, &o.done);
	assert_int_equal(o.fired[0], 1);
	assert_int_equal(o.fired[1], 2);

	/* And later: move an early deadline past another one. */
	o = (struct order){ .want = 2 };
	base = loop_now_us();
	loop_timer_arm_at(a, base + 1000);
	loop_timer_arm_at(b, base + 15000);
	loop_timer_arm(a, 30000);
	run_until(l, &o.done);
	assert_int_equal(o.fired[0], 2);
	assert_int_equal(o.fired[1], 1);
	loop_timer_free(a);
	loop_timer_free(b);
}

static void test_arm_at_absolute_deadline(void **state)
{
	struct loop *l = *state;
	struct order o = { .want = 2 };
	struct tagged tg[2] = { { &o, 1 }, { &o, 2 } };
	struct loop_timer *a = loop_timer_new(l, on_order_timer, &tg[0]);
	struct loop_timer *b = loop_timer_new(l, on_order_timer, &tg[1]);
	uint64_t now = loop_now_us();

	loop_timer_arm_at(a, now + 10000);
	/* A deadline in the past fires at once, first. */
	loop_timer_arm_at(b, 0);
	assert_int_equal(loop_timer_deadline(a), now + 10000);
	assert_true(loop_timer_armed(b));
	run_until(l, &o.done);
	assert_int_equal(o.fired[0], 2);
	assert_int_equal(o.fired[1], 1);
	loop_timer_free(a);
	loop_timer_free(b);
}

static void test_disarmed_timer_never_fires(void **state)
{
	struct loop *l = *state;
	struct order o = { .want = 1 };
	struct tagged tg[2] = { { &o, 1 }, { &o, 2 } };
	struct loop_timer *a = loop_timer_new(l, on_order_timer, &tg[0]);
	struct loop_timer *b = loop_timer_new(l, on_order_timer, &tg[1]);

	loop_timer_arm(a, 1000);
	loop_timer_arm(b, 30000);
	loop_timer_disarm(a);
	assert_false(loop_timer_armed(a));
	assert_int_equal(loop_timer_deadline(a), 0);
	loop_timer_disarm(a); /* twice is fine */
	run_until(l, &o.done);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.fired[0], 2);
	/* Disarming the only armed timer leaves the loop quiet. */
	o = (struct order){ .want = 1 };
	loop_timer_arm(b, 1000);
	loop_timer_disarm(b);
	run_for(l, 20000);
	assert_int_equal(o.n, 0);
	loop_timer_free(a);
	loop_timer_free(b);
}

static void test_huge_delay_does_not_wrap_around(void **state)
{
	struct loop *l = *state;
	struct order o = { .want = 1 };
	struct tagged tg[2] = { { &o, 1 }, { &o, 2 } };
	struct loop_timer *a = loop_timer_new(l, on_order_timer, &tg[0]);
	struct loop_timer *b = loop_timer_new(l, on_order_timer, &tg[1]);

	loop_timer_arm(a, UINT64_MAX);
	loop_timer_arm(b, UINT64_MAX - 1000);
	assert_true(loop_timer_deadline(a) > loop_now_us() + 1000000000000ull);
	assert_true(loop_timer_deadline(b) > loop_now_us() + 1000000000000ull);
	run_for(l, 20000);
	assert_int_equal(o.n, 0);
	loop_timer_free(a);
	loop_timer_free(b);
}

static void on_free_self(struct loop_timer *t, void *userdata)
{
	int *calls = userdata;

	(*calls)++;
	loop_timer_free(t);
}

static void test_timer_freed_from_its_own_callback(void **state)
{
	struct loop *l = *state;
	int calls = 0;
	struct loop_timer *t = loop_timer_new(l, on_free_self, &calls);

	loop_timer_arm(t, 0);
	run_until(l, &calls);
	run_for(l, 10000);
	assert_int_equal(calls, 1);
}

struct pair_timers {
	struct loop_timer *t[2];
	int calls[2];
	int done;
};

/* Whichever of two due timers runs first frees the other. */
static void on_free_other_timer(struct loop_timer *t, void *userdata)
{
	struct pair_timers *p = userdata;
	int me = t == p->t[0] ? 0 : 1;

	p->calls[me]++;
	loop_timer_free(p->t[!me]);
	p->t[!me] = NULL;
	p->done = 1;
}

static void test_timer_freed_by_another_due_in_the_same_batch_never_fires(void **state)
{
	struct loop *l = *state;
	struct pair_timers p = { 0 };
	uint64_t when = loop_now_us() + 5000;

	p.t[0] = loop_timer_new(l, on_free_other_timer, &p);
	p.t[1] = loop_timer_new(l, on_free_other_timer, &p);
	loop_timer_arm_at(p.t[0], when);
	loop_timer_arm_at(p.t[1], when);
	run_until(l, &p.done);
	run_for(l, 10000);
	assert_int_equal(p.calls[0] + p.calls[1], 1);
	loop_timer_free(p.t[0]);
	loop_timer_free(p.t[1]);
}

static void on_rearm_zero(struct loop_timer *t, void *userdata)
{
	int *calls = userdata;

	(*calls)++;
	loop_timer_arm(t, 0);
}

struct reader {
	struct loop_io *io;
	int calls;
	uint32_t last_events;
	int done;
	bool drain;
	bool free_self;
};

static void on_reader(struct loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct reader *r = userdata;
	char buf[256];

	r->calls++;
	r->last_events = events;
	r->done = 1;
	if (r->drain)
		while (read(fd, buf, sizeof(buf)) > 0)
			;
	if (r->free_self) {
		loop_io_free(io);
		r->io = NULL;
	}
}

static void test_timer_rearmed_with_zero_delay_does_not_starve_the_loop(void **state)
{
	struct loop *l = *state;
	int calls = 0, fds[2];
	struct loop_timer *t = loop_timer_new(l, on_rearm_zero, &calls);
	struct reader r = { .drain = true };
	uint64_t start;
	int ran;

	loop_timer_arm(t, 0);
	start = loop_now_us();
	ran = loop_run_once(l, 1000);
	assert_true(loop_now_us() - start < WAIT_LIMIT_US);
	assert_true(ran >= 0);
	assert_true(calls >= 1 && calls < 10);
	assert_true(loop_timer_armed(t));

	/* Other watchers still get their turn. */
	make_pipe(fds);
	assert_int_equal(loop_io_add(l, fds[0], EPOLLIN, on_reader, &r, &r.io), 0);
	assert_int_equal(write(fds[1], "x", 1), 1);
	for (int i = 0; i < 100 && !r.calls; i++)
		assert_true(loop_run_once(l, 1000) >= 0);
	assert_int_equal(r.calls, 1);
	assert_true(calls > 1);
	loop_timer_free(t);
	loop_io_free(r.io);
	close(fds[0]);
	close(fds[1]);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct many {
	uint64_t fired[1000];
	int n;
	int done;
};

struct many_timer {
	struct many *m;
	uint64_t deadline;
};

static void on_many_tagged(struct loop_timer *t, void *userdata)
{
	struct many_timer *mt = userdata;

	assert_false(loop_timer_armed(t));
	mt->m->fired[mt->m->n++] = mt->deadline;
	if (mt->m->n == 1000)
		mt->m->done = 1;
}

static void test_thousand_timers_with_random_deadlines_fire_sorted(void **state)
{
	struct loop *l = *state;
	struct many m = { 0 };
	struct many_timer *mt = calloc(1000, sizeof(*mt));
	struct loop_timer **t = calloc(1000, sizeof(*t));
	uint64_t want[1000], now = loop_now_us();

	assert_non_null(mt);
	assert_non_null(t);
	srand(12345);
	for (int i = 0; i < 1000; i++) {
		mt[i].m = &m;
		mt[i].deadline = now + 1000 + (uint64_t)(rand() % 50000);
		want[i] = mt[i].deadline;
		t[i] = loop_timer_new(l, on_many_tagged, &mt[i]);
		assert_non_null(t[i]);
		loop_timer_arm_at(t[i], mt[i].deadline);
	}
	/* Re-arm a tenth of them somewhere else, to exercise moves. */
	for (int i = 0; i < 1000; i += 10) {
		mt[i].deadline = now + 1000 + (uint64_t)(rand() % 50000);
		want[i] = mt[i].deadline;
		loop_timer_arm_at(t[i], mt[i].deadline);
	}
	run_until(l, &m.done);
	qsort(want, 1000, sizeof(want[0]), cmp_u64);
	for (int i = 0; i < 1000; i++)
		if (m.fired[i] != want[i])
			fail_msg("timer %d fired with deadline %llu, want %llu", i,
				 (unsigned long long)m.fired[i], (unsigned long long)want[i]);
	for (int i = 0; i < 1000; i++)
		loop_timer_free(t[i]);
	free(t);
	free(mt);
}

static void test_loop_free_releases_armed_timers_and_watchers(void **state)
{
	struct loop *l = loop_new();
	int fds[2], calls = 0;
	struct reader r = { 0 };

	(void)state;
	assert_non_null(l);
	make_pipe(fds);
	loop_timer_arm(loop_timer_new(l, on_free_self, &calls), 1000000);
	loop_timer_new(l, on_free_self, &calls);
	assert_int_equal(loop_io_add(l, fds[0], EPOLLIN, on_reader, &r, NULL), 0);
	loop_free(l);
	loop_free(NULL);
	loop_io_free(NULL);
	loop_timer_free(NULL);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(calls, 0);
}

/* ---- fd watchers ---- */

static void test_io_watcher_freed_from_its_own_callback(void **state)
{
	struct loop *l = *state;
	struct reader r = { .free_self = true };
	int fds[2];

	make_pipe(fds);
	assert_int_equal(loop_io_add(l, fds[0], EPOLLIN, on_reader, &r, &r.io), 0);
	assert_int_equal(write(fds[1], "x", 1), 1);
	run_until(l, &r.done);
	/* Still readable, but nobody is watching any more. */
	run_for(l, 10000);
	assert_int_equal(r.calls, 1);
	assert_null(r.io);
	close(fds[0]);
	close(fds[1]);
}

struct pair_io {
	struct loop_io *io[2];
	int fd[2];
	int calls[2];
	int done;
	bool close_fd;
};

/* Whichever of two ready watchers runs first frees the other (and maybe
 * closes its fd); the other was reported in the same batch. */
static void on_free_other_io(struct loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct pair_io *p = userdata;
	int me = io == p->io[0] ? 0 : 1;
	char c;

	(void)events;
	while (read(fd, &c, 1) > 0)
		;
	p->calls[me]++;
	p->done = 1;
	if (p->io[!me]) {
		loop_io_free(p->io[!me]);
		p->io[!me] = NULL;
		if (p->close_fd) {
			close(p->fd[!me]);
			p->fd[!me] = -1;
		}
	}
}

static void check_free_other_io(struct loop *l, bool close_fd)
{
	struct pair_io p = { .close_fd = close_fd };
	int a[2], b[2];
	int ran;

	make_pipe(a);
	make_pipe(b);
	p.fd[0] = a[0];
	p.fd[1] = b[0];
	assert_int_equal(loop_io_add(l, a[0], EPOLLIN, on_free_other_io, &p, &p.io[0]), 0);
	assert_int_equal(loop_io_add(l, b[0], EPOLLIN, on_free_other_io, &p, &p.io[1]), 0);
	assert_int_equal(write(a[1], "x", 1), 1);
	assert_int_equal(write(b[1], "x", 1), 1);
	/* Both are ready before the loop looks: one batch reports both. */
	ran = loop_run_once(l, 1000);
	assert_int_equal(ran, 1);
	assert_int_equal(p.calls[0] + p.calls[1], 1);
	run_for(l, 10000);
	assert_int_equal(p.calls[0] + p.calls[1], 1);
	for (int i = 0; i < 2; i++) {
		loop_io_free(p.io[i]);
		if (p.fd[i] >= 0)
			close(p.fd[i]);
	}
	close(a[1]);
	close(b[1]);
}

static void test_io_watcher_freed_by_another_in_the_same_batch_is_never_called(void **state)
{
	check_free_other_io(*state, false);
}

static void test_io_watcher_freed_and_closed_by_another_in_the_same_batch(void **state)
{
	check_free_other_io(*state, true);
}

struct io_and_timer {
	struct loop_timer *timer;
	struct loop_io *io;
	int timer_calls, io_calls, done;
};

static void on_io_frees_timer(struct loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct io_and_timer *x = userdata;
	char c;

	(void)io;
	(void)events;
	x->io_calls++;
	x->done = 1;
	while (read(fd, &c, 1) > 0)
		;
	loop_timer_free(x->timer);
	x->timer = NULL;
}

static void on_timer_frees_io(struct loop_timer *t, void *userdata)
{
	struct io_and_timer *x = userdata;

	(void)t;
	x->timer_calls++;
	x->done = 1;
	loop_io_free(x->io);
	x->io = NULL;
}

static void test_timer_and_watcher_due_together_may_free_each_other(void **state)
{
	struct loop *l = *state;
	struct io_and_timer x = { 0 };
	int fds[2];

	make_pipe(fds);
	x.timer = loop_timer_new(l, on_timer_frees_io, &x);
	assert_int_equal(loop_io_add(l, fds[0], EPOLLIN, on_io_frees_timer, &x, &x.io), 0);
	loop_timer_arm(x.timer, 0);
	assert_int_equal(write(fds[1], "x", 1), 1);
	run_until(l, &x.done);
	run_for(l, 10000);
	assert_int_equal(x.timer_calls + x.io_calls, 1);
	loop_timer_free(x.timer);
	loop_io_free(x.io);
	close(fds[0]);
	close(fds[1]);
}

static void test_pipe_watchers_switch_between_in_and_out(void **state)
{
	struct loop *l = *state;
	struct reader rd = { 0 }, wr = { 0 };
	int fds[2];
	char buf[8];

	make_pipe(fds);
	assert_int_equal(loop_io_add(l, fds[0], EPOLLIN, on_reader, &rd, &rd.io), 0);
	assert_int_equal(loop_io_add(l, fds[1], EPOLLOUT, on_reader, &wr, &wr.io), 0);
	assert_int_equal(loop_io_fd(rd.io), fds[0]);
	assert_ptr_equal(loop_io_userdata(wr.io), &wr);

	/* An empty pipe: writable, not readable. */
	run_until(l, &wr.done);
	assert_true(wr.last_events & EPOLLOUT);
	assert_int_equal(rd.calls, 0);

	/* Writer stops asking; nothing happens. */
	assert_int_equal(loop_io_set_events(wr.io, 0), 0);
	assert_int_equal(loop_io_set_events(wr.io, 0), 0);
	wr = (struct reader){ .io = wr.io };
	run_for(l, 10000);
	assert_int_equal(wr.calls + rd.calls, 0);

	/* Data makes the read end ready (level-triggered until drained). */
	assert_int_equal(write(fds[1], "hi", 2), 2);
	run_until(l, &rd.done);
	assert_true(rd.last_events & EPOLLIN);
	assert_int_equal(wr.calls, 0);
	assert_int_equal(loop_io_set_events(rd.io, 0), 0);
	rd = (struct reader){ .io = rd.io };
	run_for(l, 10000);
	assert_int_equal(rd.calls, 0);
	assert_int_equal(read(fds[0], buf, sizeof(buf)), 2);

	/* Writer asks again and is told at once. */
	assert_int_equal(loop_io_set_events(wr.io, EPOLLOUT), 0);
	run_until(l, &wr.done);
	assert_true(wr.last_events & EPOLLOUT);

	/* Closing the write end hangs up the read end. */
	assert_int_equal(loop_io_set_events(rd.io, EPOLLIN), 0);
	loop_io_free(wr.io);
	close(fds[1]);
	rd.drain = true;
	run_until(l, &rd.done);
	assert_true(rd.last_events & EPOLLHUP);
	loop_io_free(rd.io);
	close(fds[0]);
}

static void test_socket_watcher_switches_one_fd_from_in_to_out(void **state)
{
	struct loop *l = *state;
	struct reader r = { .drain = true };
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(loop_io_add(l, sv[0], EPOLLIN, on_reader, &r, &r.io), 0);
	run_for(l, 10000);
	assert_int_equal(r.calls, 0);
	assert_int_equal(loop_io_set_events(r.io, EPOLLOUT), 0);
	run_until(l, &r.done);
	assert_int_equal(r.last_events & (EPOLLIN | EPOLLOUT), EPOLLOUT);
	assert_int_equal(loop_io_set_events(r.io, EPOLLIN), 0);
	r = (struct reader){ .io = r.io, .drain = true };
	assert_int_equal(write(sv[1], "x", 1), 1);
	run_until(l, &r.done);
	assert_int_equal(r.last_events & (EPOLLIN | EPOLLOUT), EPOLLIN);
	loop_io_free(r.io);
	close(sv[0]);
	close(sv[1]);
}

static void test_io_add_rejects_bad_fd_and_double_add(void **state)
{
	struct loop *l = *state;
	struct loop_io *io = (struct loop_io *)&io, *keep = io;
	struct reader r = { 0 };
	int fds[2];

	assert_int_equal(loop_io_add(l, -1, EPOLLIN, on_reader, &r, &io), -EBADF);
	assert_ptr_equal(io, keep);
	make_pipe(fds);
	assert_int_equal(loop_io_add(l, fds[0], EPOLLIN, on_reader, &r, &io), 0);
	assert_int_equal(loop_io_add(l, fds[0], EPOLLIN, on_reader, &r, NULL), -EEXIST);
	loop_io_free(io);
	close(fds[0]);
	close(fds[1]);
}

static void test_run_once_with_nothing_ready_returns_zero(void **state)
{
	assert_int_equal(loop_run_once(*state, 0), 0);
	assert_int_equal(loop_run_once(*state, 5), 0);
}

/* ---- signals and quitting ---- */

struct sig {
	int signo;
	int calls;
	struct loop *loop;
};

static void on_signal(struct loop *l, int signo, void *userdata)
{
	struct sig *s = userdata;

	s->loop = l;
	s->signo = signo;
	s->calls++;
}

static void test_signal_is_delivered_through_the_loop(void **state)
{
	struct loop *l = *state;
	struct sig s = { 0 };

	assert_int_equal(loop_signal_add(l, SIGUSR1, on_signal, &s), 0);
	assert_int_equal(raise(SIGUSR1), 0);
	run_until(l, &s.calls);
	assert_int_equal(s.signo, SIGUSR1);
	assert_ptr_equal(s.loop, l);
	assert_int_equal(s.calls, 1);
	/* Again: the handler stays. */
	assert_int_equal(raise(SIGUSR1), 0);
	for (int i = 0; i < 100 && s.calls < 2; i++)
		assert_true(loop_run_once(l, 20) >= 0);
	assert_int_equal(s.calls, 2);
}

static void test_two_signals_each_reach_their_handler(void **state)
{
	struct loop *l = *state;
	struct sig s1 = { 0 }, s2 = { 0 };

	assert_int_equal(loop_signal_add(l, SIGUSR1, on_signal, &s1), 0);
	assert_int_equal(loop_signal_add(l, SIGUSR2, on_signal, &s2), 0);
	assert_int_equal(raise(SIGUSR2), 0);
	assert_int_equal(raise(SIGUSR1), 0);
	for (int i = 0; i < 100 && !(s1.calls && s2.calls); i++)
		assert_true(loop_run_once(l, 20) >= 0);
	assert_int_equal(s1.signo, SIGUSR1);
	assert_int_equal(s2.signo, SIGUSR2);
}

static void test_signal_add_rejects_bad_numbers(void **state)
{
	struct sig s = { 0 };

	assert_int_equal(loop_signal_add(*state, 0, on_signal, &s), -EINVAL);
	assert_int_equal(loop_signal_add(*state, -1, on_signal, &s), -EINVAL);
	assert_int_equal(loop_signal_add(*state, 1000, on_signal, &s), -EINVAL);
}

static void on_quit_timer(struct loop_timer *t, void *userdata)
{
	loop_quit(userdata, 42);
	loop_timer_free(t);
}

static void test_loop_run_returns_the_quit_code(void **state)
{
	struct loop *l = *state;
	struct loop_timer *t = loop_timer_new(l, on_quit_timer, l);

	assert_false(loop_quitting(l));
	loop_timer_arm(t, 1000);
	assert_int_equal(loop_run(l), 42);
	assert_true(loop_quitting(l));
}

static void on_quit_signal(struct loop *l, int signo, void *userdata)
{
	(void)signo;
	(void)userdata;
	loop_quit(l, 0);
}

static void test_signal_handler_can_quit_with_zero(void **state)
{
	struct loop *l = *state;
	struct loop_timer *guard = loop_timer_new(l, on_quit_timer, l);

	/* If the signal got lost, the guard quits with 42 instead. */
	loop_timer_arm(guard, WAIT_LIMIT_US);
	assert_int_equal(loop_signal_add(l, SIGUSR2, on_quit_signal, NULL), 0);
	assert_int_equal(raise(SIGUSR2), 0);
	assert_int_equal(loop_run(l), 0);
}

static void test_clocks_move_forward(void **state)
{
	uint64_t a = loop_now_us(), b;

	(void)state;
	usleep(2000);
	b = loop_now_us();
	assert_true(b - a >= 2000);
	/* Wall clock: after 2020-01-01 in microseconds. */
	assert_true(loop_wall_us() > 1577836800ull * 1000000);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest loop_tests[] = {
		T(test_timers_fire_in_deadline_order),
		T(test_timers_do_not_fire_early),
		T(test_rearming_moves_the_deadline),
		T(test_arm_at_absolute_deadline),
		T(test_disarmed_timer_never_fires),
		T(test_huge_delay_does_not_wrap_around),
		T(test_timer_freed_from_its_own_callback),
		T(test_timer_freed_by_another_due_in_the_same_batch_never_fires),
		T(test_timer_rearmed_with_zero_delay_does_not_starve_the_loop),
		T(test_thousand_timers_with_random_deadlines_fire_sorted),
		cmocka_unit_test(test_loop_free_releases_armed_timers_and_watchers),
		T(test_io_watcher_freed_from_its_own_callback),
		T(test_io_watcher_freed_by_another_in_the_same_batch_is_never_called),
		T(test_io_watcher_freed_and_closed_by_another_in_the_same_batch),
		T(test_timer_and_watcher_due_together_may_free_each_other),
		T(test_pipe_watchers_switch_between_in_and_out),
		T(test_socket_watcher_switches_one_fd_from_in_to_out),
		T(test_io_add_rejects_bad_fd_and_double_add),
		T(test_run_once_with_nothing_ready_returns_zero),
		T(test_signal_is_delivered_through_the_loop),
		T(test_two_signals_each_reach_their_handler),
		T(test_signal_add_rejects_bad_numbers),
		T(test_loop_run_returns_the_quit_code),
		T(test_signal_handler_can_quit_with_zero),
		cmocka_unit_test(test_clocks_move_forward),
	};
#undef T

	return cmocka_run_group_tests(loop_tests, NULL, NULL);
}
