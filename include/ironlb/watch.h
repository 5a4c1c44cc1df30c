/* The Kubernetes watch stream, parsed without I/O: a framer that cuts an
 * arbitrary sequence of byte chunks into newline-delimited lines with a
 * bound on line length, and a parser that turns one line into a watch
 * event ({"type": ..., "object": ...}). The informer feeds it what the
 * HTTP client receives; tests and the fuzzer feed it anything.
 */
#ifndef IRONLB_WATCH_H
#define IRONLB_WATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The longest line accepted by default: larger than any object etcd
 * stores (1.5 MiB by default) with room for JSON escaping. */
#define WATCH_MAX_LINE_DEFAULT ((size_t)16 << 20)

struct watch_framer;

/* max_line: the longest line accepted (not counting '\n'); 0 means
 * WATCH_MAX_LINE_DEFAULT. NULL on allocation failure. */
struct watch_framer *watch_framer_new(size_t max_line);
void watch_framer_free(struct watch_framer *f);
/* Forgets buffered data and a past overflow: for a new stream. */
void watch_framer_reset(struct watch_framer *f);

/* Appends a chunk of the stream. 0, -ENOMEM, or -EMSGSIZE once a line has
 * grown past max_line: the rest of the stream is then dropped unread (the
 * framer never holds much more than max_line bytes) and
 * watch_framer_next() reports -EMSGSIZE after the complete lines before it. */
int watch_framer_feed(struct watch_framer *f, const void *data, size_t len);

/* The next complete line, without its "\n" (and "\r\n"); blank lines are
 * skipped. Returns 1 with *ret_line and *ret_len set (valid until the next
 * feed or reset; not NUL-terminated), 0 when no complete line is buffered,
 * or -EMSGSIZE (see above). */
int watch_framer_next(struct watch_framer *f, const char **ret_line, size_t *ret_len);

/* Bytes buffered and not yet returned as lines. */
size_t watch_framer_pending(const struct watch_framer *f);

enum watch_type {
	WATCH_ADDED = 1,
	WATCH_MODIFIED,
	WATCH_DELETED,
	WATCH_BOOKMARK,
	WATCH_ERROR,
};

struct watch_event {
	enum watch_type type;
	json_t *root;	/* new reference: the whole event; see watch_event_clear() */
	json_t *object; /* borrowed from root: the object, or the Status of an ERROR */
	/* ADDED/MODIFIED/DELETED/BOOKMARK, borrowed from object ("" if absent):
	 * ns and name are set for all but BOOKMARK; resource_version always. */
	const char *ns;
	const char *name;
	const char *resource_version;
	/* ERROR: the Status fields (0 and "" when absent). */
	long code;
	const char *reason;
	const char *message;
};

/* Parses one line. 0 with *ret filled (release with watch_event_clear()),
 * -EBADMSG with a static reason in *ret_why (invalid JSON, not an object,
 * unknown type, object missing or of the wrong shape), -ENOMEM. *ret is
 * untouched on failure. */
int watch_event_parse(const char *line, size_t len, struct watch_event *ret, const char **ret_why);
void watch_event_clear(struct watch_event *ev);

/* "ADDED", ...; "?" for anything else. */
const char *watch_type_name(enum watch_type t);

#endif
