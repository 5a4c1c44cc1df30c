/* Unit tests for speaker/datapath.c, the pure part: which Service ports of
 * which announced addresses are steered (NodePort first, else the ClusterIP
 * of the address's family; externalIPs only inside a pool that allows
 * them), how duplicates and conflicts are resolved, and the nftables script:
 * exact text for a known input, independent of input order, only a removal
 * for no entries, direct NodePort access dropped except where it is itself
 * a steered port, and accepted by libnftables (a dry run inside a network
 * namespace of the test's own, when the test may create one).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "../../speaker/datapath.h"

static struct datapath_entry entry(const char *a, enum obj_protocol proto, uint16_t port,
				   uint16_t node_port, const char *cluster_ip)
{
	struct datapath_entry e = { .proto = proto, .port = port, .node_port = node_port };

	assert_int_equal(ip_parse(a, &e.addr, NULL), 0);
	if (cluster_ip)
		assert_int_equal(ip_parse(cluster_ip, &e.cluster_ip, NULL), 0);
	return e;
}

static void *dec(int (*fn)(json_t *, void *, void **, const char **), const char *text)
{
	struct obj_decode_ctx ctx = { .lb_class = "ironlb.io/lb" };
	json_t *obj = json_loads(text, 0, NULL); /* new */
	const char *why = NULL;
	void *item = NULL;

	assert_non_null(obj);
	if (fn(obj, &ctx, &item, &why) != 0)
		fail_msg("decode: %s", why ? why : "?");
	json_decref(obj);
	return item;
}

static struct ip_addr ip(const char *s)
{
	struct ip_addr a;

	assert_int_equal(ip_parse(s, &a, NULL), 0);
	return a;
}

static void test_entries_node_port_first_else_cluster_ip_of_the_family(void **state)
{
	struct obj_service *svc = dec(
		obj_service_decode,
		"{\"metadata\":{\"namespace\":\"default\",\"name\":\"web\",\"uid\":\"u\"},"
		"\"spec\":{\"type\":\"LoadBalancer\",\"clusterIPs\":[\"203.0.113.130\"],"
		"\"ports\":[{\"port\":80,\"nodePort\":30080},{\"port\":53,\"protocol\":\"UDP\"}]},"
		"\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"192.0.2.200\"},"
		"{\"ip\":\"2001:db8:2::200\"},{\"ip\":\"192.0.2.210\"}]}}}");
	const struct obj_service *svcs[] = { svc };
	struct ip_addr announced[] = { ip("192.0.2.200"), ip("2001:db8:2::200") };
	struct datapath_set set = { 0 };
	char buf[128];

	(void)state;
	assert_int_equal(datapath_entries_for(svcs, 1, NULL, 0, announced, 2, &set), 0);
	/* 192.0.2.210 is not announced here; the IPv6 address has no ClusterIP
	 * of its family, so UDP 53 (no NodePort) is left out for it. */
	assert_int_equal(set.n, 3);
	datapath_entry_describe(&set.v[0], buf, sizeof(buf));
	assert_string_equal(buf, "tcp 192.0.2.200:80 -> NodePort 30080");
	datapath_entry_describe(&set.v[1], buf, sizeof(buf));
	assert_string_equal(buf, "udp 192.0.2.200:53 -> ClusterIP 203.0.113.130:53");
	datapath_entry_describe(&set.v[2], buf, sizeof(buf));
	assert_string_equal(buf, "tcp [2001:db8:2::200]:80 -> NodePort 30080");
	datapath_set_clear(&set);
	obj_service_free(svc, NULL);
}

static void test_entries_external_ips_only_inside_an_allowing_pool(void **state)
{
	struct obj_service *svc = dec(
		obj_service_decode,
		"{\"metadata\":{\"namespace\":\"default\",\"name\":\"ext\",\"uid\":\"u\"},"
		"\"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"203.0.113.131\","
		"\"externalIPs\":[\"192.0.2.220\",\"198.51.100.7\"],\"ports\":[{\"port\":443}]}}");
	struct obj_pool *allow =
		dec(obj_pool_decode, "{\"metadata\":{\"namespace\":\"ironlb-system\",\"name\":"
				     "\"a\"},\"spec\":{\"addresses\":[\"192.0.2.200-192.0.2.239\"],"
				     "\"allowExternalIPs\":true}}");
	struct obj_pool *deny =
		dec(obj_pool_decode, "{\"metadata\":{\"namespace\":\"ironlb-system\",\"name\":"
				     "\"d\"},\"spec\":{\"addresses\":[\"198.51.100.0/24\"]}}");
	const struct obj_service *svcs[] = { svc };
	const struct obj_pool *pools[] = { allow, deny };
	struct ip_addr announced[] = { ip("192.0.2.220"), ip("198.51.100.7") };
	struct datapath_set set = { 0 };
	char buf[128];

	(void)state;
	assert_int_equal(datapath_entries_for(svcs, 1, pools, 2, announced, 2, &set), 0);
	assert_int_equal(set.n, 1);
	datapath_entry_describe(&set.v[0], buf, sizeof(buf));
	assert_string_equal(buf, "tcp 192.0.2.220:443 -> ClusterIP 203.0.113.131:443");
	datapath_set_clear(&set);
	/* Without any pool nothing is steered. */
	assert_int_equal(datapath_entries_for(svcs, 1, NULL, 0, announced, 2, &set), 0);
	assert_int_equal(set.n, 0);
	datapath_set_clear(&set);
	obj_service_free(svc, NULL);
	obj_pool_free(allow, NULL);
	obj_pool_free(deny, NULL);
}

static void test_entries_headless_service_port_without_node_port_is_left_out(void **state)
{
	struct obj_service *svc =
		dec(obj_service_decode,
		    "{\"metadata\":{\"namespace\":\"default\",\"name\":\"h\",\"uid\":\"u\"},"
		    "\"spec\":{\"clusterIP\":\"None\",\"externalIPs\":[\"192.0.2.221\"],"
		    "\"ports\":[{\"port\":80}]}}");
	struct obj_pool *allow =
		dec(obj_pool_decode, "{\"metadata\":{\"namespace\":\"ironlb-system\",\"name\":"
				     "\"a\"},\"spec\":{\"addresses\":[\"192.0.2.200-192.0.2.239\"],"
				     "\"allowExternalIPs\":true}}");
	const struct obj_service *svcs[] = { svc };
	const struct obj_pool *pools[] = { allow };
	struct ip_addr announced[] = { ip("192.0.2.221") };
	struct datapath_set set = { 0 };

	(void)state;
	assert_int_equal(datapath_entries_for(svcs, 1, pools, 1, announced, 1, &set), 0);
	assert_int_equal(set.n, 0);
	datapath_set_clear(&set);
	obj_service_free(svc, NULL);
	obj_pool_free(allow, NULL);
}

static void test_normalize_sorts_and_drops_duplicates_and_conflicts(void **state)
{
	struct datapath_entry e[] = {
		entry("192.0.2.201", OBJ_PROTO_TCP, 80, 30080, NULL),
		entry("192.0.2.200", OBJ_PROTO_TCP, 443, 30443, NULL),
		entry("192.0.2.200", OBJ_PROTO_TCP, 80, 30080, NULL),
		entry("192.0.2.200", OBJ_PROTO_TCP, 80, 30080, NULL),		/* duplicate */
		entry("192.0.2.200", OBJ_PROTO_TCP, 80, 30081, NULL),		/* same key */
		entry("192.0.2.200", OBJ_PROTO_TCP, 8080, 30080, NULL),		/* NodePort twice */
		entry("192.0.2.200", OBJ_PROTO_TCP, 30443, 0, "203.0.113.130"), /* = a NodePort */
		entry("192.0.2.200", OBJ_PROTO_UDP, 80, 30080, NULL), /* other protocol: fine */
	};
	size_t conflicts = 99, n = datapath_normalize(e, 8, &conflicts);
	char buf[128];

	(void)state;
	assert_int_equal(n, 4);
	assert_int_equal(conflicts, 3);
	datapath_entry_describe(&e[0], buf, sizeof(buf));
	assert_string_equal(buf, "tcp 192.0.2.200:80 -> NodePort 30080");
	datapath_entry_describe(&e[1], buf, sizeof(buf));
	assert_string_equal(buf, "tcp 192.0.2.200:443 -> NodePort 30443");
	datapath_entry_describe(&e[2], buf, sizeof(buf));
	assert_string_equal(buf, "udp 192.0.2.200:80 -> NodePort 30080");
	datapath_entry_describe(&e[3], buf, sizeof(buf));
	assert_string_equal(buf, "tcp 192.0.2.201:80 -> NodePort 30080");
	assert_int_equal(datapath_normalize(NULL, 0, &conflicts), 0);
	assert_int_equal(conflicts, 0);
}

static const char GOLDEN[] =
	"table inet ironlb {}\n"
	"delete table inet ironlb\n"
	"table inet ironlb {\n"
	"\tcomment \"ironlb-speaker datapath: rewritten as a whole by the speaker\"\n"
	"\tcounter a4_192_0_2_200 {\n"
	"\t}\n"
	"\tcounter a6_2001_db8_2__201 {\n"
	"\t}\n"
	"\tmap addr4 {\n"
	"\t\ttype ipv4_addr : counter\n"
	"\t\telements = { 192.0.2.200 : \"a4_192_0_2_200\" }\n"
	"\t}\n"
	"\tmap addr6 {\n"
	"\t\ttype ipv6_addr : counter\n"
	"\t\telements = { 2001:db8:2::201 : \"a6_2001_db8_2__201\" }\n"
	"\t}\n"
	"\tset np_tcp4 {\n"
	"\t\ttype ipv4_addr . inet_service\n"
	"\t\telements = { 192.0.2.200 . 30080,\n"
	"\t\t\t     192.0.2.200 . 30443 }\n"
	"\t}\n"
	"\tmap steer_tcp4 {\n"
	"\t\ttype ipv4_addr . inet_service : inet_service\n"
	"\t\telements = { 192.0.2.200 . 80 : 30080,\n"
	"\t\t\t     192.0.2.200 . 443 : 30443 }\n"
	"\t}\n"
	"\tmap unsteer_tcp4 {\n"
	"\t\ttype ipv4_addr . inet_service : inet_service\n"
	"\t\telements = { 192.0.2.200 . 30080 : 80,\n"
	"\t\t\t     192.0.2.200 . 30443 : 443 }\n"
	"\t}\n"
	"\tmap cluster6 {\n"
	"\t\ttype ipv6_addr . inet_proto . inet_service : ipv6_addr\n"
	"\t\telements = { 2001:db8:2::201 . 17 . 53 : 2001:db8:c1::5 }\n"
	"\t}\n"
	"\tchain steer {\n"
	"\t\ttype filter hook prerouting priority raw; policy accept;\n"
	"\t\tip daddr . tcp dport @np_tcp4 drop\n"
	"\t\ttcp dport set ip daddr . tcp dport map @steer_tcp4 counter name ip daddr map "
	"@addr4\n"
	"\t}\n"
	"\tchain cluster {\n"
	"\t\ttype filter hook prerouting priority -199; policy accept;\n"
	"\t\tip6 daddr . meta l4proto . th dport @cluster6 counter name ip6 daddr map @addr6 "
	"ip6 daddr set ip6 daddr . meta l4proto . th dport map @cluster6\n"
	"\t}\n"
	"\tchain unsteer {\n"
	"\t\ttype filter hook postrouting priority 300; policy accept;\n"
	"\t\ttcp sport set ip saddr . tcp sport map @unsteer_tcp4 counter name ip saddr map "
	"@addr4\n"
	"\t\tip6 saddr . meta l4proto . th sport @cluster6 counter name ip6 saddr map @addr6\n"
	"\t}\n"
	"}\n";

static void test_render_golden_text_independent_of_input_order(void **state)
{
	struct datapath_entry a[] = {
		entry("2001:db8:2::201", OBJ_PROTO_UDP, 53, 0, "2001:db8:c1::5"),
		entry("192.0.2.200", OBJ_PROTO_TCP, 443, 30443, NULL),
		entry("192.0.2.200", OBJ_PROTO_TCP, 80, 30080, NULL),
	};
	struct datapath_entry b[] = { a[2], a[0], a[1] };
	char *s1, *s2;
	size_t rules;

	(void)state;
	assert_int_equal(datapath_render(a, datapath_normalize(a, 3, NULL), &s1, &rules), 0);
	assert_int_equal(datapath_render(b, datapath_normalize(b, 3, NULL), &s2, NULL), 0);
	assert_string_equal(s1, GOLDEN);
	assert_string_equal(s1, s2);
	assert_int_equal(rules, 5);
	free(s1);
	free(s2);
}

static void test_render_no_entries_only_removes_the_table(void **state)
{
	char *s;
	size_t rules = 9;

	(void)state;
	assert_int_equal(datapath_render(NULL, 0, &s, &rules), 0);
	assert_string_equal(s, "table inet ironlb {}\ndelete table inet ironlb\n");
	assert_int_equal(rules, 0);
	free(s);
}

static void test_render_direct_node_port_access_dropped_unless_it_is_a_steered_port(void **state)
{
	struct datapath_entry e[] = {
		entry("192.0.2.200", OBJ_PROTO_TCP, 80, 30080, NULL),
		/* Another Service on the same address uses 30080 as its port. */
		entry("192.0.2.200", OBJ_PROTO_TCP, 30080, 31000, NULL),
		/* Port = NodePort: nothing to rewrite, so in no map at all. */
		entry("192.0.2.200", OBJ_PROTO_UDP, 30053, 30053, NULL),
	};
	size_t n = datapath_normalize(e, 3, NULL);
	char *s;

	(void)state;
	assert_int_equal(n, 3);
	assert_int_equal(datapath_render(e, n, &s, NULL), 0);
	assert_non_null(strstr(s, "\tset np_tcp4 {\n\t\ttype ipv4_addr . inet_service\n"
				  "\t\telements = { 192.0.2.200 . 31000 }\n"));
	assert_non_null(strstr(s, "192.0.2.200 . 30080 : 31000"));
	assert_null(strstr(s, "udp"));
	assert_null(strstr(s, "30053"));
	free(s);
}

static void test_counter_names_and_descriptions(void **state)
{
	struct ip_addr a = ip("2001:db8::1"), b = ip("192.0.2.7");
	struct datapath_entry e = entry("2001:db8:2::200", OBJ_PROTO_SCTP, 9, 30009, NULL);
	char buf[128];

	(void)state;
	datapath_counter_name(&a, buf, sizeof(buf));
	assert_string_equal(buf, "a6_2001_db8__1");
	datapath_counter_name(&b, buf, sizeof(buf));
	assert_string_equal(buf, "a4_192_0_2_7");
	datapath_entry_describe(&e, buf, sizeof(buf));
	assert_string_equal(buf, "sctp [2001:db8:2::200]:9 -> NodePort 30009");
}

/* libnftables parses and checks the script against a kernel without
 * committing it, in a network namespace of this process's own. */
static void test_render_is_accepted_by_libnftables(void **state)
{
	struct datapath_entry e[] = {
		entry("192.0.2.200", OBJ_PROTO_TCP, 80, 30080, NULL),
		entry("192.0.2.200", OBJ_PROTO_UDP, 80, 30080, NULL),
		entry("192.0.2.200", OBJ_PROTO_SCTP, 80, 30080, NULL),
		entry("192.0.2.201", OBJ_PROTO_TCP, 80, 0, "203.0.113.130"),
		entry("2001:db8:2::200", OBJ_PROTO_TCP, 80, 30080, NULL),
		entry("2001:db8:2::200", OBJ_PROTO_UDP, 53, 0, "2001:db8:c1::5"),
	};
	struct nft_ctx *nft;
	char *s;
	int r;

	(void)state;
	if (unshare(CLONE_NEWNET) == -1)
		skip(); /* not allowed to make a namespace: no kernel to ask */
	assert_int_equal(datapath_render(e, datapath_normalize(e, 6, NULL), &s, NULL), 0);
	nft = nft_ctx_new(NFT_CTX_DEFAULT);
	assert_non_null(nft);
	assert_int_equal(nft_ctx_buffer_error(nft), 0);
	nft_ctx_set_dry_run(nft, true);
	r = nft_run_cmd_from_buffer(nft, s);
	if (r != 0)
		fail_msg("nft refused the script: %s", nft_ctx_get_error_buffer(nft));
	nft_ctx_free(nft);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entries_node_port_first_else_cluster_ip_of_the_family),
		cmocka_unit_test(test_entries_external_ips_only_inside_an_allowing_pool),
		cmocka_unit_test(test_entries_headless_service_port_without_node_port_is_left_out),
		cmocka_unit_test(test_normalize_sorts_and_drops_duplicates_and_conflicts),
		cmocka_unit_test(test_render_golden_text_independent_of_input_order),
		cmocka_unit_test(test_render_no_entries_only_removes_the_table),
		cmocka_unit_test(
			test_render_direct_node_port_access_dropped_unless_it_is_a_steered_port),
		cmocka_unit_test(test_counter_names_and_descriptions),
		cmocka_unit_test(test_render_is_accepted_by_libnftables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
