/* The speaker's local control socket: a Unix stream socket (mode 0600) that
 * answers one JSON request per connection, {"command": "status", ...}, with
 * one JSON document. ironlbctl is its client. */
#ifndef IRONLB_SPEAKER_CONTROL_H
#define IRONLB_SPEAKER_CONTROL_H

#include <jansson.h>

#define CONTROL_DEFAULT_SOCKET "/run/ironlb/speaker.sock"
/* Largest request accepted; anything longer is refused. */
#define CONTROL_MAX_REQUEST 65536

struct loop;
struct control;

/* Returns the reply (a new reference) for command, or NULL for an unknown
 * command. request is borrowed. */
typedef json_t *(*control_handler_fn)(const char *command, json_t *request, void *userdata);

/* Binds path (replacing a stale socket left by a previous run, never any
 * other kind of file) and serves. NULL and *ret_err on failure. */
struct control *control_new(struct loop *l, const char *path, control_handler_fn fn, void *userdata,
			    int *ret_err);
/* Closes every connection and removes the socket file. */
void control_free(struct control *c);

#endif
