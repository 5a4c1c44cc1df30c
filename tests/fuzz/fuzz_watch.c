/* libFuzzer target for the watch stream: lib/watch.c's framer and event
 * parser, and what the informer reads from an event's object (metadata,
 * a Lease record, times).
 *
 * Input: byte 0 picks the maximum line length (small values exercise the
 * overflow paths), byte 1 seeds the chunk sizes the rest is fed in. The
 * framer's lines are checked against a trivial reference splitter: the
 * same lines, in order, up to the first line longer than the maximum, and
 * never a line with '\n' or over the maximum. Every line goes through the
 * event parser, whose successes must satisfy what the informer relies on.
 * Any violation abort()s so the fuzzer keeps the input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ironlb/kube_resource.h"
#include "ironlb/kube_util.h"
#include "ironlb/leader.h"
#include "ironlb/watch.h"

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_watch: %s\n", what);
		abort();
	}
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* The lines a correct framer returns, each followed by '\n', up to the
 * first overflow. */
static size_t reference(const char *d, size_t len, size_t max, char *out)
{
	size_t used = 0, start = 0;

	for (size_t i = 0; i < len; i++) {
		size_t n;

		if (d[i] != '\n')
			continue;
		n = i - start;
		if (n > max)
			return used;
		if (n && d[start + n - 1] == '\r')
			n--;
		if (!blank(d + start, n)) {
			memcpy(out + used, d + start, n);
			used += n;
			out[used++] = '\n';
		}
		start = i + 1;
	}
	return used;
}

static void check_event(const char *line, size_t n)
{
	struct watch_event ev;
	struct leader_record rec;
	struct kube_meta m;
	const char *why = NULL;
	int r = watch_event_parse(line, n, &ev, &why);

	if (r < 0) {
		check(r == -EBADMSG || r == -ENOMEM, "unexpected parse error");
		check(why != NULL, "no reason for a parse error");
		return;
	}
	check(ev.type >= WATCH_ADDED && ev.type <= WATCH_ERROR, "bad type");
	check(json_is_object(ev.root) && json_is_object(ev.object), "bad object");
	if (ev.type != WATCH_ERROR) {
		check(ev.resource_version && ev.resource_version[0], "no resourceVersion");
		check(ev.ns != NULL && ev.name != NULL, "no name fields");
		if (ev.type != WATCH_BOOKMARK) {
			char key[600];

			check(ev.name[0] != '\0', "no name");
			check(kube_meta_get(ev.object, true, true, &m, NULL) == 0,
			      "meta differs from the event's");
			check(!strcmp(m.name, ev.name), "name differs");
			kube_key_format(m.ns, m.name, key, sizeof(key));
		}
	} else {
		check(ev.reason && ev.message, "ERROR without strings");
	}
	/* The informer's other readers of objects must not trip either. */
	if (leader_record_from_lease(ev.object, &rec, &why) == 0)
		check(rec.holder[sizeof(rec.holder) - 1] == '\0', "holder not terminated");
	kube_label_get(ev.object, "kubernetes.io/service-name");
	watch_event_clear(&ev);
}

static void check_time(const char *s, size_t n)
{
	char buf[64], out[KUBE_MICROTIME_STRLEN];
	uint64_t t, t2;

	if (n >= sizeof(buf))
		return;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (kube_time_parse(buf, &t) < 0)
		return;
	if (t >= 253402300800ull * 1000000u)
		return; /* past year 9999: not formattable */
	kube_microtime_format(t, out);
	check(kube_time_parse(out, &t2) == 0, "formatted time does not parse");
	check(t == t2, "time round trip differs");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data + 2;
	size_t len = size >= 2 ? size - 2 : 0, max, pos = 0, used = 0, ref_len;
	struct watch_framer *f;
	uint64_t rng;
	char *got, *ref;
	bool overflow = false;

	if (size < 2)
		return 0;
	max = data[0] < 200 ? (size_t)data[0] + 1 : WATCH_MAX_LINE_DEFAULT;
	rng = (uint64_t)data[1] * 0x9e3779b97f4a7c15ull + 1;
	f = watch_framer_new(max);
	got = malloc(len + 1);
	ref = malloc(len + 1);
	if (!f || !got || !ref)
		goto out;
	while (pos < len && !overflow) {
		size_t chunk = (size_t)kube_rand_range(&rng, 0, 64);
		const char *line;
		size_t n;
		int r;

		if (chunk > len - pos)
			chunk = len - pos;
		r = watch_framer_feed(f, d + pos, chunk);
		check(r == 0 || r == -EMSGSIZE, "unexpected feed error");
		pos += chunk;
		while ((r = watch_framer_next(f, &line, &n)) == 1) {
			check(n <= max, "line over the maximum");
			check(memchr(line, '\n', n) == NULL, "newline inside a line");
			check(used + n + 1 <= len, "more output than input");
			memcpy(got + used, line, n);
			used += n;
			got[used++] = '\n';
			check_event(line, n);
			check_time(line, n);
		}
		check(r == 0 || r == -EMSGSIZE, "unexpected next error");
		if (r == -EMSGSIZE)
			overflow = true;
		check(watch_framer_pending(f) <= max + 64 + 1 || overflow, "framer holds too much");
	}
	ref_len = reference(d, len, max, ref);
	check(used == ref_len && memcmp(got, ref, used) == 0, "lines differ from the reference");
out:
	free(got);
	free(ref);
	watch_framer_free(f);
	return 0;
}
