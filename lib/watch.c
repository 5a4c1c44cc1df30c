/* Watch stream framing and event parsing, without I/O.
 *
 * The framer keeps one buffer: complete lines not yet taken, then the
 * partial line still growing. It counts the bytes after the last newline as
 * they arrive, so a line that will not fit is noticed before it is stored
 * and memory stays bounded by max_line plus one chunk whatever the server
 * sends. After an overflow the stream is useless (we cannot tell where the
 * next event starts once bytes were dropped), so the framer stays in error
 * until reset and the caller restarts the watch.
 */
#include "ironlb/watch.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ironlb/kube_resource.h"

/* Buffers above this are given back once drained, so one huge object does
 * not pin megabytes for the life of the watch. */
#define FRAMER_KEEP_CAP ((size_t)64 << 10)

struct watch_framer {
	char *buf;
	size_t cap;
	size_t start; /* first byte not yet returned */
	size_t len;   /* bytes stored */
	size_t scan;  /* [start, scan) is known to hold no '\n' */
	size_t tail;  /* bytes after the last '\n' stored */
	size_t max_line;
	bool overflow;
};

struct watch_framer *watch_framer_new(size_t max_line)
{
	struct watch_framer *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->max_line = max_line ? max_line : WATCH_MAX_LINE_DEFAULT;
	return f;
}

void watch_framer_free(struct watch_framer *f)
{
	if (!f)
		return;
	free(f->buf);
	free(f);
}

void watch_framer_reset(struct watch_framer *f)
{
	f->start = f->len = f->scan = f->tail = 0;
	f->overflow = false;
	if (f->cap > FRAMER_KEEP_CAP) {
		free(f->buf);
		f->buf = NULL;
		f->cap = 0;
	}
}

size_t watch_framer_pending(const struct watch_framer *f)
{
	return f->len - f->start;
}

/* Moves the unread bytes to the front, and gives memory back when a large
 * buffer now holds little. */
static void framer_compact(struct watch_framer *f)
{
	size_t keep = f->len - f->start;

	if (f->start) {
		memmove(f->buf, f->buf + f->start, keep);
		f->scan -= f->start;
		f->len = keep;
		f->start = 0;
	}
	if (f->cap > FRAMER_KEEP_CAP && keep < f->cap / 4) {
		size_t cap = keep * 2 > FRAMER_KEEP_CAP ? keep * 2 : FRAMER_KEEP_CAP;
		char *p = realloc(f->buf, cap);

		if (p) {
			f->buf = p;
			f->cap = cap;
		}
	}
}

static int framer_store(struct watch_framer *f, const char *data, size_t n)
{
	if (n == 0)
		return 0;
	framer_compact(f);
	if (f->len + n > f->cap) {
		size_t cap = f->cap ? f->cap : 4096;
		char *p;

		while (cap < f->len + n)
			cap *= 2;
		p = realloc(f->buf, cap);
		if (!p)
			return -ENOMEM;
		f->buf = p;
		f->cap = cap;
	}
	memcpy(f->buf + f->len, data, n);
	f->len += n;
	return 0;
}

int watch_framer_feed(struct watch_framer *f, const void *data, size_t len)
{
	const char *d = data, *first_nl, *last_nl;
	int r;

	if (f->overflow)
		return -EMSGSIZE;
	if (len == 0)
		return 0;
	first_nl = memchr(d, '\n', len);
	if (!first_nl) {
		if (f->tail + len > f->max_line) {
			f->overflow = true;
			return -EMSGSIZE;
		}
		r = framer_store(f, d, len);
		if (r == 0)
			f->tail += len;
		return r;
	}
	/* The line that this chunk completes must fit too. */
	if (f->tail + (size_t)(first_nl - d) > f->max_line) {
		f->overflow = true;
		return -EMSGSIZE;
	}
	last_nl = memrchr(d, '\n', len);
	if (len - (size_t)(last_nl + 1 - d) > f->max_line) {
		/* Keep the complete lines; the partial one can never fit. */
		r = framer_store(f, d, (size_t)(last_nl + 1 - d));
		f->tail = 0;
		f->overflow = true;
		return r < 0 ? r : -EMSGSIZE;
	}
	r = framer_store(f, d, len);
	if (r == 0)
		f->tail = len - (size_t)(last_nl + 1 - d);
	return r;
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

int watch_framer_next(struct watch_framer *f, const char **ret_line, size_t *ret_len)
{
	for (;;) {
		const char *line, *nl;
		size_t n;

		nl = f->scan < f->len ? memchr(f->buf + f->scan, '\n', f->len - f->scan) : NULL;
		if (!nl) {
			f->scan = f->len;
			return f->overflow ? -EMSGSIZE : 0;
		}
		line = f->buf + f->start;
		n = (size_t)(nl - line);
		f->start = f->scan = (size_t)(nl - f->buf) + 1;
		if (n > f->max_line) {
			/* Only a single chunk holding several lines gets here:
			 * drop the rest, as for any overflow. */
			f->overflow = true;
			f->start = f->scan = f->len;
			f->tail = 0;
			return -EMSGSIZE;
		}
		if (n && line[n - 1] == '\r')
			n--;
		if (blank(line, n))
			continue;
		*ret_line = line;
		*ret_len = n;
		return 1;
	}
}

static const char *const type_names[] = {
	[WATCH_ADDED] = "ADDED",       [WATCH_MODIFIED] = "MODIFIED", [WATCH_DELETED] = "DELETED",
	[WATCH_BOOKMARK] = "BOOKMARK", [WATCH_ERROR] = "ERROR",
};

const char *watch_type_name(enum watch_type t)
{
	if ((int)t < WATCH_ADDED || t > WATCH_ERROR)
		return "?";
	return type_names[t];
}

static int type_parse(const char *s, enum watch_type *ret)
{
	for (int t = WATCH_ADDED; t <= WATCH_ERROR; t++) {
		if (strcmp(s, type_names[t]) == 0) {
			*ret = (enum watch_type)t;
			return 0;
		}
	}
	return -EBADMSG;
}

int watch_event_parse(const char *line, size_t len, struct watch_event *ret, const char **ret_why)
{
	struct watch_event ev = { 0 };
	const char *why = NULL;
	json_error_t jerr;
	json_t *type, *v;

	ev.root = json_loadb(line, len, 0, &jerr); /* new */
	if (!ev.root) {
		why = "invalid JSON";
		goto bad;
	}
	if (!json_is_object(ev.root)) {
		why = "event is not a JSON object";
		goto bad;
	}
	type = json_object_get(ev.root, "type"); /* borrowed */
	if (!json_is_string(type)) {
		why = "event type is missing or not a string";
		goto bad;
	}
	if (type_parse(json_string_value(type), &ev.type) < 0) {
		why = "unknown event type";
		goto bad;
	}
	ev.object = json_object_get(ev.root, "object"); /* borrowed */
	if (!json_is_object(ev.object)) {
		why = "event object is missing or not an object";
		goto bad;
	}
	ev.ns = ev.name = ev.resource_version = ev.reason = ev.message = "";
	if (ev.type == WATCH_ERROR) {
		v = json_object_get(ev.object, "code"); /* borrowed */
		if (v && !json_is_integer(v)) {
			why = "ERROR status code is not an integer";
			goto bad;
		}
		ev.code = v ? (long)json_integer_value(v) : 0;
		v = json_object_get(ev.object, "reason"); /* borrowed */
		if (json_is_string(v))
			ev.reason = json_string_value(v);
		v = json_object_get(ev.object, "message"); /* borrowed */
		if (json_is_string(v))
			ev.message = json_string_value(v);
	} else {
		struct kube_meta m;

		if (kube_meta_get(ev.object, ev.type != WATCH_BOOKMARK, true, &m, &why) < 0)
			goto bad;
		ev.ns = m.ns;
		ev.name = m.name;
		ev.resource_version = m.resource_version;
	}
	*ret = ev;
	return 0;
bad:
	json_decref(ev.root);
	if (ret_why)
		*ret_why = why;
	return -EBADMSG;
}

void watch_event_clear(struct watch_event *ev)
{
	if (!ev)
		return;
	json_decref(ev->root);
	memset(ev, 0, sizeof(*ev));
}
