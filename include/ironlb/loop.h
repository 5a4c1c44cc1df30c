/* The event loop: one epoll instance per daemon, fd watchers, timers on a
 * single timerfd re-armed to the earliest deadline, and signals through a
 * signalfd. Single-threaded; callbacks run to completion and must not block.
 *
 * Watchers and timers may be freed from any callback, including their own:
 * a freed watcher never has its callback called again, even if epoll had
 * already reported it in the batch being dispatched.
 */
#ifndef IRONLB_LOOP_H
#define IRONLB_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

struct loop;
struct loop_io;
struct loop_timer;

/* events is the EPOLL* mask epoll reported (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP). */
typedef void (*loop_io_fn)(struct loop_io *io, int fd, uint32_t events, void *userdata);
typedef void (*loop_timer_fn)(struct loop_timer *t, void *userdata);
typedef void (*loop_signal_fn)(struct loop *l, int signo, void *userdata);

/* NULL on failure (errno set). */
struct loop *loop_new(void);
/* Frees the loop and every watcher and timer still attached to it. */
void loop_free(struct loop *l);

/* Runs until loop_quit() is called; returns the code given to loop_quit()
 * or a negative errno if epoll itself fails. */
int loop_run(struct loop *l);
/* Dispatches at most one batch of ready events, waiting up to timeout_ms
 * (-1: forever). Returns the number of callbacks run or a negative errno.
 * For tests and for embedding. */
int loop_run_once(struct loop *l, int timeout_ms);
void loop_quit(struct loop *l, int code);
bool loop_quitting(const struct loop *l);

/* Monotonic clock in microseconds (CLOCK_MONOTONIC). */
uint64_t loop_now_us(void);
/* Wall clock in microseconds since the epoch (CLOCK_REALTIME). */
uint64_t loop_wall_us(void);

/* Watches fd for events (EPOLLIN/EPOLLOUT; 0 is allowed and means "keep it
 * registered but report nothing"). The loop does not own fd. */
int loop_io_add(struct loop *l, int fd, uint32_t events, loop_io_fn fn, void *userdata,
		struct loop_io **ret_io);
int loop_io_set_events(struct loop_io *io, uint32_t events);
void *loop_io_userdata(const struct loop_io *io);
int loop_io_fd(const struct loop_io *io);
/* Unregisters and frees; NULL is a no-op. Does not close the fd. */
void loop_io_free(struct loop_io *io);

/* A timer starts disarmed. */
struct loop_timer *loop_timer_new(struct loop *l, loop_timer_fn fn, void *userdata);
/* (Re)arms a one-shot timer to fire delay_us from now. Re-arming an armed
 * timer moves its deadline. */
void loop_timer_arm(struct loop_timer *t, uint64_t delay_us);
/* Arms at an absolute loop_now_us() deadline. */
void loop_timer_arm_at(struct loop_timer *t, uint64_t deadline_us);
void loop_timer_disarm(struct loop_timer *t);
bool loop_timer_armed(const struct loop_timer *t);
uint64_t loop_timer_deadline(const struct loop_timer *t);
void loop_timer_free(struct loop_timer *t);

/* Blocks signo for the whole process and delivers it through the loop's
 * signalfd. One handler per signal. */
int loop_signal_add(struct loop *l, int signo, loop_signal_fn fn, void *userdata);

#endif
