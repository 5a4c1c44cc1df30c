/* Unit tests for speaker/krt.c against the real kernel, in a private network
 * namespace of the test's own (CLONE_NEWNET), so nothing here touches the
 * machine's tables. Routes of another protocol are made with ip(8). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../speaker/krt.h"

static bool in_netns;

static struct krt_route rt(const char *prefix, uint32_t table, uint8_t type)
{
	struct krt_route r;

	memset(&r, 0, sizeof(r));
	assert_int_equal(prefix_parse(prefix, &r.dst, NULL), 0);
	r.table = table;
	r.type = type;
	return r;
}

static int run(const char *cmd)
{
	return system(cmd);
}

/* Exit status 0 of a shell command with its output discarded. */
static bool sh_ok(const char *cmd)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s >/dev/null 2>&1", cmd);
	return run(buf) == 0;
}

static int group_setup(void **state)
{
	struct ifreq ifr;
	int fd;

	(void)state;
	if (unshare(CLONE_NEWNET) == -1) {
		printf("# SKIP krt tests: unshare(CLONE_NEWNET): %s (needs root)\n",
		       strerror(errno));
		return 0;
	}
	in_netns = true;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == -1)
		goto fail;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) == -1)
		goto fail;
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

struct fixture {
	struct krt *k;
};

static int setup(void **state)
{
	struct fixture *f;

	if (!in_netns) {
		*state = NULL;
		return 0;
	}
	f = calloc(1, sizeof(*f));
	if (!f || krt_open(&f->k) != 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

/* Every test leaves the namespace without routes of ours, and without the
 * other protocols' routes it made. */
static int teardown(void **state)
{
	struct fixture *f = *state;
	struct krt_sync_stats st;
	int err;

	if (!f)
		return 0;
	err = krt_sync(f->k, 1, UINT32_MAX, NULL, 0, &st);
	krt_close(f->k);
	free(f);
	(void)sh_ok("ip route flush proto static table all");
	(void)sh_ok("ip -6 route flush proto static table all");
	return err;
}

#define NEED_NETNS()                                                                               \
	do {                                                                                       \
		if (!in_netns)                                                                     \
			skip();                                                                    \
	} while (0)

static void dump(struct krt *k, uint32_t lo, uint32_t hi, struct krt_route **ret, size_t *n)
{
	assert_int_equal(krt_dump(k, lo, hi, ret, n), 0);
}

static void assert_route(const struct krt_route *got, const struct krt_route *want)
{
	char a[IP_RANGE_STRLEN], b[IP_RANGE_STRLEN];

	prefix_format(&got->dst, a, sizeof(a));
	prefix_format(&want->dst, b, sizeof(b));
	assert_string_equal(a, b);
	assert_int_equal(got->table, want->table);
	assert_int_equal(got->type, want->type);
}

static void assert_dump(struct krt *k, uint32_t lo, uint32_t hi, const struct krt_route *want,
			size_t n)
{
	struct krt_route *got;
	size_t m;

	dump(k, lo, hi, &got, &m);
	assert_int_equal(m, n);
	for (size_t i = 0; i < n; i++)
		assert_route(&got[i], &want[i]);
	free(got);
}

static void test_route_cmp_orders_by_table_family_address_length(void **state)
{
	struct krt_route v[] = {
		rt("198.51.100.0/24", 1, RTN_BLACKHOLE), rt("198.51.100.0/25", 1, RTN_BLACKHOLE),
		rt("198.51.100.7/32", 1, RTN_BLACKHOLE), rt("2001:db8::/64", 1, RTN_BLACKHOLE),
		rt("192.0.2.0/24", 2, RTN_BLACKHOLE),	 rt("192.0.2.0/24", 70000, RTN_LOCAL),
	};
	size_t n = sizeof(v) / sizeof(v[0]);

	(void)state;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			int c = krt_route_cmp(&v[i], &v[j]);

			assert_int_equal(c < 0, i < j);
			assert_int_equal(c == 0, i == j);
		}
	/* The type is not part of a route's identity. */
	v[0].type = RTN_LOCAL;
	assert_int_equal(krt_route_cmp(&v[0], &v[0]), 0);
}

static void test_add_and_dump_both_families_several_tables_sorted(void **state)
{
	struct fixture *f = *state;
	struct krt_route add[] = {
		rt("2001:db8:5::10/128", 1000, RTN_BLACKHOLE),
		rt("198.51.100.10/32", 70000, RTN_BLACKHOLE),
		rt("198.51.100.0/24", 1000, RTN_BLACKHOLE),
		rt("198.51.100.10/32", 1000, RTN_BLACKHOLE),
		rt("198.51.100.20/32", KRT_TABLE_LOCAL, RTN_LOCAL),
		rt("2001:db8:5::20/128", KRT_TABLE_LOCAL, RTN_LOCAL),
		rt("0.0.0.0/0", 4000000000u, RTN_BLACKHOLE),
		rt("::/0", 4000000000u, RTN_BLACKHOLE),
	};
	struct krt_route want[] = {
		add[4], add[5], add[2], add[3], add[0], add[1], add[6], add[7]
	};

	NEED_NETNS();
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(krt_add(f->k, &add[i]), 0);
	assert_dump(f->k, 1, UINT32_MAX, want, 8);
	/* What ip(8) sees: protocol 74, blackhole, in a table above 255. */
	assert_true(
		sh_ok("ip route show table 70000 proto 74 | grep -q '^blackhole 198.51.100.10 '"));
	assert_true(sh_ok("ip -6 route show table 1000 proto 74 | grep -q "
			  "'^blackhole 2001:db8:5::10 '"));
	assert_true(sh_ok("ip route show table local proto 74 | grep -q "
			  "'^local 198.51.100.20 dev lo .*scope host'"));
}

static void test_add_twice_is_idempotent_and_replaces_type(void **state)
{
	struct fixture *f = *state;
	struct krt_route b = rt("198.51.100.30/32", 1000, RTN_BLACKHOLE);
	struct krt_route l = rt("198.51.100.30/32", 1000, RTN_LOCAL);
	struct krt_route b6 = rt("2001:db8:5::30/128", 1000, RTN_BLACKHOLE);
	struct krt_route l6 = rt("2001:db8:5::30/128", 1000, RTN_LOCAL);
	struct krt_route want[] = { l, l6 };

	NEED_NETNS();
	assert_int_equal(krt_add(f->k, &b), 0);
	assert_int_equal(krt_add(f->k, &b), 0);
	assert_int_equal(krt_add(f->k, &b6), 0);
	assert_int_equal(krt_add(f->k, &b6), 0);
	assert_dump(f->k, 1000, 1000, (struct krt_route[]){ b, b6 }, 2);
	assert_int_equal(krt_add(f->k, &l), 0);
	assert_int_equal(krt_add(f->k, &l6), 0);
	assert_dump(f->k, 1000, 1000, want, 2);
}

static void test_del_removes_and_absent_is_success(void **state)
{
	struct fixture *f = *state;
	struct krt_route a = rt("198.51.100.40/32", 1000, RTN_BLACKHOLE);
	struct krt_route a6 = rt("2001:db8:5::40/128", 1000, RTN_BLACKHOLE);
	struct krt_route nowhere = rt("198.51.100.40/32", 123456, RTN_BLACKHOLE);
	struct krt_route nowhere6 = rt("2001:db8:5::40/128", 123456, RTN_BLACKHOLE);

	NEED_NETNS();
	assert_int_equal(krt_add(f->k, &a), 0);
	assert_int_equal(krt_add(f->k, &a6), 0);
	assert_int_equal(krt_del(f->k, &a), 0);
	assert_dump(f->k, 1, UINT32_MAX, &a6, 1);
	assert_int_equal(krt_del(f->k, &a6), 0);
	assert_dump(f->k, 1, UINT32_MAX, NULL, 0);
	/* Already gone, and a table that never existed. */
	assert_int_equal(krt_del(f->k, &a), 0);
	assert_int_equal(krt_del(f->k, &a6), 0);
	assert_int_equal(krt_del(f->k, &nowhere), 0);
	assert_int_equal(krt_del(f->k, &nowhere6), 0);
}

static void test_other_protocols_routes_are_never_dumped_replaced_or_removed(void **state)
{
	struct fixture *f = *state;
	struct krt_route ours = rt("198.51.100.60/32", 1000, RTN_BLACKHOLE);
	struct krt_route ours6 = rt("2001:db8:5::60/128", 1000, RTN_BLACKHOLE);
	struct krt_route same = rt("198.51.100.50/32", 1000, RTN_BLACKHOLE);
	struct krt_route same6 = rt("2001:db8:5::50/128", 1000, RTN_BLACKHOLE);
	struct krt_sync_stats st;

	NEED_NETNS();
	assert_true(sh_ok("ip route add blackhole 198.51.100.50/32 table 1000 proto static"));
	assert_true(sh_ok("ip -6 route add blackhole 2001:db8:5::50/128 table 1000 proto static"));
	assert_true(sh_ok("ip route add blackhole 198.51.100.51/32 table 1000 proto static"));
	assert_int_equal(krt_add(f->k, &ours), 0);
	assert_int_equal(krt_add(f->k, &ours6), 0);
	assert_dump(f->k, 1, UINT32_MAX, (struct krt_route[]){ ours, ours6 }, 2);

	/* The same prefix as a static route: ours sits beside it... */
	assert_int_equal(krt_add(f->k, &same), 0);
	assert_int_equal(krt_add(f->k, &same6), 0);
	assert_dump(f->k, 1000, 1000, (struct krt_route[]){ same, ours, same6, ours6 }, 4);
	/* ...and leaves it in place when removed. */
	assert_int_equal(krt_del(f->k, &same), 0);
	assert_int_equal(krt_del(f->k, &same6), 0);
	assert_true(sh_ok("ip route show table 1000 proto static | grep -q '^blackhole "
			  "198.51.100.50 '"));
	assert_true(sh_ok("ip -6 route show table 1000 proto static | grep -q '^blackhole "
			  "2001:db8:5::50 '"));

	/* A sync to nothing over every table, the local one included. */
	assert_int_equal(krt_sync(f->k, 1, UINT32_MAX, NULL, 0, &st), 0);
	assert_int_equal(st.removed, 2);
	assert_int_equal(st.failed, 0);
	assert_dump(f->k, 1, UINT32_MAX, NULL, 0);
	assert_true(sh_ok("ip route show table 1000 proto static | grep -q '^blackhole "
			  "198.51.100.50 '"));
	assert_true(sh_ok("ip route show table 1000 proto static | grep -q '^blackhole "
			  "198.51.100.51 '"));
	assert_true(sh_ok("ip -6 route show table 1000 proto static | grep -q '^blackhole "
			  "2001:db8:5::50 '"));
	assert_true(sh_ok("ip route show table local | grep -q '^local 127.0.0.1 '"));
}

/* True if a UDP datagram sent to addr reaches a socket bound to the
 * wildcard address: the kernel delivers it locally. */
static bool delivered_locally(int family, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int rx, tx;
	bool ok = false;
	char c = 'x';
	struct pollfd p;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		s->sin_family = AF_INET;
		len = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		s->sin6_family = AF_INET6;
		len = sizeof(*s);
	}
	rx = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	tx = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(rx >= 0 && tx >= 0);
	assert_int_equal(bind(rx, (struct sockaddr *)&ss, len), 0);
	assert_int_equal(getsockname(rx, (struct sockaddr *)&ss, &len), 0);
	if (family == AF_INET)
		assert_int_equal(inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr),
				 1);
	else
		assert_int_equal(
			inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr), 1);
	if (sendto(tx, &c, 1, 0, (struct sockaddr *)&ss, len) == 1) {
		p = (struct pollfd){ .fd = rx, .events = POLLIN };
		ok = poll(&p, 1, 200) == 1 && recv(rx, &c, 1, MSG_DONTWAIT) == 1;
	}
	close(rx);
	close(tx);
	return ok;
}

static int bind_v4(const char *addr)
{
	struct sockaddr_in s = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

	assert_true(fd >= 0);
	assert_int_equal(inet_pton(AF_INET, addr, &s.sin_addr), 1);
	r = bind(fd, (struct sockaddr *)&s, sizeof(s)) == -1 ? -errno : 0;
	close(fd);
	return r;
}

static void test_local_route_makes_address_local(void **state)
{
	struct fixture *f = *state;
	struct krt_route l = rt("198.51.100.20/32", KRT_TABLE_LOCAL, RTN_LOCAL);
	struct krt_route l6 = rt("2001:db8:5::20/128", KRT_TABLE_LOCAL, RTN_LOCAL);

	NEED_NETNS();
	assert_int_equal(bind_v4("198.51.100.20"), -EADDRNOTAVAIL);
	assert_false(delivered_locally(AF_INET6, "2001:db8:5::20"));
	assert_int_equal(krt_add(f->k, &l), 0);
	assert_int_equal(krt_add(f->k, &l6), 0);
	assert_int_equal(bind_v4("198.51.100.20"), 0);
	assert_true(delivered_locally(AF_INET, "198.51.100.20"));
	assert_true(delivered_locally(AF_INET6, "2001:db8:5::20"));
	assert_int_equal(krt_del(f->k, &l), 0);
	assert_int_equal(krt_del(f->k, &l6), 0);
	assert_int_equal(bind_v4("198.51.100.20"), -EADDRNOTAVAIL);
	assert_false(delivered_locally(AF_INET6, "2001:db8:5::20"));
}

static void test_local_route_beside_an_interface_address_keeps_it_local(void **state)
{
	struct fixture *f = *state;
	struct krt_route l = rt("198.51.100.21/32", KRT_TABLE_LOCAL, RTN_LOCAL);

	NEED_NETNS();
	assert_true(sh_ok("ip addr add 198.51.100.21/32 dev lo"));
	assert_int_equal(krt_add(f->k, &l), 0);
	assert_int_equal(krt_del(f->k, &l), 0);
	/* The kernel's own local route for the address survived. */
	assert_int_equal(bind_v4("198.51.100.21"), 0);
	assert_true(
		sh_ok("ip route show table local proto kernel | grep -q '^local 198.51.100.21 '"));
	assert_true(sh_ok("ip addr del 198.51.100.21/32 dev lo"));
}

static void test_dump_and_sync_keep_to_the_table_range(void **state)
{
	struct fixture *f = *state;
	struct krt_route a = rt("198.51.100.1/32", 100, RTN_BLACKHOLE);
	struct krt_route b = rt("198.51.100.1/32", 200, RTN_BLACKHOLE);
	struct krt_route b6 = rt("2001:db8:5::1/128", 200, RTN_BLACKHOLE);
	struct krt_route c = rt("198.51.100.1/32", 300, RTN_BLACKHOLE);
	struct krt_route n = rt("198.51.100.2/32", 250, RTN_BLACKHOLE);
	struct krt_sync_stats st;

	NEED_NETNS();
	assert_int_equal(krt_add(f->k, &a), 0);
	assert_int_equal(krt_add(f->k, &b), 0);
	assert_int_equal(krt_add(f->k, &b6), 0);
	assert_int_equal(krt_add(f->k, &c), 0);
	assert_dump(f->k, 150, 250, (struct krt_route[]){ b, b6 }, 2);
	assert_dump(f->k, 200, 200, (struct krt_route[]){ b, b6 }, 2);
	assert_dump(f->k, 100, 100, &a, 1);
	assert_dump(f->k, 201, 299, NULL, 0);
	assert_dump(f->k, 777, 777, NULL, 0); /* a table that does not exist */
	assert_int_equal(krt_dump(f->k, 300, 100, &(struct krt_route *){ NULL }, &(size_t){ 0 }),
			 -EINVAL);

	/* Wanted routes outside the range: refused, nothing touched. */
	assert_int_equal(krt_sync(f->k, 150, 250, &c, 1, &st), -EINVAL);
	assert_dump(f->k, 1, UINT32_MAX, (struct krt_route[]){ a, b, b6, c }, 4);

	assert_int_equal(krt_sync(f->k, 150, 250, &n, 1, &st), 0);
	assert_int_equal(st.added, 1);
	assert_int_equal(st.removed, 2);
	assert_dump(f->k, 1, UINT32_MAX, (struct krt_route[]){ a, n, c }, 3);
}

static void test_sync_converges_and_is_idempotent(void **state)
{
	struct fixture *f = *state;
	struct krt_route first[] = {
		rt("198.51.100.1/32", 1000, RTN_BLACKHOLE),
		rt("198.51.100.2/32", 1000, RTN_BLACKHOLE),
		rt("2001:db8:5::1/128", 1001, RTN_BLACKHOLE),
		rt("198.51.100.3/32", KRT_TABLE_LOCAL, RTN_LOCAL),
	};
	/* Unsorted, one duplicate, one route changing type. */
	struct krt_route second[] = {
		rt("2001:db8:5::2/128", 1001, RTN_BLACKHOLE),
		rt("198.51.100.2/32", 1000, RTN_BLACKHOLE),
		rt("198.51.100.1/32", 1000, RTN_LOCAL),
		rt("198.51.100.2/32", 1000, RTN_BLACKHOLE),
	};
	struct krt_route sorted[] = { second[2], second[1], second[0] };
	struct krt_sync_stats st;

	NEED_NETNS();
	assert_int_equal(krt_sync(f->k, 1, UINT32_MAX, first, 4, &st), 0);
	assert_int_equal(st.added, 4);
	assert_int_equal(st.removed, 0);
	assert_int_equal(st.failed, 0);
	assert_int_equal(krt_sync(f->k, 1, UINT32_MAX, first, 4, &st), 0);
	assert_int_equal(st.added + st.removed + st.failed, 0);

	assert_int_equal(krt_sync(f->k, 1, UINT32_MAX, second, 4, &st), 0);
	assert_int_equal(st.added, 2); /* ::2, and .1 replaced as local */
	assert_int_equal(st.removed, 2);
	assert_int_equal(st.failed, 0);
	assert_dump(f->k, 1, UINT32_MAX, sorted, 3);
	assert_int_equal(krt_sync(f->k, 1, UINT32_MAX, second, 4, &st), 0);
	assert_int_equal(st.added + st.removed + st.failed, 0);
}

static void test_sync_adopts_own_routes_with_another_metric(void **state)
{
	struct fixture *f = *state;
	struct krt_route w = rt("198.51.100.70/32", 1000, RTN_BLACKHOLE);
	struct krt_sync_stats st;
	FILE *p;
	int lines = 0;
	char line[256];

	NEED_NETNS();
	/* Written by hand (as an operator or a test would), metric 0. */
	assert_true(sh_ok("ip route add blackhole 198.51.100.70/32 table 1000 proto 74"));
	assert_true(sh_ok("ip route add blackhole 198.51.100.71/32 table 1000 proto 74"));
	assert_int_equal(krt_sync(f->k, 1, UINT32_MAX, &w, 1, &st), 0);
	assert_int_equal(st.failed, 0);
	assert_dump(f->k, 1, UINT32_MAX, &w, 1);
	p = popen("ip route show table 1000", "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		lines++;
	assert_int_equal(pclose(p), 0);
	assert_int_equal(lines, 1);
	assert_int_equal(krt_sync(f->k, 1, UINT32_MAX, &w, 1, &st), 0);
	assert_int_equal(st.added + st.removed + st.failed, 0);
}

static void test_invalid_routes_are_refused(void **state)
{
	struct fixture *f = *state;
	struct krt_route r = rt("198.51.100.0/24", 1000, RTN_BLACKHOLE);
	struct krt_route bad;
	struct krt_sync_stats st;

	NEED_NETNS();
	bad = r;
	bad.table = 0;
	assert_int_equal(krt_add(f->k, &bad), -EINVAL);
	bad = r;
	bad.type = RTN_UNICAST;
	assert_int_equal(krt_add(f->k, &bad), -EINVAL);
	assert_int_equal(krt_del(f->k, &bad), -EINVAL);
	bad = r;
	bad.dst.len = 33;
	assert_int_equal(krt_add(f->k, &bad), -EINVAL);
	bad = r;
	bad.dst.addr.bytes[3] = 1; /* host bits */
	assert_int_equal(krt_add(f->k, &bad), -EINVAL);
	bad = r;
	bad.dst.addr.family = AF_UNIX;
	assert_int_equal(krt_add(f->k, &bad), -EINVAL);
	assert_int_equal(krt_sync(f->k, 1, UINT32_MAX, &bad, 1, &st), -EINVAL);
	assert_dump(f->k, 1, UINT32_MAX, NULL, 0);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_sync_of_10000_routes(void **state)
{
	struct fixture *f = *state;
	enum { N = 10000 };
	static struct krt_route w[N]; /* static: nothing to leak when an assert fails */
	struct krt_route *got;
	struct krt_sync_stats st;
	size_t n;
	double t0, t1, t2;

	NEED_NETNS();
	memset(w, 0, sizeof(w));
	for (unsigned i = 0; i < N; i++) {
		w[i].table = 2000 + i % 2;
		w[i].type = RTN_BLACKHOLE;
		if (i % 2) {
			w[i].dst.addr.family = AF_INET;
			w[i].dst.addr.bytes[0] = 198;
			w[i].dst.addr.bytes[1] = 51;
			w[i].dst.addr.bytes[2] = (uint8_t)(i >> 8);
			w[i].dst.addr.bytes[3] = (uint8_t)i;
			w[i].dst.len = 32;
		} else {
			static const uint8_t base[] = { 0x20, 0x01, 0x0d, 0xb8, 0, 5 };

			w[i].dst.addr.family = AF_INET6;
			memcpy(w[i].dst.addr.bytes, base, sizeof(base));
			w[i].dst.addr.bytes[14] = (uint8_t)(i >> 8);
			w[i].dst.addr.bytes[15] = (uint8_t)i;
			w[i].dst.len = 128;
		}
	}
	t0 = now_s();
	assert_int_equal(krt_sync(f->k, 2000, 2001, w, N, &st), 0);
	t1 = now_s();
	assert_int_equal(st.added, N);
	assert_int_equal(st.failed, 0);
	dump(f->k, 2000, 2001, &got, &n);
	assert_int_equal(n, N);
	for (size_t i = 1; i < n; i++)
		assert_true(krt_route_cmp(&got[i - 1], &got[i]) < 0);
	free(got);
	t2 = now_s();
	assert_int_equal(krt_sync(f->k, 2000, 2001, w, N, &st), 0);
	assert_int_equal(st.added + st.removed + st.failed, 0);
	printf("# note: sync of %d new routes %.1f ms, unchanged re-sync %.1f ms (noisy)\n", N,
	       (t1 - t0) * 1e3, (now_s() - t2) * 1e3);
	assert_int_equal(krt_sync(f->k, 2000, 2001, NULL, 0, &st), 0);
	assert_int_equal(st.removed, N);
	assert_dump(f->k, 1, UINT32_MAX, NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_cmp_orders_by_table_family_address_length),
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_add_and_dump_both_families_several_tables_sorted),
		T(test_add_twice_is_idempotent_and_replaces_type),
		T(test_del_removes_and_absent_is_success),
		T(test_other_protocols_routes_are_never_dumped_replaced_or_removed),
		T(test_local_route_makes_address_local),
		T(test_local_route_beside_an_interface_address_keeps_it_local),
		T(test_dump_and_sync_keep_to_the_table_range),
		T(test_sync_converges_and_is_idempotent),
		T(test_sync_adopts_own_routes_with_another_metric),
		T(test_invalid_routes_are_refused),
		T(test_sync_of_10000_routes),
#undef T
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
