/* Unit tests for speaker/objects.c: each decoder keeps the fields the L2
 * decision needs, skips objects the speaker does not handle, and turns
 * wrong JSON types into a decode error naming the field.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../speaker/objects.h"
#include "ironlb/informer.h"

typedef int (*decode_fn)(json_t *, void *, void **, const char **);

/* Decodes JSON text; returns the decoder's result. */
static int decode(decode_fn fn, void *ctx, const char *text, void **ret, const char **why)
{
	json_error_t e;
	json_t *obj = json_loads(text, 0, &e); /* new */
	int r;

	assert_non_null(obj);
	*ret = NULL;
	*why = NULL;
	r = fn(obj, ctx, ret, why);
	json_decref(obj);
	return r;
}

static void expect_error(decode_fn fn, const char *text, const char *field)
{
	void *item;
	const char *why;

	assert_int_equal(decode(fn, NULL, text, &item, &why), -EBADMSG);
	assert_null(item);
	assert_non_null(why);
	if (!strstr(why, field))
		fail_msg("reason \"%s\" does not name %s", why, field);
}

#define META "\"metadata\":{\"namespace\":\"default\",\"name\":\"web\",\"uid\":\"u-1\"}"

static void test_service_load_balancer_with_ingress_and_ports(void **state)
{
	struct obj_decode_ctx ctx = { .lb_class = "ironlb.io/lb" };
	struct obj_service *s;
	const char *why;
	char buf[IP_STRLEN];

	(void)state;
	assert_int_equal(decode(obj_service_decode, &ctx,
				"{" META
				",\"spec\":{\"type\":\"LoadBalancer\",\"externalTrafficPolicy\":"
				"\"Local\",\"ports\":[{\"port\":80},{\"port\":443}]},\"status\":{"
				"\"loadBalancer\":{\"ingress\":[{\"ip\":\"192.0.2.200\"},{"
				"\"hostname\":\"x\"},"
				"{\"ip\":\"2001:db8::1\"}]}}}",
				(void **)&s, &why),
			 0);
	assert_true(s->load_balancer);
	assert_true(s->local);
	assert_string_equal(s->ns, "default");
	assert_string_equal(s->name, "web");
	assert_string_equal(s->uid, "u-1");
	assert_int_equal(s->n_ingress, 2);
	assert_string_equal(ip_format(&s->ingress[0], buf, sizeof(buf)), "192.0.2.200");
	assert_string_equal(ip_format(&s->ingress[1], buf, sizeof(buf)), "2001:db8::1");
	assert_int_equal(s->n_ports, 2);
	assert_int_equal(s->ports[1].port, 443);
	assert_int_equal(s->ports[1].protocol, OBJ_PROTO_TCP);
	assert_int_equal(s->ports[1].node_port, 0);
	assert_int_equal(s->n_cluster_ips, 0);
	obj_service_free(s, NULL);
}

static void test_service_ports_protocols_node_ports_and_cluster_ips(void **state)
{
	struct obj_service *s;
	const char *why;
	char buf[IP_STRLEN];

	(void)state;
	assert_int_equal(
		decode(obj_service_decode, NULL,
		       "{" META
		       ",\"spec\":{\"type\":\"LoadBalancer\",\"clusterIP\":\"203.0.113.130\","
		       "\"clusterIPs\":[\"203.0.113.130\",\"2001:db8:c1::5\"],\"ports\":["
		       "{\"port\":80,\"protocol\":\"TCP\",\"nodePort\":30080},"
		       "{\"port\":53,\"protocol\":\"UDP\",\"nodePort\":30053},"
		       "{\"port\":9,\"protocol\":\"SCTP\",\"nodePort\":null}]}}",
		       (void **)&s, &why),
		0);
	assert_int_equal(s->n_ports, 3);
	assert_int_equal(s->ports[0].protocol, OBJ_PROTO_TCP);
	assert_int_equal(s->ports[0].node_port, 30080);
	assert_int_equal(s->ports[1].protocol, OBJ_PROTO_UDP);
	assert_int_equal(s->ports[1].port, 53);
	assert_int_equal(s->ports[1].node_port, 30053);
	assert_int_equal(s->ports[2].protocol, OBJ_PROTO_SCTP);
	assert_int_equal(s->ports[2].node_port, 0);
	assert_string_equal(obj_protocol_str(s->ports[2].protocol), "sctp");
	assert_int_equal(s->n_cluster_ips, 2);
	assert_string_equal(ip_format(&s->cluster_ips[1], buf, sizeof(buf)), "2001:db8:c1::5");
	obj_service_free(s, NULL);

	/* Only spec.clusterIP (older objects). */
	assert_int_equal(decode(obj_service_decode, NULL,
				"{" META ",\"spec\":{\"type\":\"LoadBalancer\","
				"\"clusterIP\":\"203.0.113.131\"}}",
				(void **)&s, &why),
			 0);
	assert_int_equal(s->n_cluster_ips, 1);
	assert_string_equal(ip_format(&s->cluster_ips[0], buf, sizeof(buf)), "203.0.113.131");
	obj_service_free(s, NULL);

	/* Headless with externalIPs: no cluster IP to steer to. */
	assert_int_equal(decode(obj_service_decode, NULL,
				"{" META
				",\"spec\":{\"clusterIP\":\"None\",\"clusterIPs\":[\"None\"],"
				"\"externalIPs\":[\"192.0.2.9\"],\"ports\":[{\"port\":80}]}}",
				(void **)&s, &why),
			 0);
	assert_int_equal(s->n_cluster_ips, 0);
	assert_int_equal(s->ports[0].protocol, OBJ_PROTO_TCP);
	obj_service_free(s, NULL);
}

static void test_service_of_another_class_is_skipped_unless_external_ips(void **state)
{
	struct obj_decode_ctx ctx = { .lb_class = "ironlb.io/lb" };
	struct obj_service *s;
	const char *why;

	(void)state;
	assert_int_equal(
		decode(obj_service_decode, &ctx,
		       "{" META ",\"spec\":{\"type\":\"LoadBalancer\","
		       "\"loadBalancerClass\":\"other.io/lb\"},\"status\":{\"loadBalancer\":"
		       "{\"ingress\":[{\"ip\":\"192.0.2.200\"}]}}}",
		       (void **)&s, &why),
		INFORMER_SKIP);
	assert_int_equal(decode(obj_service_decode, &ctx,
				"{" META ",\"spec\":{\"type\":\"ClusterIP\"}}", (void **)&s, &why),
			 INFORMER_SKIP);
	/* externalIPs of any type are decoded; another class's ingress is not. */
	assert_int_equal(
		decode(obj_service_decode, &ctx,
		       "{" META ",\"spec\":{\"type\":\"LoadBalancer\","
		       "\"loadBalancerClass\":\"other.io/lb\",\"externalIPs\":[\"192.0.2.9\"]},"
		       "\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"192.0.2.200\"}]}}}",
		       (void **)&s, &why),
		0);
	assert_false(s->load_balancer);
	assert_int_equal(s->n_ingress, 0);
	assert_int_equal(s->n_external, 1);
	obj_service_free(s, NULL);
}

static void test_service_wrong_types_name_the_field(void **state)
{
	(void)state;
	expect_error(obj_service_decode, "{" META ",\"spec\":{\"type\":5}}", "spec.type");
	expect_error(obj_service_decode, "{" META ",\"spec\":{\"externalIPs\":\"x\"}}",
		     "spec.externalIPs");
	expect_error(obj_service_decode, "{" META ",\"spec\":{\"externalIPs\":[1]}}",
		     "spec.externalIPs[]");
	expect_error(obj_service_decode,
		     "{" META ",\"spec\":{\"type\":\"LoadBalancer\"},\"status\":{\"loadBalancer\":"
		     "{\"ingress\":[{\"ip\":\"300.1.1.1\"}]}}}",
		     "ingress[].ip");
	expect_error(obj_service_decode,
		     "{" META
		     ",\"spec\":{\"type\":\"LoadBalancer\",\"ports\":[{\"port\":\"80\"}]}}",
		     "spec.ports[].port");
	expect_error(obj_service_decode,
		     "{" META ",\"spec\":{\"type\":\"LoadBalancer\",\"ports\":[{\"port\":80,"
		     "\"protocol\":\"ICMP\"}]}}",
		     "spec.ports[].protocol");
	expect_error(obj_service_decode,
		     "{" META ",\"spec\":{\"type\":\"LoadBalancer\",\"ports\":[{\"port\":80,"
		     "\"protocol\":6}]}}",
		     "spec.ports[].protocol");
	expect_error(obj_service_decode,
		     "{" META ",\"spec\":{\"type\":\"LoadBalancer\",\"ports\":[{\"port\":80,"
		     "\"nodePort\":70000}]}}",
		     "spec.ports[].nodePort");
	expect_error(obj_service_decode,
		     "{" META ",\"spec\":{\"type\":\"LoadBalancer\",\"ports\":[{\"port\":80,"
		     "\"nodePort\":\"30080\"}]}}",
		     "spec.ports[].nodePort");
	expect_error(obj_service_decode,
		     "{" META ",\"spec\":{\"type\":\"LoadBalancer\",\"clusterIPs\":\"x\"}}",
		     "spec.clusterIPs");
	expect_error(obj_service_decode,
		     "{" META ",\"spec\":{\"type\":\"LoadBalancer\",\"clusterIPs\":[\"x\"]}}",
		     "spec.clusterIPs[]");
	expect_error(obj_service_decode,
		     "{" META ",\"spec\":{\"type\":\"LoadBalancer\",\"clusterIPs\":[7]}}",
		     "spec.clusterIPs[]");
	expect_error(obj_service_decode,
		     "{" META ",\"spec\":{\"type\":\"LoadBalancer\",\"clusterIP\":1}}",
		     "spec.clusterIP");
	expect_error(obj_service_decode, "{" META ",\"status\":[]}", "status");
	expect_error(obj_service_decode, "{\"metadata\":5}", "metadata");
}

static void test_service_outlives_the_cache_while_held(void **state)
{
	struct obj_decode_ctx ctx = { .lb_class = "ironlb.io/lb" };
	struct obj_service *s;
	const char *why;

	(void)state;
	assert_int_equal(decode(obj_service_decode, &ctx,
				"{" META ",\"spec\":{\"type\":\"LoadBalancer\"}}", (void **)&s,
				&why),
			 0);
	assert_int_equal(s->refs, 0);
	/* Two holders (the last pass names the Service for two addresses),
	 * then the informer drops it: the names stay readable under ASan
	 * until the last holder lets go, and nothing leaks after. */
	obj_service_hold(s);
	obj_service_hold(s);
	obj_service_free(s, NULL);
	assert_string_equal(s->name, "web");
	obj_service_free(s, NULL);
	assert_string_equal(s->ns, "default");
	assert_int_equal(s->refs, 0);
	obj_service_free(s, NULL);
	obj_service_free(NULL, NULL);
}

static void test_slice_conditions_default_and_node(void **state)
{
	struct obj_slice *s;
	const char *why;

	(void)state;
	assert_int_equal(
		decode(obj_slice_decode, NULL,
		       "{\"metadata\":{\"namespace\":\"default\",\"name\":\"web-1\",\"labels\":"
		       "{\"kubernetes.io/service-name\":\"web\"}},\"endpoints\":["
		       "{\"nodeName\":\"n1\"},"
		       "{\"nodeName\":\"n2\",\"conditions\":{\"ready\":false,\"serving\":true}},"
		       "{\"conditions\":{\"ready\":false}}]}",
		       (void **)&s, &why),
		0);
	assert_string_equal(s->service, "web");
	assert_int_equal(s->n_eps, 3);
	assert_true(s->eps[0].ready && s->eps[0].serving);
	assert_string_equal(s->eps[0].node, "n1");
	assert_true(!s->eps[1].ready && s->eps[1].serving);
	assert_true(!s->eps[2].ready && !s->eps[2].serving);
	assert_null(s->eps[2].node);
	obj_slice_free(s, NULL);
	assert_int_equal(decode(obj_slice_decode, NULL, "{\"metadata\":{\"name\":\"orphan\"}}",
				(void **)&s, &why),
			 INFORMER_SKIP);
	expect_error(
		obj_slice_decode,
		"{\"metadata\":{\"name\":\"x\",\"labels\":{\"kubernetes.io/service-name\":\"w\"}},"
		"\"endpoints\":[{\"conditions\":{\"ready\":\"yes\"}}]}",
		"conditions.ready");
}

/* A Service is one allocation: every array and string of it is usable
 * (ASan and UBSan check the bounds and alignment), and each stands alone. */
static void test_service_every_field_at_once(void **state)
{
	struct obj_service *s;
	const char *why;
	char buf[IP_STRLEN];

	(void)state;
	assert_int_equal(
		decode(obj_service_decode, NULL,
		       "{\"metadata\":{\"namespace\":\"a-much-longer-namespace\",\"name\":\"n\","
		       "\"uid\":\"0b9c8c2e-6f0f-4c55-9a55-3c8e1d2f4a11\"},\"spec\":{\"type\":"
		       "\"LoadBalancer\",\"externalIPs\":[\"198.51.100.7\",\"2001:db8::7\"],"
		       "\"clusterIPs\":[\"None\",\"203.0.113.131\"],\"ports\":[{\"port\":1,"
		       "\"protocol\":\"UDP\",\"nodePort\":30001},{\"port\":2},{\"port\":3,"
		       "\"protocol\":\"SCTP\"}]},\"status\":{\"loadBalancer\":{\"ingress\":["
		       "{\"hostname\":\"h\"},{\"ip\":\"192.0.2.1\"},{\"hostname\":\"i\"}]}}}",
		       (void **)&s, &why),
		0);
	assert_string_equal(s->ns, "a-much-longer-namespace");
	assert_string_equal(s->name, "n");
	assert_string_equal(s->uid, "0b9c8c2e-6f0f-4c55-9a55-3c8e1d2f4a11");
	assert_int_equal(s->n_ingress, 1);
	assert_string_equal(ip_format(&s->ingress[0], buf, sizeof(buf)), "192.0.2.1");
	assert_int_equal(s->n_external, 2);
	assert_string_equal(ip_format(&s->external[0], buf, sizeof(buf)), "198.51.100.7");
	assert_string_equal(ip_format(&s->external[1], buf, sizeof(buf)), "2001:db8::7");
	assert_int_equal(s->n_cluster_ips, 1);
	assert_string_equal(ip_format(&s->cluster_ips[0], buf, sizeof(buf)), "203.0.113.131");
	assert_int_equal(s->n_ports, 3);
	assert_int_equal(s->ports[0].protocol, OBJ_PROTO_UDP);
	assert_int_equal(s->ports[0].node_port, 30001);
	assert_int_equal(s->ports[2].port, 3);
	assert_int_equal(s->ports[2].protocol, OBJ_PROTO_SCTP);
	obj_service_free(s, NULL);
	/* Only hostnames: no addresses; nothing at all: no arrays. */
	assert_int_equal(decode(obj_service_decode, NULL,
				"{" META ",\"spec\":{\"type\":\"LoadBalancer\",\"clusterIP\":"
				"\"None\"},\"status\":{\"loadBalancer\":{\"ingress\":[{"
				"\"hostname\":\"h\"}]}}}",
				(void **)&s, &why),
			 0);
	assert_int_equal(s->n_ingress, 0);
	assert_null(s->ingress);
	assert_int_equal(s->n_cluster_ips, 0);
	assert_null(s->cluster_ips);
	assert_null(s->ports);
	assert_null(s->external);
	assert_string_equal(s->uid, "u-1");
	obj_service_free(s, NULL);
}

/* A slice's endpoints on the same node share one copy of its name. */
static void test_slice_endpoints_share_node_names(void **state)
{
	struct obj_slice *s;
	const char *why;
	char text[32768];
	size_t n;

	(void)state;
	assert_int_equal(decode(obj_slice_decode, NULL,
				"{\"metadata\":{\"namespace\":\"ns\",\"name\":\"web-1\",\"labels\":"
				"{\"kubernetes.io/service-name\":\"web\"}},\"endpoints\":["
				"{\"nodeName\":\"node-a\"},{\"nodeName\":\"node-b\"},{},"
				"{\"nodeName\":\"node-a\",\"conditions\":{\"serving\":false}},"
				"{\"nodeName\":\"node-b\"}]}",
				(void **)&s, &why),
			 0);
	assert_string_equal(s->ns, "ns");
	assert_string_equal(s->service, "web");
	assert_int_equal(s->n_eps, 5);
	assert_string_equal(s->eps[0].node, "node-a");
	assert_string_equal(s->eps[1].node, "node-b");
	assert_null(s->eps[2].node);
	assert_ptr_equal(s->eps[3].node, s->eps[0].node);
	assert_ptr_equal(s->eps[4].node, s->eps[1].node);
	assert_true(s->eps[3].ready && !s->eps[3].serving);
	obj_slice_free(s, NULL);
	/* 1,000 endpoints on 100 nodes, in an order that defeats sharing
	 * (each node comes back after 100 others): every name still right. */
	n = (size_t)snprintf(text, sizeof(text),
			     "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"big\",\"labels\":"
			     "{\"kubernetes.io/service-name\":\"big\"}},\"endpoints\":[");
	for (int i = 0; i < 1000; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s{\"nodeName\":\"n%d\"}",
				      i ? "," : "", i % 100);
	snprintf(text + n, sizeof(text) - n, "]}");
	assert_int_equal(decode(obj_slice_decode, NULL, text, (void **)&s, &why), 0);
	assert_int_equal(s->n_eps, 1000);
	for (int i = 0; i < 1000; i++) {
		char want[8];

		snprintf(want, sizeof(want), "n%d", i % 100);
		assert_string_equal(s->eps[i].node, want);
	}
	obj_slice_free(s, NULL);
	/* An error in a later endpoint frees nothing twice and names the field. */
	expect_error(obj_slice_decode,
		     "{\"metadata\":{\"name\":\"x\",\"labels\":{\"kubernetes.io/service-name\":"
		     "\"w\"}},\"endpoints\":[{\"nodeName\":\"a\"},{\"nodeName\":7}]}",
		     "endpoints[].nodeName");
}

static void test_node_labels_conditions_and_address(void **state)
{
	struct obj_node *n;
	const char *why;
	char buf[IP_STRLEN];

	(void)state;
	assert_int_equal(
		decode(obj_node_decode, NULL,
		       "{\"metadata\":{\"name\":\"n1\",\"labels\":{\"zone\":\"a\","
		       "\"node.kubernetes.io/exclude-from-external-load-balancers\":\"\"}},"
		       "\"status\":{\"conditions\":[{\"type\":\"NetworkUnavailable\",\"status\":"
		       "\"True\"}],\"addresses\":[{\"type\":\"Hostname\",\"address\":\"n1\"},"
		       "{\"type\":\"InternalIP\",\"address\":\"192.0.2.11\"}]}}",
		       (void **)&n, &why),
		0);
	assert_string_equal(n->name, "n1");
	assert_true(n->exclude);
	assert_true(n->network_unavailable);
	assert_true(n->has_addr);
	assert_string_equal(ip_format(&n->addr, buf, sizeof(buf)), "192.0.2.11");
	assert_string_equal(labels_get(n->labels, "zone"), "a");
	obj_node_free(n, NULL);
	expect_error(obj_node_decode, "{\"metadata\":{\"name\":\"n\",\"labels\":{\"a\":1}}}",
		     "metadata.labels");
	expect_error(obj_node_decode,
		     "{\"metadata\":{\"name\":\"n\"},\"status\":{\"conditions\":{}}}",
		     "status.conditions");
}

static void test_pool_ranges_and_allow_external(void **state)
{
	struct obj_pool *p;
	struct ip_addr a;
	const char *why;

	(void)state;
	assert_int_equal(decode(obj_pool_decode, NULL,
				"{\"metadata\":{\"name\":\"lab\",\"labels\":{\"tier\":\"x\"}},"
				"\"spec\":{\"addresses\":[\"192.0.2.200-192.0.2.239\","
				"\"2001:db8::/120\"],\"allowExternalIPs\":true}}",
				(void **)&p, &why),
			 0);
	assert_true(p->allow_external);
	assert_int_equal(p->n_ranges, 2);
	ip_parse("192.0.2.239", &a, NULL);
	assert_true(obj_pool_contains(p, &a));
	ip_parse("192.0.2.240", &a, NULL);
	assert_false(obj_pool_contains(p, &a));
	obj_pool_free(p, NULL);
	expect_error(obj_pool_decode,
		     "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"addresses\":[\"nonsense\"]}}",
		     "spec.addresses[]");
	expect_error(obj_pool_decode,
		     "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"allowExternalIPs\":\"yes\"}}",
		     "spec.allowExternalIPs");
}

#define POOL_NEXT(status)                                                                          \
	"{\"metadata\":{\"name\":\"lab\"},\"spec\":{\"addresses\":[\"192.0.2.200-192.0.2.239\","   \
	"\"2001:db8::/120\"]}" status "}"

/* Decodes a pool that must decode with both ranges; returns it. */
static struct obj_pool *pool_next_decoded(const char *text)
{
	struct obj_pool *p;
	const char *why;

	assert_int_equal(decode(obj_pool_decode, NULL, text, (void **)&p, &why), 0);
	assert_non_null(p);
	assert_null(why);
	assert_string_equal(p->name, "lab");
	assert_int_equal(p->n_ranges, 2);
	return p;
}

static void test_pool_next_addresses_kept_in_order(void **state)
{
	struct obj_pool *p;
	char buf[IP_STRLEN];

	(void)state;
	p = pool_next_decoded(POOL_NEXT(
		",\"status\":{\"nextIPv4\":\"192.0.2.201\",\"nextIPv6\":\"2001:db8::7\"}"));
	assert_int_equal(p->n_next, 2);
	assert_int_equal(p->next[0].family, AF_INET);
	assert_string_equal(ip_format(&p->next[0], buf, sizeof(buf)), "192.0.2.201");
	assert_int_equal(p->next[1].family, AF_INET6);
	assert_string_equal(ip_format(&p->next[1], buf, sizeof(buf)), "2001:db8::7");
	obj_pool_free(p, NULL);

	/* Only one family present: it alone, at index 0. */
	p = pool_next_decoded(POOL_NEXT(",\"status\":{\"nextIPv6\":\"2001:db8::ff\"}"));
	assert_int_equal(p->n_next, 1);
	assert_string_equal(ip_format(&p->next[0], buf, sizeof(buf)), "2001:db8::ff");
	obj_pool_free(p, NULL);

	/* The range bounds are inside. */
	p = pool_next_decoded(POOL_NEXT(",\"status\":{\"nextIPv4\":\"192.0.2.239\"}"));
	assert_int_equal(p->n_next, 1);
	assert_string_equal(ip_format(&p->next[0], buf, sizeof(buf)), "192.0.2.239");
	obj_pool_free(p, NULL);
}

static void test_pool_bad_next_addresses_are_ignored_pool_kept(void **state)
{
	static const struct {
		const char *status;
		int n_next;
		const char *kept; /* the one kept, if any */
	} cases[] = {
		/* a number */
		{ ",\"status\":{\"nextIPv4\":3221226185}", 0, NULL },
		{ ",\"status\":{\"nextIPv4\":true,\"nextIPv6\":\"2001:db8::2\"}", 1,
		  "2001:db8::2" },
		{ ",\"status\":{\"nextIPv4\":[\"192.0.2.201\"]}", 0, NULL },
		{ ",\"status\":{\"nextIPv6\":{\"ip\":\"2001:db8::2\"}}", 0, NULL },
		/* unparsable strings */
		{ ",\"status\":{\"nextIPv4\":\"nonsense\",\"nextIPv6\":\"2001:db8::2\"}", 1,
		  "2001:db8::2" },
		{ ",\"status\":{\"nextIPv4\":\"\"}", 0, NULL },
		{ ",\"status\":{\"nextIPv4\":\"192.0.2.300\"}", 0, NULL },
		{ ",\"status\":{\"nextIPv6\":\"2001:db8::zz\"}", 0, NULL },
		/* the wrong family in each field */
		{ ",\"status\":{\"nextIPv4\":\"2001:db8::2\"}", 0, NULL },
		{ ",\"status\":{\"nextIPv4\":\"2001:db8::2\",\"nextIPv6\":\"192.0.2.201\"}", 0,
		  NULL },
		{ ",\"status\":{\"nextIPv4\":\"192.0.2.202\",\"nextIPv6\":\"192.0.2.201\"}", 1,
		  "192.0.2.202" },
		/* outside spec.addresses */
		{ ",\"status\":{\"nextIPv4\":\"192.0.2.240\",\"nextIPv6\":\"2001:db8::2\"}", 1,
		  "2001:db8::2" },
		{ ",\"status\":{\"nextIPv4\":\"198.51.100.1\"}", 0, NULL },
		{ ",\"status\":{\"nextIPv4\":\"192.0.2.201\",\"nextIPv6\":\"2001:db8::100\"}", 1,
		  "192.0.2.201" },
		/* absent, null, wrong-typed status */
		{ "", 0, NULL },
		{ ",\"status\":null", 0, NULL },
		{ ",\"status\":{}", 0, NULL },
		{ ",\"status\":\"x\"", 0, NULL },
		{ ",\"status\":{\"nextIPv4\":null,\"nextIPv6\":null}", 0, NULL },
		{ ",\"status\":{\"nextIPv4\":null,\"nextIPv6\":\"2001:db8::2\"}", 1,
		  "2001:db8::2" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512], buf[IP_STRLEN];
		struct obj_pool *p;

		snprintf(text, sizeof(text), POOL_NEXT("%s"), cases[i].status);
		p = pool_next_decoded(text);
		if (p->n_next != cases[i].n_next)
			fail_msg("status %s: n_next %d, want %d", cases[i].status, (int)p->n_next,
				 cases[i].n_next);
		if (cases[i].kept)
			assert_string_equal(ip_format(&p->next[0], buf, sizeof(buf)),
					    cases[i].kept);
		obj_pool_free(p, NULL);
	}
}

static void test_pool_next_without_addresses_is_ignored(void **state)
{
	struct obj_pool *p;
	const char *why;

	(void)state;
	/* No spec.addresses: nothing contains the next address. */
	assert_int_equal(decode(obj_pool_decode, NULL,
				"{\"metadata\":{\"name\":\"empty\"},\"status\":{\"nextIPv4\":"
				"\"192.0.2.201\",\"nextIPv6\":\"2001:db8::1\"}}",
				(void **)&p, &why),
			 0);
	assert_int_equal(p->n_ranges, 0);
	assert_int_equal(p->n_next, 0);
	obj_pool_free(p, NULL);
}

static void test_l2adv_selectors_pools_and_interfaces(void **state)
{
	struct obj_l2adv *a;
	struct obj_pool *p;
	struct obj_node *n;
	const char *why;

	(void)state;
	assert_int_equal(
		decode(obj_l2adv_decode, NULL,
		       "{\"metadata\":{\"name\":\"adv\"},\"spec\":{\"ipAddressPoolSelectors\":"
		       "[{\"matchLabels\":{\"tier\":\"x\"}}],\"nodeSelectors\":[{\"matchLabels\":"
		       "{\"zone\":\"a\"}}],\"interfaces\":[\"eth0\",\"eth1\"]}}",
		       (void **)&a, &why),
		0);
	assert_int_equal(a->n_ifnames, 2);
	assert_int_equal(decode(obj_pool_decode, NULL,
				"{\"metadata\":{\"name\":\"lab\",\"labels\":{\"tier\":\"x\"}}}",
				(void **)&p, &why),
			 0);
	assert_true(obj_l2adv_selects_pool(a, p));
	assert_int_equal(decode(obj_node_decode, NULL,
				"{\"metadata\":{\"name\":\"n1\",\"labels\":{\"zone\":\"b\"}}}",
				(void **)&n, &why),
			 0);
	assert_false(obj_l2adv_selects_node(a, n));
	obj_node_free(n, NULL);
	obj_pool_free(p, NULL);
	obj_l2adv_free(a, NULL);
	expect_error(obj_l2adv_decode,
		     "{\"metadata\":{\"name\":\"a\"},\"spec\":{\"ipAddressPools\":[1]}}",
		     "spec.ipAddressPools");
	expect_error(
		obj_l2adv_decode,
		"{\"metadata\":{\"name\":\"a\"},\"spec\":{\"nodeSelectors\":[{\"matchExpressions\":"
		"[{\"key\":\"k\",\"operator\":\"Foo\"}]}]}}",
		"spec.nodeSelectors");
	expect_error(obj_l2adv_decode,
		     "{\"metadata\":{\"name\":\"a\"},\"spec\":{\"interfaces\":\"eth0\"}}",
		     "spec.interfaces");
}

static void test_lease_of_speaker_with_annotation(void **state)
{
	struct obj_lease *l;
	const char *why;

	(void)state;
	assert_int_equal(
		decode(obj_lease_decode, NULL,
		       "{\"metadata\":{\"name\":\"speaker-n1\",\"namespace\":\"ironlb-system\","
		       "\"annotations\":{\"ironlb.io/speaker\":\"{\\\"heartbeat\\\":"
		       "\\\"192.0.2.11:7482\\\",\\\"macs\\\":[\\\"02:00:00:00:00:01\\\"]}\"}},"
		       "\"spec\":{\"holderIdentity\":\"n1\",\"leaseDurationSeconds\":10,"
		       "\"renewTime\":\"2026-11-27T20:00:00.500000Z\"}}",
		       (void **)&l, &why),
		0);
	assert_string_equal(l->holder, "n1");
	assert_int_equal(l->duration_s, 10);
	assert_true(l->renew_wall_us == 1795809600500000ULL);
	assert_true(l->has_hb);
	assert_int_equal(l->hb.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&l->hb)->sin_port), 7482);
	assert_int_equal(l->n_macs, 1);
	assert_int_equal(l->macs[0][5], 1);
	obj_lease_free(l, NULL);
	/* Leases of others (a controller's leader Lease) are not speakers. */
	assert_int_equal(decode(obj_lease_decode, NULL,
				"{\"metadata\":{\"name\":\"ironlb-controller\"},\"spec\":"
				"{\"holderIdentity\":\"x\"}}",
				(void **)&l, &why),
			 INFORMER_SKIP);
	expect_error(obj_lease_decode,
		     "{\"metadata\":{\"name\":\"speaker-n1\"},\"spec\":{\"holderIdentity\":7}}",
		     "spec.holderIdentity");
	expect_error(
		obj_lease_decode,
		"{\"metadata\":{\"name\":\"speaker-n1\",\"annotations\":{\"ironlb.io/speaker\":"
		"\"{\\\"macs\\\":[\\\"zz\\\"]}\"}},\"spec\":{\"holderIdentity\":\"n1\"}}",
		"macs");
}

/* A Lease whose annotation is {"heartbeat":...,"prefixes":<prefixes>}. */
static struct obj_lease *lease_with_prefixes(const char *prefixes)
{
	char text[4096];
	struct obj_lease *l = NULL;
	const char *why = NULL;
	json_t *ann, *obj;
	char *annv;

	snprintf(text, sizeof(text), "{\"heartbeat\":\"192.0.2.11:7482\",\"prefixes\":%s}",
		 prefixes);
	ann = json_loads(text, 0, NULL);
	assert_non_null(ann);
	annv = json_dumps(ann, JSON_COMPACT);
	json_decref(ann);
	obj = json_pack("{s:{s:s, s:{s:s}}, s:{s:s}}", "metadata", "name", "speaker-n1",
			"annotations", "ironlb.io/speaker", annv, "spec", "holderIdentity", "n1");
	free(annv);
	assert_int_equal(obj_lease_decode(obj, NULL, (void **)&l, &why), 0);
	json_decref(obj);
	assert_non_null(l);
	assert_true(l->has_hb);
	return l;
}

static void test_lease_renewal_alone_is_told_apart_from_a_change(void **state)
{
	struct obj_lease *a = lease_with_prefixes("[\"192.0.2.0/24\",\"2001:db8:2::/64\"]");
	struct obj_lease *b = lease_with_prefixes("[\"192.0.2.0/24\",\"2001:db8:2::/64\"]");
	struct obj_lease *c = lease_with_prefixes("[\"192.0.2.0/24\"]");
	struct obj_lease *d = lease_with_prefixes("[\"192.0.2.0/24\",\"2001:db8:3::/64\"]");

	(void)state;
	b->renew_wall_us = a->renew_wall_us + 2000000;
	assert_true(obj_lease_same_but_renewal(a, b));
	/* Prefixes: fewer, or another one. */
	assert_false(obj_lease_same_but_renewal(a, c));
	assert_false(obj_lease_same_but_renewal(a, d));
	/* Duration, heartbeat address, MACs, holder. */
	b->duration_s = a->duration_s + 1;
	assert_false(obj_lease_same_but_renewal(a, b));
	b->duration_s = a->duration_s;
	((struct sockaddr_in *)&b->hb)->sin_port ^= 1;
	assert_false(obj_lease_same_but_renewal(a, b));
	((struct sockaddr_in *)&b->hb)->sin_port ^= 1;
	assert_true(obj_lease_same_but_renewal(a, b));
	b->n_macs = a->n_macs + 1;
	assert_false(obj_lease_same_but_renewal(a, b));
	b->n_macs = a->n_macs;
	b->holder[0] = 'x';
	assert_false(obj_lease_same_but_renewal(a, b));
	assert_false(obj_lease_same_but_renewal(a, NULL));
	assert_false(obj_lease_same_but_renewal(NULL, a));
	obj_lease_free(a, NULL);
	obj_lease_free(b, NULL);
	obj_lease_free(c, NULL);
	obj_lease_free(d, NULL);
}

static void test_lease_prefixes_decode_and_malformed_keep_the_lease(void **state)
{
	struct obj_lease *l;
	struct ip_addr in4, in6, out;
	char many[2048] = "[";

	(void)state;
	assert_int_equal(ip_parse("192.0.2.200", &in4, NULL), 0);
	assert_int_equal(ip_parse("2001:db8:2::7", &in6, NULL), 0);
	assert_int_equal(ip_parse("198.51.100.1", &out, NULL), 0);

	l = lease_with_prefixes("[\"192.0.2.0/24\",\"2001:db8:2::/64\"]");
	assert_true(l->has_prefixes);
	assert_null(l->prefixes_why);
	assert_int_equal(l->n_prefixes, 2);
	assert_int_equal(l->prefixes[1].len, 64);
	assert_true(obj_lease_can_announce(l, &in4));
	assert_true(obj_lease_can_announce(l, &in6));
	assert_false(obj_lease_can_announce(l, &out));
	obj_lease_free(l, NULL);

	/* Published but empty: every link down, nothing can be announced. */
	l = lease_with_prefixes("[]");
	assert_true(l->has_prefixes);
	assert_int_equal(l->n_prefixes, 0);
	assert_false(obj_lease_can_announce(l, &in4));
	obj_lease_free(l, NULL);

	/* Absent (an older speaker) or malformed: unknown, the node counts as
	 * able to announce, and the rest of the Lease is kept. */
	l = lease_with_prefixes("null");
	assert_false(l->has_prefixes);
	assert_null(l->prefixes_why);
	assert_true(obj_lease_can_announce(l, &out));
	obj_lease_free(l, NULL);
	assert_true(obj_lease_can_announce(NULL, &out));

	l = lease_with_prefixes("\"192.0.2.0/24\"");
	assert_false(l->has_prefixes);
	assert_non_null(strstr(l->prefixes_why, "prefixes: not an array"));
	assert_true(obj_lease_can_announce(l, &out));
	obj_lease_free(l, NULL);

	l = lease_with_prefixes("[\"192.0.2.0/24\",\"192.0.2.1/24\"]"); /* host bits */
	assert_false(l->has_prefixes);
	assert_int_equal(l->n_prefixes, 0);
	assert_non_null(strstr(l->prefixes_why, "prefixes[]: not a prefix"));
	assert_true(obj_lease_can_announce(l, &out));
	obj_lease_free(l, NULL);

	l = lease_with_prefixes("[\"192.0.2.0/24\",7]");
	assert_false(l->has_prefixes);
	assert_non_null(strstr(l->prefixes_why, "prefixes[]"));
	obj_lease_free(l, NULL);

	l = lease_with_prefixes("[\"192.0.2.0/33\"]");
	assert_false(l->has_prefixes);
	obj_lease_free(l, NULL);

	for (int i = 0; i <= OBJ_MAX_PREFIXES; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s\"10.%d.0.0/16\"",
			 i ? "," : "", i);
	strcat(many, "]");
	l = lease_with_prefixes(many);
	assert_false(l->has_prefixes);
	assert_non_null(strstr(l->prefixes_why, "more than 32"));
	assert_true(obj_lease_can_announce(l, &out));
	obj_lease_free(l, NULL);
}

static void test_hostport_and_mac_parsers(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	uint8_t mac[6];

	(void)state;
	assert_int_equal(obj_parse_hostport("192.0.2.1", 7482, &ss, &len), 0);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 7482);
	assert_int_equal(obj_parse_hostport("[2001:db8::1]:99", 7482, &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 99);
	assert_int_equal(obj_parse_hostport("2001:db8::1", 7482, &ss, &len), 0);
	assert_int_equal(obj_parse_hostport("192.0.2.1:70000", 1, &ss, &len), -EINVAL);
	assert_int_equal(obj_parse_hostport("192.0.2.1:", 1, &ss, &len), -EINVAL);
	assert_int_equal(obj_parse_hostport("host:80", 1, &ss, &len), -EINVAL);
	assert_int_equal(obj_parse_mac("aa:bb:cc:dd:ee:ff", mac), 0);
	assert_int_equal(mac[0], 0xaa);
	assert_int_equal(obj_parse_mac("aa:bb:cc:dd:ee", mac), -EINVAL);
	assert_int_equal(obj_parse_mac("aa:bb:cc:dd:ee:ff:00", mac), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service_load_balancer_with_ingress_and_ports),
		cmocka_unit_test(test_service_outlives_the_cache_while_held),
		cmocka_unit_test(test_service_ports_protocols_node_ports_and_cluster_ips),
		cmocka_unit_test(test_service_of_another_class_is_skipped_unless_external_ips),
		cmocka_unit_test(test_service_wrong_types_name_the_field),
		cmocka_unit_test(test_slice_conditions_default_and_node),
		cmocka_unit_test(test_service_every_field_at_once),
		cmocka_unit_test(test_slice_endpoints_share_node_names),
		cmocka_unit_test(test_node_labels_conditions_and_address),
		cmocka_unit_test(test_pool_ranges_and_allow_external),
		cmocka_unit_test(test_pool_next_addresses_kept_in_order),
		cmocka_unit_test(test_pool_bad_next_addresses_are_ignored_pool_kept),
		cmocka_unit_test(test_pool_next_without_addresses_is_ignored),
		cmocka_unit_test(test_l2adv_selectors_pools_and_interfaces),
		cmocka_unit_test(test_lease_of_speaker_with_annotation),
		cmocka_unit_test(test_lease_prefixes_decode_and_malformed_keep_the_lease),
		cmocka_unit_test(test_lease_renewal_alone_is_told_apart_from_a_change),
		cmocka_unit_test(test_hostport_and_mac_parsers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
