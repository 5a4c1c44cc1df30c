/* A client of BIRD's control socket on the event loop.
 *
 * Connects without blocking to the unix socket, waits for BIRD's greeting
 * ("0001 BIRD ... ready."), then sends queued commands one at a time, in
 * order, each answered by exactly one reply (bird_reply.h). While BIRD is
 * absent (no socket, connection refused, closed, garbage on the wire, a
 * command that timed out) the client reconnects with a backoff doubling
 * from backoff_min_us to backoff_max_us, and reports every transition of
 * its up/down state through on_state.
 *
 * Commands are accepted only while the client is up: a caller learns of
 * BIRD coming back through on_state(true) and sends then. When the
 * connection drops, the command in flight and the queued ones get their
 * callback with an error before on_state(false).
 */
#ifndef IRONLB_SPEAKER_BIRD_CTL_H
#define IRONLB_SPEAKER_BIRD_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bird_reply.h"

struct loop;
struct bird_ctl;

#define BIRD_CTL_MAX_COMMAND 4096
#define BIRD_CTL_MAX_QUEUE 64

/* err 0: reply is the complete reply (borrowed for the call; class 8xxx/
 * 9xxx replies are still err 0). Otherwise reply is NULL and err is
 * -ETIMEDOUT (no complete reply within timeout_us; the connection is
 * dropped, since the stream can no longer be matched to commands) or
 * -ECONNRESET (the connection went away before the reply). */
typedef void (*bird_ctl_reply_fn)(int err, const struct bird_reply *reply, void *userdata);

struct bird_ctl_cfg {
	const char *socket_path;
	uint64_t timeout_us;	 /* per command, 0: 10 s */
	uint64_t backoff_min_us; /* 0: 200 ms */
	uint64_t backoff_max_us; /* 0: 2 s */
	/* Called on each change: up after the greeting, down when the
	 * connection is lost (not for failed connection attempts while down). */
	void (*on_state)(bool up, void *userdata);
	/* Asynchronous "+..." messages (text after '+'), may be NULL. */
	void (*on_async)(const char *text, void *userdata);
	void *userdata;
};

/* Starts connecting at once. NULL on failure (errno set: EINVAL for a
 * socket path that does not fit sockaddr_un, ENOMEM). */
struct bird_ctl *bird_ctl_new(struct loop *l, const struct bird_ctl_cfg *cfg);
/* Closes; callbacks of queued commands are not called. NULL is a no-op.
 * Must not be called from one of this client's callbacks. */
void bird_ctl_free(struct bird_ctl *c);
bool bird_ctl_up(const struct bird_ctl *c);
/* Queues command (one line, without newline). 0, -EINVAL (empty, too long,
 * or a control character such as a newline in it), -ENOTCONN (not up),
 * -ENOBUFS (BIRD_CTL_MAX_QUEUE commands waiting), -ENOMEM. fn is called
 * exactly once when 0 is returned, never from inside this call. */
int bird_ctl_send(struct bird_ctl *c, const char *command, bird_ctl_reply_fn fn, void *userdata);
/* Writes s as a BIRD string literal ("...") into buf. BIRD's lexer has no
 * escapes it would reliably undo, so strings with '"', '\\' or control
 * characters are refused: 0, -EINVAL, or -ENOSPC. */
int bird_ctl_quote(const char *s, char *buf, size_t len);
/* Number of successful connections so far (tests, status). */
uint64_t bird_ctl_connects(const struct bird_ctl *c);

#endif
