/* libFuzzer target for lib/bgp_objects.c: every input that parses as JSON
 * goes through the BGPPeer, BGPAdvertisement, BFDProfile and Secret
 * decoders, as is and wrapped as an object's spec, as a basic-auth
 * Secret's data and as a peer's passwordSecret, so that wrong types
 * anywhere reach the field checks. A decoder must return 0 with an item,
 * INFORMER_SKIP, or a negative errno with a reason; never crash or leak
 * (ASan). The duration, community and base64 parsers get the raw bytes as
 * a string.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ironlb/bgp_objects.h"
#include "ironlb/informer.h"

typedef int (*decode_fn)(json_t *, void *, void **, const char **);

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_bgp_objects: %s\n", what);
		abort();
	}
}

static void run_all(json_t *obj)
{
	static const struct {
		decode_fn decode;
		void (*free_item)(void *, void *);
	} d[] = {
		{ bgp_peer_decode, bgp_peer_free },
		{ bgp_advert_decode, bgp_advert_free },
		{ bgp_bfd_decode, bgp_bfd_free },
		{ bgp_secret_decode, bgp_secret_free },
	};
	struct bgp_decode_ctx ctx = { .namespace = "ironlb-system" };

	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		for (int with_ctx = 0; with_ctx < 2; with_ctx++) {
			void *item = NULL;
			const char *why = NULL;
			int r = d[i].decode(obj, with_ctx ? &ctx : NULL, &item, &why);

			if (r == 0)
				check(item != NULL, "success without an item");
			else if (r == INFORMER_SKIP)
				check(item == NULL, "skip with an item");
			else
				check(r < 0 && item == NULL && why != NULL,
				      "error without a reason");
			if (r < 0 && why)
				check(strlen(why) < sizeof(ctx.why), "reason not terminated");
			d[i].free_item(item, NULL);
		}
	}
}

static void raw_parsers(const char *s)
{
	struct bgp_community c;
	const char *why = NULL;
	uint32_t secs;
	char *out = NULL, buf[48];
	size_t len;

	if (bgp_duration_parse_s(s, &secs, &why) < 0)
		check(why != NULL, "duration error without a reason");
	if (bgp_community_parse(s, &c, &why) == 0) {
		struct bgp_community back;

		/* Formatting and parsing again gives the same community. */
		bgp_community_format(&c, buf, sizeof(buf));
		check(bgp_community_parse(buf, &back, &why) == 0 &&
			      bgp_community_cmp(&c, &back) == 0,
		      "community does not round-trip");
	}
	if (bgp_base64_decode(s, &out, &len) == 0) {
		check(out[len] == 0, "base64 output not terminated");
		free(out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	json_t *v, *obj;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	raw_parsers(s);
	v = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL); /* new */
	if (v) {
		run_all(v);
		/* As a spec (with the required peer fields present), as a
		 * basic-auth Secret's data, as a passwordSecret. */
		obj = json_pack("{s:{s:s, s:s}, s:O, s:s, s:O}", "metadata", "name", "x",
				"namespace", "ironlb-system", "spec", v, "type",
				"kubernetes.io/basic-auth", "data", v); /* new */
		if (obj)
			run_all(obj);
		json_decref(obj);
		obj = json_pack("{s:{s:s}, s:{s:i, s:i, s:s, s:O, s:O, s:O}}", "metadata", "name",
				"x", "spec", "myASN", 64512, "peerASN", 64513, "peerAddress",
				"192.0.2.1", "passwordSecret", v, "holdTime", v, "nodeSelectors",
				v); /* new */
		if (obj)
			run_all(obj);
		json_decref(obj);
	}
	json_decref(v);
	free(s);
	return 0;
}
