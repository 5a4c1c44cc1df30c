/* A scripted stand-in for BIRD's control socket, for the unit tests of
 * speaker/bird_ctl.c and speaker/bgp.c: a unix socket server on the test's
 * own event loop that greets like BIRD, records every command line it
 * receives, and answers each with the bytes an answer function returns,
 * optionally a few bytes per loop iteration to exercise split reads.
 */
#ifndef IRONLB_TESTS_FAKE_BIRD_H
#define IRONLB_TESTS_FAKE_BIRD_H

#include <stdbool.h>
#include <stddef.h>

struct loop;

#define FAKE_BIRD_MAX_CMDS 128

/* Returns the bytes to send back for command (a string the fake copies),
 * or NULL to send nothing (yet). */
typedef const char *(*fake_bird_answer_fn)(const char *command, void *userdata);

struct fake_bird {
	struct loop *loop;
	char path[108];
	int listen_fd;
	struct loop_io *listen_io;
	int fd; /* the current client, -1 if none */
	struct loop_io *io;
	struct loop_timer *timer;
	char in[8192];
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	/* script */
	const char *greeting;  /* default "0001 BIRD 2.0.12 ready.\n" */
	size_t chunk;	       /* bytes per write, 0: all at once */
	bool close_after_send; /* close the client once out is sent */
	fake_bird_answer_fn answer;
	void *userdata;
	/* what happened */
	char *cmds[FAKE_BIRD_MAX_CMDS];
	size_t n_cmds;
	unsigned accepts;
};

/* Listens on path (removing a stale file). NULL on failure. */
struct fake_bird *fake_bird_new(struct loop *l, const char *path);
/* Closes everything and removes the socket file. NULL is a no-op. */
void fake_bird_free(struct fake_bird *fb);
/* Queues raw bytes to the current client. */
void fake_bird_send(struct fake_bird *fb, const char *bytes);
/* Drops the current client (like BIRD being killed; the listener stays). */
void fake_bird_drop_client(struct fake_bird *fb);
/* How many recorded commands start with prefix. */
size_t fake_bird_count(const struct fake_bird *fb, const char *prefix);
void fake_bird_forget_cmds(struct fake_bird *fb);

#endif
