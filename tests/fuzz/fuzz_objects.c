/* libFuzzer target for speaker/objects.c: every input that parses as JSON
 * goes through every decoder, as is and wrapped as a Service, a Lease's
 * annotation and a Node's status, so that wrong types anywhere reach the
 * field checks. A decoder must return 0 with an item, INFORMER_SKIP, or
 * a negative errno with a reason; never crash or leak (ASan). The
 * host:port, MAC and time parsers get the raw bytes as a string.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ironlb/informer.h"
#include "../../speaker/objects.h"

typedef int (*decode_fn)(json_t *, void *, void **, const char **);

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_objects: %s\n", what);
		abort();
	}
}

static void run_all(json_t *obj)
{
	static const struct {
		decode_fn decode;
		void (*free_item)(void *, void *);
	} d[] = {
		{ obj_service_decode, obj_service_free }, { obj_slice_decode, obj_slice_free },
		{ obj_node_decode, obj_node_free },	  { obj_pool_decode, obj_pool_free },
		{ obj_l2adv_decode, obj_l2adv_free },	  { obj_lease_decode, obj_lease_free },
	};
	struct obj_decode_ctx ctx = { .lb_class = "ironlb.io/lb" };

	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		void *item = NULL;
		const char *why = NULL;
		int r = d[i].decode(obj, &ctx, &item, &why);

		if (r == 0)
			check(item != NULL, "success without an item");
		else if (r == INFORMER_SKIP)
			check(item == NULL, "skip with an item");
		else
			check(r < 0 && item == NULL && why != NULL, "error without a reason");
		d[i].free_item(item, NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	json_t *v, *obj;
	struct sockaddr_storage ss;
	socklen_t len;
	uint8_t mac[6];
	uint64_t us;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	obj_parse_hostport(s, 7482, &ss, &len);
	obj_parse_mac(s, mac);
	obj_parse_time(s, &us);
	v = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL); /* new */
	if (v) {
		run_all(v);
		obj = json_pack("{s:{s:s, s:s, s:{s:s}, s:{s:s}}, s:O, s:O, s:O}", "metadata",
				"name", "speaker-x", "namespace", "ns", "labels",
				"kubernetes.io/service-name", "svc", "annotations",
				"ironlb.io/speaker", s, "spec", v, "status", v, "endpoints",
				v); /* new */
		if (obj)
			run_all(obj);
		json_decref(obj);
	}
	json_decref(v);
	free(s);
	return 0;
}
