/* Unit tests for lib/kube_resource.c: the resource descriptors ironlb
 * needs, REST paths for every shape (core and named groups, namespaced
 * and cluster-scoped, collection, object, subresource), query strings with
 * selectors escaped, and reading standard metadata.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ironlb/kube_resource.h"

static void path_is(const struct kube_resource *res, const char *ns, const char *name,
		    const char *sub, const struct kube_list_opts *o, const char *want)
{
	char *p = NULL;
	int r = kube_path_build(res, ns, name, sub, o, &p);

	if (r != 0)
		fail_msg("kube_path_build = %d, want %s", r, want);
	if (strcmp(p, want) != 0)
		fail_msg("path %s, want %s", p, want);
	free(p);
}

static void test_descriptors(void **state)
{
	static const struct {
		const struct kube_resource *r;
		const char *group, *version, *plural, *kind;
		bool namespaced;
	} want[] = {
		{ &KUBE_SERVICES, "", "v1", "services", "Service", true },
		{ &KUBE_NODES, "", "v1", "nodes", "Node", false },
		{ &KUBE_NAMESPACES, "", "v1", "namespaces", "Namespace", false },
		{ &KUBE_SECRETS, "", "v1", "secrets", "Secret", true },
		{ &KUBE_EVENTS, "", "v1", "events", "Event", true },
		{ &KUBE_PODS, "", "v1", "pods", "Pod", true },
		{ &KUBE_ENDPOINTSLICES, "discovery.k8s.io", "v1", "endpointslices", "EndpointSlice",
		  true },
		{ &KUBE_LEASES, "coordination.k8s.io", "v1", "leases", "Lease", true },
		{ &KUBE_IPADDRESSPOOLS, "ironlb.io", "v1beta1", "ipaddresspools", "IPAddressPool",
		  true },
		{ &KUBE_L2ADVERTISEMENTS, "ironlb.io", "v1beta1", "l2advertisements",
		  "L2Advertisement", true },
		{ &KUBE_BGPADVERTISEMENTS, "ironlb.io", "v1beta1", "bgpadvertisements",
		  "BGPAdvertisement", true },
		{ &KUBE_BGPPEERS, "ironlb.io", "v1beta1", "bgppeers", "BGPPeer", true },
		{ &KUBE_BFDPROFILES, "ironlb.io", "v1beta1", "bfdprofiles", "BFDProfile", true },
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_string_equal(want[i].r->group, want[i].group);
		assert_string_equal(want[i].r->version, want[i].version);
		assert_string_equal(want[i].r->plural, want[i].plural);
		assert_string_equal(want[i].r->kind, want[i].kind);
		assert_int_equal(want[i].r->namespaced, want[i].namespaced);
		assert_ptr_equal(kube_resource_find(want[i].plural), want[i].r);
		assert_ptr_equal(kube_resource_find(want[i].kind), want[i].r);
	}
	assert_ptr_equal(kube_resource_find("leases.coordination.k8s.io"), &KUBE_LEASES);
	assert_ptr_equal(kube_resource_find("service"), &KUBE_SERVICES);
	assert_null(kube_resource_find("leases.example.com"));
	assert_null(kube_resource_find("deployments"));
	assert_string_equal(kube_resource_api_version(&KUBE_SERVICES, buf, sizeof(buf)), "v1");
	assert_string_equal(kube_resource_api_version(&KUBE_BGPPEERS, buf, sizeof(buf)),
			    "ironlb.io/v1beta1");
}

static void test_paths(void **state)
{
	(void)state;
	path_is(&KUBE_SERVICES, NULL, NULL, NULL, NULL, "/api/v1/services");
	path_is(&KUBE_SERVICES, "", NULL, NULL, NULL, "/api/v1/services");
	path_is(&KUBE_SERVICES, "ns", NULL, NULL, NULL, "/api/v1/namespaces/ns/services");
	path_is(&KUBE_SERVICES, "ns", "web", NULL, NULL, "/api/v1/namespaces/ns/services/web");
	path_is(&KUBE_SERVICES, "ns", "web", "status", NULL,
		"/api/v1/namespaces/ns/services/web/status");
	path_is(&KUBE_NODES, "ignored", "n1", NULL, NULL, "/api/v1/nodes/n1");
	path_is(&KUBE_NAMESPACES, NULL, "kube-system", NULL, NULL,
		"/api/v1/namespaces/kube-system");
	path_is(&KUBE_LEASES, "ironlb-system", "ctl", NULL, NULL,
		"/apis/coordination.k8s.io/v1/namespaces/ironlb-system/leases/ctl");
	path_is(&KUBE_IPADDRESSPOOLS, "ironlb-system", NULL, NULL, NULL,
		"/apis/ironlb.io/v1beta1/namespaces/ironlb-system/ipaddresspools");
	path_is(&KUBE_ENDPOINTSLICES, NULL, NULL, NULL, NULL,
		"/apis/discovery.k8s.io/v1/endpointslices");
	/* Names are escaped even though valid ones need none. */
	path_is(&KUBE_SERVICES, "a/b", "c?d", NULL, NULL,
		"/api/v1/namespaces/a%2Fb/services/c%3Fd");
}

static void test_queries_escape_selectors(void **state)
{
	struct kube_list_opts o = {
		.label_selector = "app in (web,db),!canary,tier!=front",
		.field_selector = "metadata.name=x&y",
		.limit = 500,
		.continue_token = "eyJ2Ijoi+/=",
	};

	(void)state;
	path_is(&KUBE_SERVICES, NULL, NULL, NULL, &o,
		"/api/v1/"
		"services?labelSelector=app%20in%20%28web%2Cdb%29%2C%21canary%2Ctier%21%3Dfront"
		"&fieldSelector=metadata.name%3Dx%26y&limit=500&continue=eyJ2Ijoi%2B%2F%3D");
	memset(&o, 0, sizeof(o));
	o.watch = true;
	o.allow_bookmarks = true;
	o.resource_version = "12345";
	o.timeout_s = 417;
	path_is(&KUBE_ENDPOINTSLICES, "ns", NULL, NULL, &o,
		"/apis/discovery.k8s.io/v1/namespaces/ns/endpointslices?watch=1&"
		"allowWatchBookmarks=true&resourceVersion=12345&timeoutSeconds=417");
	memset(&o, 0, sizeof(o));
	o.label_selector = "";
	path_is(&KUBE_NODES, NULL, NULL, NULL, &o, "/api/v1/nodes");
}

static void test_bad_paths(void **state)
{
	char *p = (char *)0x1;

	(void)state;
	assert_int_equal(kube_path_build(&KUBE_SERVICES, "ns", NULL, "status", NULL, &p), -EINVAL);
	assert_int_equal(kube_path_build(&KUBE_SERVICES, NULL, "web", NULL, NULL, &p), -EINVAL);
	assert_ptr_equal(p, (char *)0x1);
}

static void test_meta(void **state)
{
	json_t *o = json_loads("{\"metadata\":{\"namespace\":\"ns\",\"name\":\"a\",\"uid\":\"u\","
			       "\"resourceVersion\":\"7\",\"labels\":{\"k\":\"v\"},"
			       "\"annotations\":null}}",
			       0, NULL);
	struct kube_meta m;
	const char *why;
	char key[8];

	(void)state;
	assert_int_equal(kube_meta_get(o, true, true, &m, &why), 0);
	assert_string_equal(m.ns, "ns");
	assert_string_equal(m.name, "a");
	assert_string_equal(m.uid, "u");
	assert_string_equal(m.resource_version, "7");
	assert_non_null(m.labels);
	assert_null(m.annotations);
	assert_string_equal(kube_label_get(o, "k"), "v");
	assert_null(kube_label_get(o, "nope"));
	assert_null(kube_label_get(NULL, "k"));
	json_decref(o);
	o = json_loads("{\"metadata\":{}}", 0, NULL);
	assert_int_equal(kube_meta_get(o, false, false, &m, &why), 0);
	assert_string_equal(m.name, "");
	assert_int_equal(kube_meta_get(o, true, false, &m, &why), -ENODATA);
	assert_int_equal(kube_meta_get(o, false, true, &m, &why), -ENODATA);
	json_decref(o);
	assert_int_equal(kube_key_format("ns", "a", key, sizeof(key)), 0);
	assert_string_equal(key, "ns/a");
	assert_int_equal(kube_key_format(NULL, "a", key, sizeof(key)), 0);
	assert_string_equal(key, "a");
	assert_int_equal(kube_key_format("", "a", key, sizeof(key)), 0);
	assert_string_equal(key, "a");
	assert_int_equal(kube_key_format("namespace", "a", key, sizeof(key)), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptors),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_queries_escape_selectors),
		cmocka_unit_test(test_bad_paths),
		cmocka_unit_test(test_meta),
	};

	return cmocka_run_group_tests_name("kube_resource", tests, NULL, NULL);
}
