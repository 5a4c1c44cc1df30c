/* Unit tests for speaker/bird_conf.c: the BIRD configuration text and its
 * atomic write.
 *
 * Golden files: each scenario's text is compared byte for byte with
 * tests/unit/golden/bird/<scenario>.conf (tests/integration/bird_conf_parse.sh
 * runs `bird -p` on every one of them, and BIRD itself on the main one). To
 * regenerate them after an intended change, run from the repository root
 *   IRONLB_UPDATE_GOLDEN=1 build/asan/unit/test_bird_conf
 * and review the diff. IRONLB_GOLDEN_DIR overrides where they are looked for
 * (default: golden/bird next to this source file, relative to the
 * repository root, where tests/run.sh runs the tests).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../speaker/bird_conf.h"
#include "../../speaker/krt.h"

static struct ip_addr addr(const char *s)
{
	struct ip_addr a;

	assert_int_equal(ip_parse(s, &a, NULL), 0);
	return a;
}

/* A BGPPeer with the decoder's defaults. */
static struct bgp_peer peer(char *name, uint32_t my_asn, uint32_t peer_asn, const char *ip)
{
	return (struct bgp_peer){
		.name = name,
		.my_asn = my_asn,
		.peer_asn = peer_asn,
		.peer_addr = addr(ip),
		.peer_port = BGP_DEFAULT_PORT,
		.hold_s = BGP_DEFAULT_HOLD_S,
		.keepalive_s = BGP_DEFAULT_HOLD_S / 3,
	};
}

static struct bird_conf_input input(const char *router_id)
{
	return (struct bird_conf_input){
		.node_name = "node-1",
		.router_id = addr(router_id),
		.kernel_scan_s = 30,
	};
}

static char *golden_path(const char *name)
{
	const char *dir = getenv("IRONLB_GOLDEN_DIR");
	char *path;

	if (dir)
		assert_true(asprintf(&path, "%s/%s.conf", dir, name) > 0);
	else {
		const char *file = __FILE__, *slash = strrchr(file, '/');
		int dlen = slash ? (int)(slash - file) : 1;

		assert_true(asprintf(&path, "%.*s/golden/bird/%s.conf", dlen, slash ? file : ".",
				     name) > 0);
	}
	return path;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	FILE *m = open_memstream(&buf, &len);
	char chunk[4096];
	size_t n;

	assert_non_null(m);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(f);
	fclose(m);
	return buf;
}

/* Renders in, checks it renders identically twice, and compares with the
 * golden file (or writes it with IRONLB_UPDATE_GOLDEN=1). */
static void check_golden(const struct bird_conf_input *in, const char *name)
{
	char err[256] = "", *a = NULL, *b = NULL, *path = golden_path(name), *want;

	if (bird_conf_render(in, &a, err, sizeof(err)) != 0)
		fail_msg("%s: render failed: %s", name, err);
	assert_int_equal(bird_conf_render(in, &b, err, sizeof(err)), 0);
	assert_string_equal(a, b);
	if (getenv("IRONLB_UPDATE_GOLDEN")) {
		assert_int_equal(bird_conf_write(path, a), 0);
		chmod(path, 0644);
	}
	want = read_file(path);
	if (!want)
		fail_msg("%s: cannot read (IRONLB_UPDATE_GOLDEN=1 writes it)", path);
	if (strcmp(a, want) != 0) {
		print_error("--- %s\n+++ rendered\n%s\n", path, a);
		fail_msg("%s: rendered text differs from the golden file", name);
	}
	free(want);
	free(path);
	free(a);
	free(b);
}

/* ---- scenarios ---- */

static void test_no_peers_no_policies_is_a_valid_minimal_config(void **state)
{
	struct bird_conf_input in = input("192.0.2.1");

	(void)state;
	check_golden(&in, "empty");
}

/* The main scenario (also run by the integration test): one direct eBGP
 * IPv4 peer with a password and a BFD profile, one advertisement to every
 * peer with communities and a local preference (kept in BIRD's table; BIRD
 * only sends it over iBGP). */
static struct bgp_community main_comms[] = {
	{ .a = 65000, .b = 100 },
	{ .large = true, .a = 64512, .b = 1, .c = 2 },
};
static struct bgp_bfd_profile main_bfd = {
	.name = "fast",
	.rx_ms = 300,
	.tx_ms = 300,
	.echo_ms = BGP_DEFAULT_BFD_ECHO_MS,
	.multiplier = 3,
	.min_ttl = BGP_DEFAULT_BFD_MIN_TTL,
};

static void main_input(struct bird_conf_input *in, struct bgp_peer *p, struct bird_peer *bp,
		       struct bgp_advert *a, struct bird_policy *pol)
{
	*in = input("192.0.2.1");
	*p = peer("router-a", 64512, 64513, "192.0.2.2");
	p->connect_s = 5;
	*bp = (struct bird_peer){ .peer = p, .password = "s3cr\\et pw", .bfd = &main_bfd };
	*a = (struct bgp_advert){
		.name = "default",
		.agg_len = 32,
		.agg_len_v6 = 128,
		.has_local_pref = true,
		.local_pref = 200,
		.communities = main_comms,
		.n_communities = 2,
	};
	*pol = (struct bird_policy){ .adv = a, .table = 1000 };
	in->peers = bp;
	in->n_peers = 1;
	in->policies = pol;
	in->n_policies = 1;
}

static void test_ebgp_ipv4_peer_with_password_and_bfd(void **state)
{
	struct bird_conf_input in;
	struct bgp_peer p;
	struct bird_peer bp;
	struct bgp_advert a;
	struct bird_policy pol;

	(void)state;
	main_input(&in, &p, &bp, &a, &pol);
	check_golden(&in, "ebgp_password_bfd");
}

/* iBGP to two route reflectors (one reached through a source address and
 * its own router id, with keepalives off and a passive BFD profile whose
 * echo and TTL settings BIRD has no equivalent for), two advertisements: one to
 * every peer, one to rr-b only and aggregated to /24, which the speaker
 * does in the kernel table: the BIRD text does not change with it. */
static void ibgp_input(struct bird_conf_input *in, struct bgp_peer p[2], struct bird_peer bp[2],
		       struct bgp_advert a[2], struct bird_policy pol[2])
{
	static struct bgp_community comms_a[] = {
		{ .a = 65000, .b = 1 },
		{ .a = 65000, .b = 2 },
		{ .large = true, .a = 1, .b = 2, .c = 3 },
	};
	static struct bgp_community comms_b[] = {
		{ .large = true, .a = 4200000000u, .b = 0, .c = 4294967295u },
	};
	static char *peers_b[] = { "rr-b" };
	static struct bgp_bfd_profile passive_bfd = {
		.name = "slow-passive",
		.rx_ms = 1000,
		.tx_ms = 500,
		.multiplier = 5,
		.passive = true,
		.echo_mode = true,
		.echo_ms = 20,
		.min_ttl = 10,
	};

	*in = input("192.0.2.1");
	in->node_name = "worker-7.example";
	in->kernel_scan_s = 0;
	p[0] = peer("rr-a", 64512, 64512, "192.0.2.3");
	p[1] = peer("rr-b", 64512, 64512, "198.51.100.1");
	p[1].has_source = true;
	p[1].source_addr = addr("192.0.2.1");
	p[1].has_router_id = true;
	p[1].router_id = addr("192.0.2.99");
	p[1].hold_s = 0;
	p[1].keepalive_s = 0;
	p[1].peer_port = 1179;
	/* Every printable ASCII character but '"', which BIRD reads literally
	 * inside a string ('#' and '/' + '*' do not start comments there). */
	bp[0] = (struct bird_peer){ .peer = &p[0],
				    .password = "!#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~ x" };
	bp[1] = (struct bird_peer){ .peer = &p[1], .bfd = &passive_bfd };
	a[0] = (struct bgp_advert){
		.name = "all-rr",
		.agg_len = 32,
		.agg_len_v6 = 128,
		.has_local_pref = true,
		.local_pref = 150,
		.communities = comms_a,
		.n_communities = 3,
	};
	a[1] = (struct bgp_advert){
		.name = "only-b",
		.agg_len = 24,
		.agg_len_v6 = 64,
		.has_local_pref = true,
		.local_pref = 50,
		.communities = comms_b,
		.n_communities = 1,
		.peers = peers_b,
		.n_peers = 1,
	};
	pol[0] = (struct bird_policy){ .adv = &a[0], .table = 1000 };
	pol[1] = (struct bird_policy){ .adv = &a[1], .table = 1001 };
	in->peers = bp;
	in->n_peers = 2;
	in->policies = pol;
	in->n_policies = 2;
}

static void test_ibgp_two_policies_with_different_peer_lists(void **state)
{
	struct bird_conf_input in;
	struct bgp_peer p[2];
	struct bird_peer bp[2];
	struct bgp_advert a[2];
	struct bird_policy pol[2];
	char err[256], *t = NULL;

	(void)state;
	ibgp_input(&in, p, bp, a, pol);
	check_golden(&in, "ibgp_policies");

	/* Pipes: policy 0 feeds both peers, policy 1 only rr-b; iBGP sessions
	 * are multihop in BIRD, so only IPv4 channels. */
	assert_int_equal(bird_conf_render(&in, &t, err, sizeof(err)), 0);
	assert_non_null(strstr(t, "protocol pipe ilb_p0_peer_0_v4 {"));
	assert_non_null(strstr(t, "protocol pipe ilb_p0_peer_1_v4 {"));
	assert_null(strstr(t, "protocol pipe ilb_p1_peer_0_v4 {"));
	assert_non_null(strstr(t, "protocol pipe ilb_p1_peer_1_v4 {"));
	assert_null(strstr(t, "_v6 {\n\t\ttable ilb_peer_"));
	assert_null(strstr(t, "ipv6 table ilb_peer_"));
	free(t);
}

static void test_aggregation_length_does_not_change_the_text(void **state)
{
	struct bird_conf_input in;
	struct bgp_peer p[2];
	struct bird_peer bp[2];
	struct bgp_advert a[2];
	struct bird_policy pol[2];
	char err[256], *t1 = NULL, *t2 = NULL;

	(void)state;
	ibgp_input(&in, p, bp, a, pol);
	assert_int_equal(bird_conf_render(&in, &t1, err, sizeof(err)), 0);
	a[1].agg_len = 32;
	a[1].agg_len_v6 = 128;
	assert_int_equal(bird_conf_render(&in, &t2, err, sizeof(err)), 0);
	assert_string_equal(t1, t2);
	free(t1);
	free(t2);
}

static void test_ipv6_multihop_peer_carries_only_ipv6(void **state)
{
	struct bird_conf_input in = input("192.0.2.1");
	struct bgp_peer p = peer("edge-v6", 4200000001u, 65010, "2001:db8::2");
	struct bird_peer bp = { .peer = &p };
	struct bgp_advert a = { .name = "v6", .agg_len = 32, .agg_len_v6 = 128 };
	struct bird_policy pol = { .adv = &a, .table = 4000000000u };
	char err[256], *t = NULL;

	(void)state;
	p.ebgp_multihop = true;
	p.has_source = true;
	p.source_addr = addr("2001:db8::1");
	p.hold_s = 30;
	p.keepalive_s = 0;
	in.peers = &bp;
	in.n_peers = 1;
	in.policies = &pol;
	in.n_policies = 1;
	check_golden(&in, "ipv6_multihop");
	assert_int_equal(bird_conf_render(&in, &t, err, sizeof(err)), 0);
	assert_non_null(strstr(t, "\tmultihop;\n"));
	assert_non_null(strstr(t, "\tlocal 2001:db8::1 as 4200000001;\n"));
	assert_null(strstr(t, "ipv4 table ilb_peer_0_v4"));
	assert_null(strstr(t, "keepalive time"));
	/* No community line for a policy without communities. */
	assert_null(strstr(t, "community"));
	free(t);
}

static void test_direct_ipv6_ebgp_peer_carries_both_families(void **state)
{
	struct bird_conf_input in = input("192.0.2.1");
	struct bgp_peer p = peer("edge-v6", 64512, 65010, "2001:db8::2");
	struct bird_peer bp = { .peer = &p };
	struct bgp_advert a = { .name = "v6" };
	struct bird_policy pol = { .adv = &a, .table = 1000 };
	char err[256], *t = NULL;

	(void)state;
	in.peers = &bp;
	in.n_peers = 1;
	in.policies = &pol;
	in.n_policies = 1;
	assert_int_equal(bird_conf_render(&in, &t, err, sizeof(err)), 0);
	assert_non_null(strstr(t, "protocol pipe ilb_p0_peer_0_v4 {"));
	assert_non_null(strstr(t, "protocol pipe ilb_p0_peer_0_v6 {"));
	assert_non_null(strstr(t, "\tipv4 {\n\t\ttable ilb_peer_0_v4;\n\t\timport none;\n"
				  "\t\texport all;\n\t\tnext hop self;\n\t};\n"));
	assert_non_null(strstr(t, "\tipv6 {\n\t\ttable ilb_peer_0_v6;\n\t\timport none;\n"
				  "\t\texport all;\n\t\tnext hop self;\n\t};\n"));
	assert_null(strstr(t, "multihop"));
	assert_null(strstr(t, "password"));
	assert_null(strstr(t, "bfd"));
	free(t);
}

/* ---- passwords ---- */

static void test_password_backslash_is_written_as_itself(void **state)
{
	struct bird_conf_input in;
	struct bgp_peer p;
	struct bird_peer bp;
	struct bgp_advert a;
	struct bird_policy pol;
	char err[256], *t = NULL;

	(void)state;
	main_input(&in, &p, &bp, &a, &pol);
	/* BIRD 2 strings have no escapes: "a\\b" would be a 4-byte key. */
	bp.password = "a\\b'c$d";
	assert_int_equal(bird_conf_render(&in, &t, err, sizeof(err)), 0);
	assert_non_null(strstr(t, "\tpassword \"a\\b'c$d\";\n"));
	free(t);
}

static void test_password_bytes_accepted_exactly_when_bird_reads_them_back(void **state)
{
	struct bird_conf_input in;
	struct bgp_peer p;
	struct bird_peer bp;
	struct bgp_advert a;
	struct bird_policy pol;
	char err[256], pw[4], *t;

	(void)state;
	main_input(&in, &p, &bp, &a, &pol);
	for (int c = 1; c < 256; c++) {
		bool want = c >= 0x20 && c != 0x7f && c != '"';
		char line[32];

		pw[0] = 'a';
		pw[1] = (char)c;
		pw[2] = 'b';
		pw[3] = '\0';
		bp.password = pw;
		t = NULL;
		assert_int_equal(bird_conf_render(&in, &t, err, sizeof(err)), want ? 0 : -EINVAL);
		if (!want) {
			assert_null(t);
			continue;
		}
		snprintf(line, sizeof(line), "\tpassword \"%s\";\n", pw);
		assert_non_null(strstr(t, line));
		free(t);
	}
}

static void expect_password_rejected(const char *pw, const char *why)
{
	struct bird_conf_input in;
	struct bgp_peer p;
	struct bird_peer bp;
	struct bgp_advert a;
	struct bird_policy pol;
	char err[256] = "", *t = NULL;

	main_input(&in, &p, &bp, &a, &pol);
	bp.password = pw;
	assert_int_equal(bird_conf_render(&in, &t, err, sizeof(err)), -EINVAL);
	assert_null(t);
	assert_non_null(strstr(err, "BGPPeer router-a: password"));
	assert_non_null(strstr(err, why));
}

static void test_password_with_newline_or_control_or_quote_is_rejected(void **state)
{
	(void)state;
	expect_password_rejected("abc\ndef", "control character 0x0a");
	expect_password_rejected("abc\rdef", "control character 0x0d");
	expect_password_rejected("tab\there", "control character 0x09");
	expect_password_rejected("del\x7f", "control character 0x7f");
	expect_password_rejected("say \"hi\"", "cannot quote");
	expect_password_rejected("", "empty");
	expect_password_rejected("123456789012345678901234567890123456789012345678901234567890"
				 "123456789012345678901",
				 "longer than 80");
}

/* ---- other input errors ---- */

static void test_missing_or_ipv6_router_id_is_rejected(void **state)
{
	struct bird_conf_input in = input("192.0.2.1");
	char err[256] = "", *t = NULL;

	(void)state;
	in.router_id = (struct ip_addr){ 0 };
	assert_int_equal(bird_conf_render(&in, &t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "router id"));
	in.router_id = addr("2001:db8::1");
	assert_int_equal(bird_conf_render(&in, &t, err, sizeof(err)), -EINVAL);
	in.router_id = addr("0.0.0.0");
	assert_int_equal(bird_conf_render(&in, &t, err, sizeof(err)), -EINVAL);
	assert_null(t);
	assert_int_equal(bird_conf_render(NULL, &t, NULL, 0), -EINVAL);
}

static void test_invalid_peer_and_policy_fields_name_the_object(void **state)
{
	struct bird_conf_input in;
	struct bgp_peer p;
	struct bird_peer bp;
	struct bgp_advert a;
	struct bird_policy pol, pols[2];
	char err[256], *t = NULL;
	struct bgp_community bad = { .a = 70000, .b = 1 };

	(void)state;
#define EXPECT(what)                                                                               \
	do {                                                                                       \
		err[0] = '\0';                                                                     \
		assert_int_equal(bird_conf_render(&in, &t, err, sizeof(err)), -EINVAL);            \
		assert_null(t);                                                                    \
		assert_non_null(strstr(err, what));                                                \
		main_input(&in, &p, &bp, &a, &pol);                                                \
	} while (0)
	main_input(&in, &p, &bp, &a, &pol);
	p.hold_s = 2;
	EXPECT("BGPPeer router-a: holdTime 2s");
	p.keepalive_s = 91;
	EXPECT("keepaliveTime 91s is above holdTime 90s");
	p.my_asn = 0;
	EXPECT("BGPPeer router-a: myASN");
	p.has_source = true;
	p.source_addr = addr("2001:db8::1");
	EXPECT("sourceAddress");
	p.has_router_id = true;
	p.router_id = addr("2001:db8::1");
	EXPECT("BGPPeer router-a: routerID");
	p.peer_addr.family = 0;
	EXPECT("peerAddress");
	p.peer_port = 0;
	EXPECT("peerPort");
	main_bfd.multiplier = 0;
	EXPECT("BFDProfile fast: detectMultiplier");
	main_bfd.multiplier = 3;
	main_bfd.rx_ms = 0;
	EXPECT("BFDProfile fast: intervals");
	main_bfd.rx_ms = 300;
	pol.table = 254;
	EXPECT("BGPAdvertisement default: kernel table 254 is reserved");
	pol.table = KRT_TABLE_LOCAL;
	EXPECT("kernel table 255 is reserved");
	a.communities = &bad;
	a.n_communities = 1;
	EXPECT("community 70000:1");
	pols[0] = pol;
	pols[1] = pol;
	in.policies = pols;
	in.n_policies = 2;
	EXPECT("kernel table 1000 already used by policy 0");
	bp.peer = NULL;
	EXPECT("peer 0: no BGPPeer");
#undef EXPECT
}

static void test_object_names_in_comments_are_sanitized(void **state)
{
	struct bird_conf_input in;
	struct bgp_peer p;
	struct bird_peer bp;
	struct bgp_advert a;
	struct bird_policy pol;
	char err[256], *t = NULL;

	(void)state;
	main_input(&in, &p, &bp, &a, &pol);
	in.node_name = "evil\nrouter id 1.1.1.1;";
	p.name = "x\n}\nprotocol static {";
	a.name = NULL;
	assert_int_equal(bird_conf_render(&in, &t, err, sizeof(err)), 0);
	assert_non_null(strstr(t, "on node evilrouterid1.1.1.1.\n"));
	assert_non_null(strstr(t, "# peer 0: BGPPeer xprotocolstatic, BFDProfile fast\n"));
	assert_non_null(strstr(t, "# policy 0: BGPAdvertisement -, kernel table 1000\n"));
	assert_null(strstr(t, "protocol static"));
	free(t);
}

/* ---- write ---- */

static char *tmpdir(void)
{
	char *d = strdup("/tmp/test_bird_conf.XXXXXX");

	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	return d;
}

static void rm_rf(const char *path)
{
	char *cmd;

	assert_true(asprintf(&cmd, "rm -rf '%s'", path) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void test_write_replaces_the_file_whole_and_leaves_no_temporary(void **state)
{
	char *d = tmpdir(), *path, *got, buf[64];
	struct stat st;
	int oldfd;
	ssize_t n;

	(void)state;
	assert_true(asprintf(&path, "%s/bird.conf", d) > 0);
	assert_int_equal(bird_conf_write(path, "first version\n"), 0);
	got = read_file(path);
	assert_string_equal(got, "first version\n");
	free(got);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);

	/* A reader that opened the old file keeps reading the old text whole:
	 * the new one replaces it by rename, never by rewriting in place. */
	oldfd = open(path, O_RDONLY);
	assert_true(oldfd >= 0);
	assert_int_equal(bird_conf_write(path, "second, longer version\n"), 0);
	n = pread(oldfd, buf, sizeof(buf) - 1, 0);
	assert_int_equal(n, (ssize_t)strlen("first version\n"));
	buf[n] = '\0';
	assert_string_equal(buf, "first version\n");
	close(oldfd);
	got = read_file(path);
	assert_string_equal(got, "second, longer version\n");
	free(got);
	assert_int_equal(count_entries(d), 1);

	/* Empty text is a valid (empty) file. */
	assert_int_equal(bird_conf_write(path, ""), 0);
	got = read_file(path);
	assert_non_null(got);
	assert_string_equal(got, "");
	free(got);
	free(path);
	rm_rf(d);
	free(d);
}

static void test_write_creates_missing_parent_directories(void **state)
{
	char *d = tmpdir(), *path, *sub, *got;
	struct stat st;
	mode_t um;

	(void)state;
	assert_true(asprintf(&sub, "%s/run/ironlb/bird", d) > 0);
	assert_true(asprintf(&path, "%s/bird.conf", sub) > 0);
	assert_int_equal(bird_conf_write(path, "x\n"), 0);
	got = read_file(path);
	assert_string_equal(got, "x\n");
	assert_int_equal(stat(sub, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	um = umask(0);
	umask(um);
	assert_int_equal(st.st_mode & 0777, 0750 & ~um);
	free(got);
	free(sub);
	free(path);
	rm_rf(d);
	free(d);
}

static void test_write_errors_leave_nothing_behind(void **state)
{
	char *d = tmpdir(), *file, *path;
	int fd;

	(void)state;
	/* A regular file where a directory should be. */
	assert_true(asprintf(&file, "%s/plain", d) > 0);
	fd = open(file, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_true(asprintf(&path, "%s/sub/bird.conf", file) > 0);
	assert_int_equal(bird_conf_write(path, "x\n"), -ENOTDIR);
	free(path);

	/* The target is a directory: rename fails, the temporary goes away. */
	assert_true(asprintf(&path, "%s/isdir", d) > 0);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(bird_conf_write(path, "x\n"), -EISDIR);
	assert_int_equal(count_entries(d), 2);
	free(path);

	assert_int_equal(bird_conf_write(NULL, "x"), -EINVAL);
	assert_int_equal(bird_conf_write("", "x"), -EINVAL);
	assert_int_equal(bird_conf_write(file, NULL), -EINVAL);
	assert_true(asprintf(&path, "%s/", d) > 0);
	assert_int_equal(bird_conf_write(path, "x"), -EINVAL);
	free(path);
	free(file);
	rm_rf(d);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_peers_no_policies_is_a_valid_minimal_config),
		cmocka_unit_test(test_ebgp_ipv4_peer_with_password_and_bfd),
		cmocka_unit_test(test_ibgp_two_policies_with_different_peer_lists),
		cmocka_unit_test(test_aggregation_length_does_not_change_the_text),
		cmocka_unit_test(test_ipv6_multihop_peer_carries_only_ipv6),
		cmocka_unit_test(test_direct_ipv6_ebgp_peer_carries_both_families),
		cmocka_unit_test(test_password_backslash_is_written_as_itself),
		cmocka_unit_test(test_password_with_newline_or_control_or_quote_is_rejected),
		cmocka_unit_test(test_password_bytes_accepted_exactly_when_bird_reads_them_back),
		cmocka_unit_test(test_missing_or_ipv6_router_id_is_rejected),
		cmocka_unit_test(test_invalid_peer_and_policy_fields_name_the_object),
		cmocka_unit_test(test_object_names_in_comments_are_sanitized),
		cmocka_unit_test(test_write_replaces_the_file_whole_and_leaves_no_temporary),
		cmocka_unit_test(test_write_creates_missing_parent_directories),
		cmocka_unit_test(test_write_errors_leave_nothing_behind),
	};

	return cmocka_run_group_tests_name("bird_conf", tests, NULL, NULL);
}
