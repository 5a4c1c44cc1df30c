/* libFuzzer target for speaker/bird_reply.c.
 *
 * The input (after its first byte) is a stream from BIRD's control socket.
 * It is parsed twice: in one feed, and in chunks whose sizes come from the
 * first byte. Both must end in the same state (an error or none) and
 * give the same items in the same order; every reply has at least one
 * line, its code is its last line's code, no text holds a newline; and
 * each reply goes through the `show protocols` and `configure` decoders.
 * Violations abort().
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../speaker/bird_reply.h"

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_bird_reply: %s\n", what);
		abort();
	}
}

/* A digest of every item: kind, codes, texts, in order. */
struct digest {
	uint64_t h;
	size_t items;
};

static void mix(struct digest *d, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		d->h = (d->h ^ b[i]) * 1099511628211ULL;
}

static void drain(struct bird_parser *p, struct digest *d, bool decode)
{
	struct bird_reply r;
	char *a;
	enum bird_item k;

	while ((k = bird_parser_next(p, &r, &a)) != BIRD_ITEM_NONE) {
		d->items++;
		mix(d, &k, sizeof(k));
		if (k == BIRD_ITEM_ASYNC) {
			check(!strchr(a, '\n'), "newline in an async message");
			mix(d, a, strlen(a) + 1);
			free(a);
			continue;
		}
		check(r.n_lines > 0, "empty reply");
		check(r.lines[r.n_lines - 1].code == r.code, "reply code is not its last line's");
		for (size_t i = 0; i < r.n_lines; i++) {
			check(r.lines[i].code <= 9999, "code out of range");
			check(!strchr(r.lines[i].text, '\n'), "newline in a line");
			mix(d, &r.lines[i].code, sizeof(r.lines[i].code));
			mix(d, r.lines[i].text, strlen(r.lines[i].text) + 1);
		}
		if (decode) {
			struct bird_protocol *rows = NULL;
			size_t n = 0;
			struct bird_configure_result res;
			int e = bird_parse_protocols(&r, &rows, &n);

			check(e == 0 || e == -EIO || e == -EBADMSG || e == -ENOMEM,
			      "unexpected protocols error");
			check(e == 0 || !rows, "rows on error");
			for (size_t i = 0; i < n; i++)
				check(rows[i].name[0] && rows[i].since[0],
				      "row without name or since");
			free(rows);
			bird_parse_configure(&r, &res);
			check(res.code == r.code, "configure code");
			check(res.status != BIRD_CONFIGURE_OK || bird_reply_ok(&r),
			      "error reply taken for success");
		}
		bird_reply_clear(&r);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bird_parser *one, *chunked;
	struct digest d1 = { 14695981039346656037ULL, 0 }, d2 = d1;
	size_t step, off = 0;
	int r1, r2 = 0;

	if (size < 1)
		return 0;
	step = (size_t)data[0] % 17 + 1;
	data++;
	size--;
	one = bird_parser_new();
	chunked = bird_parser_new();
	check(one && chunked, "alloc");
	r1 = bird_parser_feed(one, data, size);
	drain(one, &d1, true);
	while (off < size && r2 == 0) {
		size_t n = size - off < step ? size - off : step;

		r2 = bird_parser_feed(chunked, data + off, n);
		drain(chunked, &d2, false);
		off += n;
	}
	/* The error may differ (a long line holding a NUL is refused for
	 * either), not whether there is one. */
	check((r1 == 0) == (r2 == 0), "chunked feed ends in another state");
	check(d1.items == d2.items && d1.h == d2.h, "chunked feed gives other items");
	check((r1 == 0) == (bird_parser_error(one) == NULL), "error state");
	bird_parser_free(one);
	bird_parser_free(chunked);
	return 0;
}
