/* Unit tests for speaker/iface.c (which interface announces an address) and
 * speaker/iface_monitor.c (the rtnetlink view), the latter in a private
 * network namespace of the test's own. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <net/if_arp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../speaker/iface.h"
#include "ironlb/loop.h"

#define UP_FLAGS (IFF_UP | IFF_BROADCAST | IFF_MULTICAST)

static struct iface_link link_(int ifindex, const char *name, unsigned flags, int master)
{
	struct iface_link l = { .ifindex = ifindex,
				.flags = flags,
				.arptype = ARPHRD_ETHER,
				.master = master,
				.oper_up = true };

	snprintf(l.name, sizeof(l.name), "%s", name);
	return l;
}

static struct iface_prefix pfx(int ifindex, const char *s)
{
	struct iface_prefix p = { .ifindex = ifindex };

	assert_int_equal(prefix_parse(s, &p.prefix, NULL), 0);
	return p;
}

static struct ip_addr ip(const char *s)
{
	struct ip_addr a;

	assert_int_equal(ip_parse(s, &a, NULL), 0);
	return a;
}

static void test_choose_picks_interface_whose_subnet_holds_address(void **state)
{
	struct iface_link links[] = { link_(2, "eth0", UP_FLAGS, 0),
				      link_(3, "eth1", UP_FLAGS, 0) };
	struct iface_prefix p[] = { pfx(2, "192.0.2.0/24"), pfx(3, "198.51.100.0/24"),
				    pfx(3, "2001:db8:1::/64") };
	int out[IFACE_MAX_CHOSEN];
	struct ip_addr a = ip("198.51.100.20"), b = ip("2001:db8:1::20");

	(void)state;
	assert_int_equal(iface_choose(links, 2, p, 3, &a, NULL, 0, out, NULL), 1);
	assert_int_equal(out[0], 3);
	assert_int_equal(iface_choose(links, 2, p, 3, &b, NULL, 0, out, NULL), 1);
	assert_int_equal(out[0], 3);
}

static void test_choose_prefers_longest_prefix(void **state)
{
	struct iface_link links[] = { link_(2, "eth0", UP_FLAGS, 0),
				      link_(3, "eth1", UP_FLAGS, 0) };
	struct iface_prefix p[] = { pfx(2, "198.51.100.0/24"), pfx(3, "198.51.100.0/26") };
	int out[IFACE_MAX_CHOSEN];
	struct ip_addr a = ip("198.51.100.20"), b = ip("198.51.100.200");

	(void)state;
	assert_int_equal(iface_choose(links, 2, p, 2, &a, NULL, 0, out, NULL), 1);
	assert_int_equal(out[0], 3);
	assert_int_equal(iface_choose(links, 2, p, 2, &b, NULL, 0, out, NULL), 1);
	assert_int_equal(out[0], 2);
}

static void test_choose_never_uses_down_noarp_or_enslaved_links(void **state)
{
	struct iface_link links[] = {
		link_(2, "down0", IFF_BROADCAST, 0),
		link_(3, "noarp0", UP_FLAGS | IFF_NOARP, 0),
		link_(4, "slave0", UP_FLAGS, 9),
	};
	struct iface_prefix p[] = { pfx(2, "192.0.2.0/24"), pfx(3, "192.0.2.0/24"),
				    pfx(4, "192.0.2.0/24") };
	int out[IFACE_MAX_CHOSEN];
	const char *why = NULL;
	struct ip_addr a = ip("192.0.2.9");

	(void)state;
	assert_int_equal(iface_choose(links, 3, p, 3, &a, NULL, 0, out, &why), 0);
	assert_non_null(why);
	links[0].flags |= IFF_UP;
	links[0].oper_up = false; /* admin up, no carrier */
	assert_int_equal(iface_choose(links, 3, p, 3, &a, NULL, 0, out, &why), 0);
	assert_int_equal(iface_usable(&links[0]), IFACE_NO_CARRIER);
	assert_string_equal(iface_unusable_str(IFACE_NO_CARRIER), "link has no carrier");
	assert_int_equal(iface_usable(&links[1]), IFACE_NOARP);
	assert_int_equal(iface_usable(&links[2]), IFACE_ENSLAVED);
}

static void test_choose_uses_the_bridge_not_its_ports(void **state)
{
	struct iface_link links[] = { link_(2, "eth0", UP_FLAGS, 5), link_(5, "br0", UP_FLAGS, 0) };
	struct iface_prefix p[] = { pfx(5, "192.0.2.0/24") };
	int out[IFACE_MAX_CHOSEN];
	struct ip_addr a = ip("192.0.2.77");

	(void)state;
	assert_int_equal(iface_choose(links, 2, p, 1, &a, NULL, 0, out, NULL), 1);
	assert_int_equal(out[0], 5);
}

static void test_choose_rejects_loopback_and_non_ethernet(void **state)
{
	struct iface_link links[] = { link_(1, "lo", UP_FLAGS | IFF_LOOPBACK, 0),
				      link_(7, "wg0", UP_FLAGS, 0) };
	struct iface_prefix p[] = { pfx(1, "192.0.2.0/24"), pfx(7, "192.0.2.0/25") };
	int out[IFACE_MAX_CHOSEN];
	struct ip_addr a = ip("192.0.2.1");

	(void)state;
	links[1].arptype = ARPHRD_NONE;
	assert_int_equal(iface_choose(links, 2, p, 2, &a, NULL, 0, out, NULL), 0);
	assert_int_equal(iface_usable(&links[0]), IFACE_LOOPBACK);
	assert_int_equal(iface_usable(&links[1]), IFACE_NOT_ETHERNET);
}

static void test_choose_without_subnet_says_why(void **state)
{
	struct iface_link links[] = { link_(2, "eth0", UP_FLAGS, 0) };
	struct iface_prefix p[] = { pfx(2, "192.0.2.0/24") };
	int out[IFACE_MAX_CHOSEN];
	const char *why = NULL;
	struct ip_addr a = ip("203.0.113.5");

	(void)state;
	assert_int_equal(iface_choose(links, 1, p, 1, &a, NULL, 0, out, &why), 0);
	assert_string_equal(why, "no interface has a connected subnet holding the address");
}

/* The address bound /32 on lo (as for a local listener) and the data link
 * down: the reason names the data link, not lo, in whichever order the
 * kernel lists them; lo alone still says loopback. */
static void test_choose_reason_prefers_down_link_over_loopback(void **state)
{
	struct iface_link links[] = { link_(1, "lo", UP_FLAGS | IFF_LOOPBACK, 0),
				      link_(2, "eth0", IFF_BROADCAST, 0) };
	struct iface_prefix p[] = { pfx(1, "192.0.2.200/32"), pfx(2, "192.0.2.0/24") };
	struct iface_prefix rev[] = { pfx(2, "192.0.2.0/24"), pfx(1, "192.0.2.200/32") };
	int out[IFACE_MAX_CHOSEN];
	const char *why = NULL;
	struct ip_addr a = ip("192.0.2.200");

	(void)state;
	links[1].oper_up = false;
	assert_int_equal(iface_choose(links, 2, p, 2, &a, NULL, 0, out, &why), 0);
	assert_string_equal(why, "link is down");
	why = NULL;
	assert_int_equal(iface_choose(links, 2, rev, 2, &a, NULL, 0, out, &why), 0);
	assert_string_equal(why, "link is down");
	why = NULL;
	assert_int_equal(iface_choose(links, 2, p, 1, &a, NULL, 0, out, &why), 0);
	assert_string_equal(why, "link is loopback");
}

static void test_choose_with_named_interfaces_returns_every_usable_one(void **state)
{
	struct iface_link links[] = { link_(4, "eth2", UP_FLAGS, 0), link_(2, "eth0", UP_FLAGS, 0),
				      link_(3, "eth1", IFF_BROADCAST, 0) };
	const char *allowed[] = { "eth0", "eth1", "eth2", "missing" };
	int out[IFACE_MAX_CHOSEN];
	const char *why = NULL;
	struct ip_addr a = ip("203.0.113.5");

	(void)state;
	/* The address need not be inside a connected subnet then. */
	assert_int_equal(iface_choose(links, 3, NULL, 0, &a, allowed, 4, out, NULL), 2);
	assert_int_equal(out[0], 2);
	assert_int_equal(out[1], 4);
	assert_int_equal(iface_choose(links, 3, NULL, 0, &a, allowed + 3, 1, out, &why), 0);
	assert_string_equal(why, "none of the L2Advertisement's interfaces exists");
	assert_int_equal(iface_choose(links, 3, NULL, 0, &a, allowed + 1, 1, out, &why), 0);
	assert_string_equal(why, "none of the L2Advertisement's interfaces is usable");
}

/* ---- the monitor, in a private network namespace ---- */

static int calls;
static int last_up[8];
static size_t n_last_up;

static void on_change(void *userdata, const int *came_up, size_t n)
{
	(void)userdata;
	calls++;
	n_last_up = n < 8 ? n : 8;
	memcpy(last_up, came_up, n_last_up * sizeof(int));
}

static int run(const char *cmd)
{
	return system(cmd);
}

static const struct iface_link *find(struct iface_monitor *m, const char *name)
{
	const struct iface_link *links;
	size_t n = iface_monitor_links(m, &links);

	for (size_t i = 0; i < n; i++)
		if (strcmp(links[i].name, name) == 0)
			return &links[i];
	return NULL;
}

/* Runs the loop until the change callback has been called `want` times in
 * total, at most ~2 s. */
static void wait_calls(struct loop *l, int want)
{
	for (int i = 0; i < 200 && calls < want; i++)
		loop_run_once(l, 10);
}

static void test_monitor_follows_links_addresses_and_link_up(void **state)
{
	struct loop *l = loop_new();
	struct iface_monitor *m;
	const struct iface_link *d;
	const struct iface_prefix *p;
	int out[IFACE_MAX_CHOSEN], err = 0;
	struct ip_addr a = ip("192.0.2.44");
	size_t n;

	(void)state;
	assert_int_equal(unshare(CLONE_NEWNET), 0);
	assert_non_null(l);
	calls = 0;
	m = iface_monitor_new(l, on_change, NULL, &err);
	assert_non_null(m);
	assert_int_equal(calls, 1); /* the first dump */
	assert_null(find(m, "ilbt0"));

	assert_int_equal(run("ip link add ilbt0 type veth peer name ilbt1"), 0);
	wait_calls(l, 2);
	d = find(m, "ilbt0");
	assert_non_null(d);
	assert_int_equal(iface_usable(d), IFACE_DOWN);

	assert_int_equal(run("ip addr add 192.0.2.1/24 dev ilbt0 && ip link set ilbt1 up && ip "
			     "link set ilbt0 up"),
			 0);
	for (int i = 0; i < 200; i++) {
		loop_run_once(l, 10);
		d = find(m, "ilbt0");
		if (d && iface_usable(d) == IFACE_USABLE)
			break;
	}
	assert_non_null(d);
	assert_int_equal(iface_usable(d), IFACE_USABLE);
	assert_true(n_last_up >= 1 || calls >= 3);
	n = iface_monitor_prefixes(m, &p);
	{
		const struct iface_link *links;
		size_t nl = iface_monitor_links(m, &links);

		assert_int_equal(iface_choose(links, nl, p, n, &a, NULL, 0, out, NULL), 1);
		assert_int_equal(out[0], d->ifindex);
	}
	assert_ptr_equal(iface_monitor_link(m, d->ifindex), d);

	assert_int_equal(run("ip link set ilbt0 down"), 0);
	for (int i = 0; i < 200; i++) {
		loop_run_once(l, 10);
		d = find(m, "ilbt0");
		if (d && iface_usable(d) == IFACE_DOWN)
			break;
	}
	assert_int_equal(iface_usable(d), IFACE_DOWN);

	/* Up again: the callback names the link as having come up (and its
	 * veth peer, which lost carrier meanwhile). */
	n_last_up = 0;
	assert_int_equal(run("ip link set ilbt0 up"), 0);
	for (int i = 0; i < 200 && n_last_up == 0; i++)
		loop_run_once(l, 10);
	{
		bool named = false;

		for (size_t i = 0; i < n_last_up; i++)
			named |= last_up[i] == find(m, "ilbt0")->ifindex;
		assert_true(named);
	}

	iface_monitor_free(m);
	loop_free(l);
	run("ip link del ilbt0 2>/dev/null");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_choose_picks_interface_whose_subnet_holds_address),
		cmocka_unit_test(test_choose_prefers_longest_prefix),
		cmocka_unit_test(test_choose_never_uses_down_noarp_or_enslaved_links),
		cmocka_unit_test(test_choose_uses_the_bridge_not_its_ports),
		cmocka_unit_test(test_choose_rejects_loopback_and_non_ethernet),
		cmocka_unit_test(test_choose_reason_prefers_down_link_over_loopback),
		cmocka_unit_test(test_choose_without_subnet_says_why),
		cmocka_unit_test(test_choose_with_named_interfaces_returns_every_usable_one),
		cmocka_unit_test(test_monitor_follows_links_addresses_and_link_up),
	};

	return cmocka_run_group_tests_name("iface", tests, NULL, NULL);
}
