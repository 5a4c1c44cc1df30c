/* Unit tests for speaker/l2.c: claims on a veth pair in a private network
 * namespace; the test plays the rest of the segment through a packet
 * socket on the peer end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../speaker/arp.h"
#include "../../speaker/iface.h"
#include "../../speaker/l2.h"
#include "../../speaker/ndp.h"
#include "../../speaker/packet.h"
#include "ironlb/loop.h"

static const uint8_t PEER_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x99 };

struct seen {
	int garps, probes, arp_replies, nas, dad_ns, other;
	struct arp_packet last_arp;
	struct ndp_packet last_nd;
};

struct cb_log {
	int holders, conflicts, clears;
	uint8_t mac[6];
};

static struct loop *loop;
static struct iface_monitor *mon;
static struct packet_sock *peer_arp, *peer_nd;
static struct seen seen;
static uint8_t speaker_mac[6];

static void on_peer_arp(void *ud, int ifindex, const uint8_t *f, size_t len, bool trunc)
{
	struct arp_packet p;

	(void)ud;
	(void)ifindex;
	(void)trunc;
	if (arp_parse(f, len, &p, NULL) < 0 || memcmp(p.sha, PEER_MAC, 6) == 0)
		return;
	seen.last_arp = p;
	if (p.op == ARP_OP_REPLY)
		seen.arp_replies++;
	else if (p.spa.bytes[0] == 0 && p.spa.bytes[3] == 0)
		seen.probes++;
	else if (ip_equal(&p.spa, &p.tpa))
		seen.garps++;
	else
		seen.other++;
}

static void on_peer_nd(void *ud, int ifindex, const uint8_t *f, size_t len, bool trunc)
{
	struct ndp_packet p;

	(void)ud;
	(void)ifindex;
	(void)trunc;
	if (ndp_parse(f, len, &p, NULL) < 0)
		return;
	/* The kernel's own link-local DAD is none of the speaker's doing. */
	if (memcmp(p.eth_src, PEER_MAC, 6) == 0 || p.target.bytes[0] == 0xfe)
		return;
	seen.last_nd = p;
	if (p.type == NDP_NA)
		seen.nas++;
	else
		seen.dad_ns++;
}

static void on_holder(void *ud, const struct ip_addr *a, const uint8_t mac[6], int ifindex)
{
	struct cb_log *log = ud;

	(void)a;
	(void)ifindex;
	log->holders++;
	memcpy(log->mac, mac, 6);
}

static void on_conflict(void *ud, const struct ip_addr *a, const uint8_t mac[6])
{
	struct cb_log *log = ud;

	(void)a;
	(void)mac;
	log->conflicts++;
}

static void on_ahead_clear(void *ud, const struct ip_addr *a)
{
	struct cb_log *log = ud;

	(void)a;
	log->clears++;
}

static struct ip_addr ip(const char *s)
{
	struct ip_addr a;

	assert_int_equal(ip_parse(s, &a, NULL), 0);
	return a;
}

static void pump_ms(int ms)
{
	uint64_t end = loop_now_us() + (uint64_t)ms * 1000;

	while (loop_now_us() < end)
		loop_run_once(loop, 5);
}

/* Pumps until *counter reaches want (at most 3 s: never a timing
 * assertion, only a bound on a broken run). */
static void wait_for(const int *counter, int want)
{
	uint64_t end = loop_now_us() + 3000000;

	while (*counter < want && loop_now_us() < end)
		loop_run_once(loop, 5);
}

static int setup(void **state)
{
	(void)state;
	if (unshare(CLONE_NEWNET) != 0)
		return -1;
	if (system("ip link set lo up && ip link add l2a type veth peer name l2b && "
		   "ip addr add 192.0.2.1/24 dev l2a && ip addr add 2001:db8:2::1/64 dev l2a nodad "
		   "&& "
		   "ip link set l2b up && ip link set l2a up") != 0)
		return -1;
	/* Frames sent before the kernel's link watcher marks the link up
	 * (and gives it a queueing discipline) are dropped: wait for it. */
	if (system("for i in $(seq 100); do ip link show l2a | grep -q 'state UP' && "
		   "ip link show l2b | grep -q 'state UP' && exit 0; sleep 0.02; done; exit 1") !=
	    0)
		return -1;
	loop = loop_new();
	mon = iface_monitor_new(loop, NULL, NULL, NULL);
	/* sysfs shows the namespace it was mounted in, not ours: ask netlink. */
	if (!mon || !iface_monitor_link(mon, (int)if_nametoindex("l2a")))
		return -1;
	memcpy(speaker_mac, iface_monitor_link(mon, (int)if_nametoindex("l2a"))->mac, 6);
	peer_arp = packet_sock_new(loop, (int)if_nametoindex("l2b"), ARP_ETHERTYPE, NULL, 0,
				   on_peer_arp, NULL, NULL);
	peer_nd = packet_sock_new(loop, (int)if_nametoindex("l2b"), NDP_ETHERTYPE, NULL, 0,
				  on_peer_nd, NULL, NULL);
	return loop && mon && peer_arp && peer_nd ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	packet_sock_free(peer_arp);
	packet_sock_free(peer_nd);
	iface_monitor_free(mon);
	loop_free(loop);
	return 0;
}

static struct l2 *start(const struct announce_cfg *cfg, struct cb_log *log)
{
	struct l2_callbacks cb = { .holder_seen = on_holder,
				   .conflict = on_conflict,
				   .ahead_clear = on_ahead_clear };
	struct l2 *l2 = l2_new(loop, mon, cfg, &cb, log);

	assert_non_null(l2);
	memset(&seen, 0, sizeof(seen));
	return l2;
}

static struct announce_cfg fast_cfg(void)
{
	struct announce_cfg cfg = ANNOUNCE_CFG_DEFAULT;

	cfg.announce_count = 2;
	cfg.announce_interval_us = 20000;
	cfg.probe_count = 2;
	cfg.probe_interval_us = 20000;
	return cfg;
}

static void send_request(const char *target)
{
	struct arp_packet p = { .op = ARP_OP_REQUEST };
	uint8_t f[64];
	int len;

	memset(p.eth_dst, 0xff, 6);
	memcpy(p.eth_src, PEER_MAC, 6);
	memcpy(p.sha, PEER_MAC, 6);
	p.spa = ip("192.0.2.99");
	p.tpa = ip(target);
	len = arp_build(&p, f, sizeof(f));
	assert_true(len > 0);
	assert_int_equal(packet_sock_send(peer_arp, f, (size_t)len), 0);
}

static void test_claim_sends_gratuitous_arp_and_unsolicited_na(void **state)
{
	struct announce_cfg cfg = fast_cfg();
	struct cb_log log = { 0 };
	struct l2 *l2 = start(&cfg, &log);
	struct l2_claim claims[] = { { .addr = ip("192.0.2.50") },
				     { .addr = ip("2001:db8:2::50") } };
	struct l2_status st;

	(void)state;
	assert_int_equal(l2_set_claims(l2, claims, 2), 0);
	wait_for(&seen.garps, 2);
	wait_for(&seen.nas, 2);
	pump_ms(60);
	assert_int_equal(seen.garps, 2);
	assert_memory_equal(seen.last_arp.sha, speaker_mac, 6);
	assert_true(ip_equal(&seen.last_arp.spa, &claims[0].addr));
	assert_int_equal(seen.nas, 2);
	assert_true(seen.last_nd.override);
	assert_false(seen.last_nd.solicited);
	assert_true(ip_equal(&seen.last_nd.target, &claims[1].addr));
	assert_true(l2_status(l2, &claims[0].addr, &st));
	assert_true(st.answering);
	assert_int_equal(st.state, ANNOUNCE_ACTIVE);
	assert_int_equal(st.n_ifindexes, 1);
	assert_int_equal(st.ifindexes[0], (int)if_nametoindex("l2a"));
	assert_int_equal(l2_stats(l2)->announcements_sent, 4);
	l2_free(l2);
}

static void test_requests_are_answered_for_claimed_addresses_only(void **state)
{
	struct announce_cfg cfg = fast_cfg();
	struct cb_log log = { 0 };
	struct l2 *l2 = start(&cfg, &log);
	struct l2_claim claims[] = { { .addr = ip("192.0.2.50") } };

	(void)state;
	assert_int_equal(l2_set_claims(l2, claims, 1), 0);
	pump_ms(60);
	send_request("192.0.2.50");
	wait_for(&seen.arp_replies, 1);
	assert_int_equal(seen.arp_replies, 1);
	assert_memory_equal(seen.last_arp.sha, speaker_mac, 6);
	assert_memory_equal(seen.last_arp.tha, PEER_MAC, 6);
	assert_memory_equal(seen.last_arp.eth_dst, PEER_MAC, 6);
	send_request("192.0.2.51");
	pump_ms(30);
	assert_int_equal(seen.arp_replies, 1);
	/* Released: no answer from then on. */
	assert_int_equal(l2_set_claims(l2, NULL, 0), 0);
	send_request("192.0.2.50");
	pump_ms(30);
	assert_int_equal(seen.arp_replies, 1);
	assert_int_equal(l2_stats(l2)->arp_answered, 1);
	l2_free(l2);
}

static void test_probe_claim_probes_before_announcing(void **state)
{
	struct announce_cfg cfg = fast_cfg();
	struct cb_log log = { 0 };
	struct l2 *l2 = start(&cfg, &log);
	struct l2_claim claims[] = { { .addr = ip("192.0.2.60"), .probe = true },
				     { .addr = ip("2001:db8:2::60"), .probe = true } };

	(void)state;
	/* Long enough that the first look sees exactly one probe each. */
	l2_free(l2);
	cfg.probe_interval_us = 300000;
	l2 = start(&cfg, &log);
	assert_int_equal(l2_set_claims(l2, claims, 2), 0);
	pump_ms(10);
	assert_int_equal(seen.probes, 1);
	assert_int_equal(seen.garps, 0);
	assert_int_equal(seen.dad_ns, 1);
	send_request("192.0.2.60"); /* not answered while probing */
	wait_for(&seen.garps, 2);
	wait_for(&seen.nas, 2);
	assert_int_equal(seen.probes, 2);
	assert_int_equal(seen.garps, 2);
	assert_int_equal(seen.dad_ns, 2);
	assert_int_equal(seen.nas, 2);
	assert_int_equal(seen.arp_replies, 0);
	l2_free(l2);
}

/* Probing ahead: probes, then silence; never an announcement, never an
 * answer; probed again every ahead_interval_us. */
static void test_ahead_claim_probes_only_and_never_answers(void **state)
{
	struct announce_cfg cfg = fast_cfg();
	struct cb_log log = { 0 };
	struct l2 *l2;
	struct l2_claim claims[] = {
		{ .addr = ip("192.0.2.110"), .probe = true, .ahead = true },
		{ .addr = ip("2001:db8:2::110"), .probe = true, .ahead = true }
	};
	struct l2_status st;
	struct ip_addr ans[2];

	(void)state;
	cfg.ahead_interval_us = 10000000;
	l2 = start(&cfg, &log);
	assert_int_equal(l2_set_claims(l2, claims, 2), 0);
	assert_int_equal(l2_claim_count(l2), 0);
	assert_int_equal(l2_ahead_count(l2), 2);
	send_request("192.0.2.110"); /* not answered while probing */
	wait_for(&seen.probes, 2);
	wait_for(&seen.dad_ns, 2);
	pump_ms(100); /* the round is over */
	send_request("192.0.2.110");
	pump_ms(40);
	assert_int_equal(seen.probes, 2);
	assert_int_equal(seen.dad_ns, 2);
	assert_int_equal(seen.garps, 0);
	assert_int_equal(seen.nas, 0);
	assert_int_equal(seen.arp_replies, 0);
	assert_int_equal(l2_stats(l2)->announcements_sent, 0);
	assert_int_equal(l2_stats(l2)->arp_answered, 0);
	assert_int_equal(l2_answering(l2, ans, 2), 0);
	for (int i = 0; i < 2; i++) {
		assert_true(l2_status(l2, &claims[i].addr, &st));
		assert_true(st.ahead);
		assert_false(st.answering);
		assert_int_equal(st.state, ANNOUNCE_PROBED);
		assert_true(st.clear_us > 0);
	}
	assert_int_equal(l2_claim_count(l2), 0);
	assert_int_equal(l2_ahead_count(l2), 2);
	l2_free(l2);

	/* A short interval: probed again, still never announced. */
	cfg.ahead_interval_us = 100000;
	l2 = start(&cfg, &log);
	assert_int_equal(l2_set_claims(l2, claims, 1), 0);
	wait_for(&seen.probes, 4);
	assert_true(seen.probes >= 4);
	send_request("192.0.2.110");
	pump_ms(40);
	assert_int_equal(seen.garps, 0);
	assert_int_equal(seen.arp_replies, 0);
	assert_int_equal(log.conflicts, 0);
	l2_free(l2);
}

/* The address goes to a Service after a clear round: announced in that
 * very call, without probing again, and answered from then on. */
static void test_ahead_claim_taken_after_clear_round_announces_at_once(void **state)
{
	struct announce_cfg cfg = fast_cfg();
	struct cb_log log = { 0 };
	struct l2 *l2;
	struct l2_claim claims[] = {
		{ .addr = ip("192.0.2.111"), .probe = true, .ahead = true },
		{ .addr = ip("2001:db8:2::111"), .probe = true, .ahead = true }
	};
	struct l2_status st;
	uint64_t probes;

	(void)state;
	cfg.ahead_interval_us = 10000000;
	l2 = start(&cfg, &log);
	assert_int_equal(l2_set_claims(l2, claims, 2), 0);
	wait_for(&seen.probes, 2);
	wait_for(&seen.dad_ns, 2);
	pump_ms(100);
	assert_true(l2_status(l2, &claims[0].addr, &st));
	assert_int_equal(st.state, ANNOUNCE_PROBED);
	probes = l2_stats(l2)->probes_sent;
	assert_int_equal(probes, 4);
	claims[0].ahead = false;
	claims[1].ahead = false;
	assert_int_equal(l2_set_claims(l2, claims, 2), 0);
	/* In the call itself. */
	assert_int_equal(l2_stats(l2)->announcements_sent, 2);
	assert_int_equal(l2_claim_count(l2), 2);
	assert_int_equal(l2_ahead_count(l2), 0);
	assert_true(l2_status(l2, &claims[0].addr, &st));
	assert_false(st.ahead);
	assert_true(st.answering);
	wait_for(&seen.garps, 1);
	wait_for(&seen.nas, 1);
	assert_true(ip_equal(&seen.last_arp.spa, &claims[0].addr));
	assert_memory_equal(seen.last_arp.sha, speaker_mac, 6);
	send_request("192.0.2.111");
	wait_for(&seen.arp_replies, 1);
	pump_ms(60);
	assert_int_equal(seen.arp_replies, 1);
	assert_int_equal(l2_stats(l2)->probes_sent, probes);
	assert_int_equal(seen.probes, 2);
	assert_int_equal(seen.dad_ns, 2);
	assert_int_equal(seen.garps, 2); /* the whole burst */
	assert_int_equal(seen.nas, 2);
	assert_true(l2_status(l2, &claims[1].addr, &st));
	assert_int_equal(st.state, ANNOUNCE_ACTIVE);
	assert_int_equal(log.conflicts, 0);
	l2_free(l2);
}

/* The pool status moving on can arrive before the Service status that
 * names the address: the ahead claim dropped from the set lingers, and
 * the claim that comes back for it still announces at once. A set that
 * drops it for good frees it only after the linger. */
static void test_ahead_claim_dropped_then_taken_still_announces_at_once(void **state)
{
	struct announce_cfg cfg = fast_cfg();
	struct cb_log log = { 0 };
	struct l2 *l2;
	struct l2_claim claim = { .addr = ip("192.0.2.113"), .probe = true, .ahead = true };
	struct l2_status st;
	uint64_t probes;

	(void)state;
	cfg.ahead_interval_us = 10000000;
	l2 = start(&cfg, &log);
	assert_int_equal(l2_set_claims(l2, &claim, 1), 0);
	wait_for(&seen.probes, 2);
	pump_ms(100);
	assert_true(l2_status(l2, &claim.addr, &st));
	assert_int_equal(st.state, ANNOUNCE_PROBED);
	probes = l2_stats(l2)->probes_sent;
	/* Out of the set: still there, silent, over more than one call. */
	assert_int_equal(l2_set_claims(l2, NULL, 0), 0);
	pump_ms(20);
	assert_int_equal(l2_set_claims(l2, NULL, 0), 0);
	assert_true(l2_status(l2, &claim.addr, &st));
	assert_true(st.ahead);
	assert_false(st.answering);
	assert_int_equal(l2_claim_count(l2), 0);
	/* Back as a Service's claim: announced in the call, no new probe. */
	claim.ahead = false;
	assert_int_equal(l2_set_claims(l2, &claim, 1), 0);
	assert_int_equal(l2_stats(l2)->announcements_sent, 1);
	assert_int_equal(l2_stats(l2)->probes_sent, probes);
	assert_true(l2_status(l2, &claim.addr, &st));
	assert_true(st.answering);
	/* A claim that is not ahead does not linger: gone at once. */
	assert_int_equal(l2_set_claims(l2, NULL, 0), 0);
	assert_false(l2_status(l2, &claim.addr, &st));
	/* An ahead claim dropped for good lingers, and no more. */
	claim.ahead = true;
	assert_int_equal(l2_set_claims(l2, &claim, 1), 0);
	assert_int_equal(l2_set_claims(l2, NULL, 0), 0);
	assert_true(l2_status(l2, &claim.addr, &st));
	assert_int_equal(l2_ahead_count(l2), 1);
	wait_for(&seen.probes, 3);
	pump_ms(5100); /* past the linger */
	assert_int_equal(l2_set_claims(l2, NULL, 0), 0);
	assert_false(l2_status(l2, &claim.addr, &st));
	assert_int_equal(l2_ahead_count(l2), 0);
	assert_int_equal(log.conflicts, 0);
	l2_free(l2);
}

/* Taken while its first round still runs: announced when the round ends,
 * not before. */
static void test_ahead_claim_taken_during_first_round_announces_after_it(void **state)
{
	struct announce_cfg cfg = fast_cfg();
	struct cb_log log = { 0 };
	struct l2 *l2;
	struct l2_claim claims[] = { { .addr = ip("192.0.2.112"), .probe = true, .ahead = true } };
	struct l2_status st;

	(void)state;
	cfg.probe_interval_us = 300000;
	cfg.ahead_interval_us = 10000000;
	l2 = start(&cfg, &log);
	assert_int_equal(l2_set_claims(l2, claims, 1), 0);
	pump_ms(10);
	assert_int_equal(seen.probes, 1);
	claims[0].ahead = false;
	assert_int_equal(l2_set_claims(l2, claims, 1), 0);
	assert_int_equal(l2_stats(l2)->announcements_sent, 0);
	assert_true(l2_status(l2, &claims[0].addr, &st));
	assert_false(st.answering);
	assert_false(st.ahead);
	assert_int_equal(l2_claim_count(l2), 1);
	assert_int_equal(l2_ahead_count(l2), 0);
	send_request("192.0.2.112"); /* the round is not over: no answer */
	wait_for(&seen.garps, 1);
	assert_int_equal(seen.garps, 1);
	assert_int_equal(seen.probes, 2);
	send_request("192.0.2.112");
	wait_for(&seen.arp_replies, 1);
	assert_int_equal(seen.arp_replies, 1);
	assert_int_equal(l2_stats(l2)->arp_answered, 1);
	l2_free(l2);
}

/* The peer answers the speaker's probe for a, as a host holding it would. */
static void send_probe_reply(const struct ip_addr *a)
{
	struct arp_packet p = { .op = ARP_OP_REPLY };
	uint8_t f[64];
	int len;

	memcpy(p.eth_dst, speaker_mac, 6);
	memcpy(p.eth_src, PEER_MAC, 6);
	memcpy(p.sha, PEER_MAC, 6);
	memcpy(p.tha, speaker_mac, 6);
	p.spa = *a;
	p.tpa = ip("0.0.0.0");
	len = arp_build(&p, f, sizeof(f));
	assert_true(len > 0);
	assert_int_equal(packet_sock_send(peer_arp, f, (size_t)len), 0);
}

/* A foreign host answers a probe ahead: the address is in use (listed by
 * l2_ahead_in_use) until a later round hears nobody, which the callback
 * tells once. */
static void test_ahead_in_use_until_a_round_hears_nobody(void **state)
{
	struct announce_cfg cfg = fast_cfg();
	struct cb_log log = { 0 };
	struct l2 *l2;
	struct l2_claim claims[] = { { .addr = ip("192.0.2.114"), .probe = true, .ahead = true },
				     { .addr = ip("192.0.2.115"), .probe = true, .ahead = true } };
	struct ip_addr list[4];
	struct l2_status st;

	(void)state;
	cfg.ahead_interval_us = 100000;
	l2 = start(&cfg, &log);
	assert_int_equal(l2_set_claims(l2, claims, 2), 0);
	pump_ms(5);
	assert_int_equal(l2_ahead_in_use(l2, list, 4), 0);
	/* The peer answers for .114 (as a host holding it would). */
	send_probe_reply(&claims[0].addr);
	wait_for(&log.holders, 1);
	assert_int_equal(log.holders, 1);
	l2_foreign_holder(l2, &claims[0].addr, PEER_MAC);
	assert_int_equal(log.conflicts, 1);
	assert_true(l2_status(l2, &claims[0].addr, &st));
	assert_true(st.in_use);
	assert_true(l2_status(l2, &claims[1].addr, &st));
	assert_false(st.in_use);
	assert_int_equal(l2_ahead_in_use(l2, list, 4), 1);
	assert_true(ip_equal(&list[0], &claims[0].addr));
	assert_int_equal(log.clears, 0);
	/* The next round (100 ms later, 2 probes 20 ms apart) hears nobody. */
	wait_for(&log.clears, 1);
	assert_int_equal(log.clears, 1);
	assert_true(l2_status(l2, &claims[0].addr, &st));
	assert_false(st.in_use);
	assert_int_equal(st.state, ANNOUNCE_PROBED);
	assert_int_equal(l2_ahead_in_use(l2, list, 4), 0);
	/* Later clear rounds do not tell again; nothing was ever announced. */
	pump_ms(300);
	assert_int_equal(log.clears, 1);
	assert_int_equal(seen.garps, 0);
	l2_free(l2);
}

/* A foreign host answered while probing ahead: taking the address reports
 * the conflict and, under policy withdraw, announces nothing. */
static void test_ahead_claim_with_foreign_holder_taken_reports_conflict(void **state)
{
	struct announce_cfg cfg = fast_cfg();
	struct cb_log log = { 0 };
	struct l2 *l2;
	struct l2_claim claims[] = { { .addr = ip("192.0.2.113"), .probe = true, .ahead = true } };
	struct l2_status st;
	int before;

	(void)state;
	cfg.probe_interval_us = 100000;
	cfg.ahead_interval_us = 10000000;
	assert_int_equal(cfg.on_conflict, ANNOUNCE_ON_CONFLICT_WITHDRAW);
	l2 = start(&cfg, &log);
	assert_int_equal(l2_set_claims(l2, claims, 1), 0);
	pump_ms(10);
	assert_int_equal(seen.probes, 1);
	/* The peer answers the probe. */
	send_probe_reply(&claims[0].addr);
	wait_for(&log.holders, 1);
	assert_int_equal(log.holders, 1);
	assert_memory_equal(log.mac, PEER_MAC, 6);
	l2_foreign_holder(l2, &claims[0].addr, PEER_MAC);
	assert_true(l2_status(l2, &claims[0].addr, &st));
	assert_int_equal(st.state, ANNOUNCE_CONFLICT);
	assert_int_equal(st.clear_us, 0);
	assert_int_equal(st.conflicts, 1);
	pump_ms(250);
	before = log.conflicts;
	claims[0].ahead = false;
	assert_int_equal(l2_set_claims(l2, claims, 1), 0);
	assert_int_equal(log.conflicts, before + 1);
	send_request("192.0.2.113");
	pump_ms(100);
	assert_int_equal(seen.garps, 0);
	assert_int_equal(seen.arp_replies, 0);
	assert_int_equal(l2_stats(l2)->announcements_sent, 0);
	assert_true(l2_status(l2, &claims[0].addr, &st));
	assert_false(st.answering);
	assert_int_equal(st.state, ANNOUNCE_CONFLICT);
	assert_memory_equal(st.conflict_mac, PEER_MAC, 6);
	l2_free(l2);
}

/* A Service let go of an address that becomes a pool's next one: silent at
 * once, then probed ahead. */
static void test_answering_claim_switched_to_ahead_stops_answering(void **state)
{
	struct announce_cfg cfg = fast_cfg();
	struct cb_log log = { 0 };
	struct l2 *l2;
	struct l2_claim claims[] = { { .addr = ip("192.0.2.114") } };
	struct l2_status st;
	struct ip_addr ans[1];
	uint64_t probes;

	(void)state;
	cfg.ahead_interval_us = 10000000;
	l2 = start(&cfg, &log);
	assert_int_equal(l2_set_claims(l2, claims, 1), 0);
	pump_ms(60);
	send_request("192.0.2.114");
	wait_for(&seen.arp_replies, 1);
	assert_int_equal(seen.arp_replies, 1);
	assert_int_equal(l2_answering(l2, ans, 1), 1);
	probes = l2_stats(l2)->probes_sent;
	assert_int_equal(probes, 0);
	claims[0].ahead = true;
	claims[0].probe = true;
	assert_int_equal(l2_set_claims(l2, claims, 1), 0);
	assert_int_equal(l2_answering(l2, ans, 1), 0);
	assert_true(l2_status(l2, &claims[0].addr, &st));
	assert_false(st.answering);
	assert_true(st.ahead);
	assert_int_equal(l2_claim_count(l2), 0);
	assert_int_equal(l2_ahead_count(l2), 1);
	assert_true(l2_stats(l2)->probes_sent > probes);
	send_request("192.0.2.114");
	wait_for(&seen.probes, 2);
	pump_ms(60);
	assert_int_equal(seen.arp_replies, 1);
	assert_int_equal(seen.probes, 2);
	assert_int_equal(seen.garps, 2); /* the first claim's burst only */
	assert_true(l2_status(l2, &claims[0].addr, &st));
	assert_int_equal(st.state, ANNOUNCE_PROBED);
	l2_free(l2);
}

static void test_foreign_announcement_is_reported_and_conflict_withdraws(void **state)
{
	struct announce_cfg cfg = fast_cfg();
	struct cb_log log = { 0 };
	struct l2 *l2 = start(&cfg, &log);
	struct l2_claim claims[] = { { .addr = ip("192.0.2.70") } };
	struct l2_status st;
	uint8_t f[64];
	int len;

	(void)state;
	assert_int_equal(l2_set_claims(l2, claims, 1), 0);
	pump_ms(60);
	len = arp_build_announce(PEER_MAC, &claims[0].addr, f, sizeof(f));
	assert_int_equal(packet_sock_send(peer_arp, f, (size_t)len), 0);
	wait_for(&log.holders, 1);
	assert_int_equal(log.holders, 1);
	assert_memory_equal(log.mac, PEER_MAC, 6);
	/* The speaker says it is not a speaker's MAC: a conflict. */
	l2_foreign_holder(l2, &claims[0].addr, PEER_MAC);
	assert_int_equal(log.conflicts, 1);
	assert_true(l2_status(l2, &claims[0].addr, &st));
	assert_false(st.answering);
	assert_int_equal(st.conflicts, 1);
	send_request("192.0.2.70");
	pump_ms(30);
	assert_int_equal(seen.arp_replies, 0);
	l2_free(l2);
}

static void test_malformed_frames_are_counted_and_answers_go_on(void **state)
{
	struct announce_cfg cfg = fast_cfg();
	struct cb_log log = { 0 };
	struct l2 *l2 = start(&cfg, &log);
	struct l2_claim claims[] = { { .addr = ip("192.0.2.80") } };
	uint8_t f[64];
	int len;

	(void)state;
	assert_int_equal(l2_set_claims(l2, claims, 1), 0);
	pump_ms(60);
	{
		struct arp_packet p = { .op = ARP_OP_REQUEST };

		memset(p.eth_dst, 0xff, 6);
		memcpy(p.eth_src, PEER_MAC, 6);
		memcpy(p.sha, PEER_MAC, 6);
		p.spa = ip("192.0.2.99");
		p.tpa = claims[0].addr;
		len = arp_build(&p, f, sizeof(f));
	}
	/* Wrong hardware length: the BPF filter drops it before us. */
	f[18] = 8;
	packet_sock_send(peer_arp, f, (size_t)len);
	f[18] = 6;
	pump_ms(20);
	assert_int_equal(seen.arp_replies, 0);
	send_request("192.0.2.80");
	wait_for(&seen.arp_replies, 1);
	assert_int_equal(seen.arp_replies, 1);
	l2_free(l2);
}

/* A request from sha/spa for tpa whose sender MAC is multicast: the BPF
 * header checks pass it, the parser rejects it, so l2 counts it malformed
 * exactly when the ARP filter let it through. */
static void send_bad_sender_mac(const char *spa, const char *tpa)
{
	struct arp_packet p = { .op = ARP_OP_REQUEST };
	uint8_t f[64];
	int len;

	memset(p.eth_dst, 0xff, 6);
	memcpy(p.eth_src, PEER_MAC, 6);
	memcpy(p.sha, PEER_MAC, 6);
	p.spa = ip(spa);
	p.tpa = ip(tpa);
	len = arp_build(&p, f, sizeof(f));
	assert_true(len > 0);
	f[22] = 0x01; /* sender MAC 01:00:..., multicast */
	assert_int_equal(packet_sock_send(peer_arp, f, (size_t)len), 0);
}

static void test_arp_filter_passes_frames_about_claims_only(void **state)
{
	struct announce_cfg cfg = fast_cfg();
	struct cb_log log = { 0 };
	struct l2 *l2 = start(&cfg, &log);
	struct l2_claim one[] = { { .addr = ip("192.0.2.90") } };
	struct l2_claim two[] = { { .addr = ip("192.0.2.90") }, { .addr = ip("192.0.2.91") } };
	struct l2_claim six[] = { { .addr = ip("2001:db8:2::90") } };

	(void)state;
	assert_int_equal(l2_set_claims(l2, one, 1), 0);
	pump_ms(60);
	/* About other addresses: never read. */
	send_bad_sender_mac("192.0.2.99", "192.0.2.91");
	send_bad_sender_mac("192.0.2.98", "192.0.2.99");
	pump_ms(30);
	assert_int_equal(l2_stats(l2)->malformed, 0);
	/* About the claim, as target or as sender: read. */
	send_bad_sender_mac("192.0.2.99", "192.0.2.90");
	send_bad_sender_mac("192.0.2.90", "192.0.2.99");
	pump_ms(30);
	assert_int_equal(l2_stats(l2)->malformed, 2);
	/* A second claim: the filter follows, before its first answer. */
	assert_int_equal(l2_set_claims(l2, two, 2), 0);
	pump_ms(60);
	send_request("192.0.2.91");
	wait_for(&seen.arp_replies, 1);
	assert_int_equal(seen.arp_replies, 1);
	send_bad_sender_mac("192.0.2.99", "192.0.2.91");
	pump_ms(30);
	assert_int_equal(l2_stats(l2)->malformed, 3);
	/* IPv6 only: no ARP frame is read any more. */
	assert_int_equal(l2_set_claims(l2, six, 1), 0);
	send_bad_sender_mac("192.0.2.99", "192.0.2.90");
	send_bad_sender_mac("192.0.2.90", "192.0.2.91");
	pump_ms(30);
	assert_int_equal(l2_stats(l2)->malformed, 3);
	l2_free(l2);
}

static void test_a_host_using_a_claim_as_sender_is_reported(void **state)
{
	struct announce_cfg cfg = fast_cfg();
	struct cb_log log = { 0 };
	struct l2 *l2 = start(&cfg, &log);
	struct l2_claim claims[] = { { .addr = ip("192.0.2.95") } };
	struct arp_packet p = { .op = ARP_OP_REQUEST };
	uint8_t f[64];
	int len;

	(void)state;
	assert_int_equal(l2_set_claims(l2, claims, 1), 0);
	pump_ms(60);
	/* Asks for an unclaimed address from the claimed one: a conflict
	 * per RFC 5227 section 2.4, so the filter must pass it. */
	memset(p.eth_dst, 0xff, 6);
	memcpy(p.eth_src, PEER_MAC, 6);
	memcpy(p.sha, PEER_MAC, 6);
	p.spa = claims[0].addr;
	p.tpa = ip("192.0.2.1");
	len = arp_build(&p, f, sizeof(f));
	assert_int_equal(packet_sock_send(peer_arp, f, (size_t)len), 0);
	wait_for(&log.holders, 1);
	assert_int_equal(log.holders, 1);
	assert_memory_equal(log.mac, PEER_MAC, 6);
	l2_free(l2);
}

static void test_arp_filter_refused_by_the_kernel_falls_back_to_all_arp(void **state)
{
	/* Option memory for a program of 15 instructions, not one of 200
	 * addresses (about 5 KiB): the sockets must use the generic filter. */
	enum { N = 200 };
	struct announce_cfg cfg = fast_cfg();
	struct cb_log log = { 0 };
	struct l2 *l2;
	struct l2_claim claims[N];
	struct l2_status st;
	char buf[32];
	FILE *f;
	long saved;

	(void)state;
	cfg.announce_count = 1;
	for (int i = 0; i < N; i++) {
		snprintf(buf, sizeof(buf), "192.0.2.%d", 20 + i);
		claims[i] = (struct l2_claim){ .addr = ip(buf) };
	}
	/* Per network namespace since Linux 6.9: elsewhere, not ours to lower. */
	f = fopen("/proc/sys/net/core/optmem_max", "r");
	if (!f)
		skip();
	assert_int_equal(fscanf(f, "%ld", &saved), 1);
	fclose(f);
	f = fopen("/proc/sys/net/core/optmem_max", "w");
	assert_non_null(f);
	assert_true(fprintf(f, "4096\n") > 0);
	assert_int_equal(fclose(f), 0);
	l2 = start(&cfg, &log);
	assert_int_equal(l2_set_claims(l2, claims, N), 0);
	assert_true(l2_status(l2, &claims[0].addr, &st));
	assert_int_equal(st.n_ifindexes, 1);
	assert_null(st.why_no_interface);
	pump_ms(60);
	send_request("192.0.2.219");
	wait_for(&seen.arp_replies, 1);
	assert_int_equal(seen.arp_replies, 1);
	/* Generic filter: frames about other addresses are read too. */
	send_bad_sender_mac("192.0.2.9", "192.0.2.8");
	pump_ms(30);
	assert_int_equal(l2_stats(l2)->malformed, 1);
	/* Down to one address: its program fits, and replaces the generic one. */
	assert_int_equal(l2_set_claims(l2, claims, 1), 0);
	send_bad_sender_mac("192.0.2.9", "192.0.2.8");
	send_request("192.0.2.20");
	wait_for(&seen.arp_replies, 2);
	pump_ms(20);
	assert_int_equal(seen.arp_replies, 2);
	assert_int_equal(l2_stats(l2)->malformed, 1);
	l2_free(l2);
	f = fopen("/proc/sys/net/core/optmem_max", "w");
	assert_non_null(f);
	fprintf(f, "%ld\n", saved);
	assert_int_equal(fclose(f), 0);
}

/* Many claims share one timer: each gets its own probes and announcements
 * in order, and a claim released halfway through its schedule sends nothing
 * more while the others finish theirs. */
static void test_many_claims_keep_their_own_schedules(void **state)
{
	struct announce_cfg cfg = fast_cfg();
	struct cb_log log = { 0 };
	struct l2 *l2 = start(&cfg, &log);
	struct l2_claim claims[30];
	struct l2_status st;
	uint64_t end;

	(void)state;
	for (int i = 0; i < 30; i++) {
		char buf[32];

		snprintf(buf, sizeof(buf), "192.0.2.%d", 100 + i);
		claims[i] = (struct l2_claim){ .addr = ip(buf), .probe = i % 2 == 0 };
	}
	assert_int_equal(l2_set_claims(l2, claims, 30), 0);
	/* Each claim sent its first frame at once: a probe or a GARP. */
	assert_int_equal(l2_stats(l2)->probes_sent, 15);
	assert_int_equal(l2_stats(l2)->announcements_sent, 15);
	/* The last 10 go while every schedule is still running. */
	assert_int_equal(l2_set_claims(l2, claims, 20), 0);
	end = loop_now_us() + 3000000;
	while (l2_stats(l2)->announcements_sent < 5 + 20 * 2 && loop_now_us() < end)
		loop_run_once(loop, 5);
	pump_ms(100);
	/* 2 probes for each of the 10 probing claims kept, 1 for each of the 5
	 * released; 2 announcements for each claim kept, 1 for each of the 5
	 * released non-probing ones. */
	assert_int_equal(l2_stats(l2)->probes_sent, 10 * 2 + 5);
	assert_int_equal(l2_stats(l2)->announcements_sent, 20 * 2 + 5);
	for (int i = 0; i < 30; i++) {
		bool claimed = l2_status(l2, &claims[i].addr, &st);

		assert_int_equal(claimed, i < 20);
		if (claimed)
			assert_int_equal(st.state, ANNOUNCE_ACTIVE);
	}
	/* A claim naming more interfaces than an entry holds is refused, and
	 * nothing changes. */
	{
		static const char *names[L2_MAX_IFNAMES + 1];
		struct l2_claim bad[2] = { claims[0], { .addr = ip("192.0.2.77") } };

		for (size_t i = 0; i <= L2_MAX_IFNAMES; i++)
			names[i] = "l2a";
		bad[1].ifnames = names;
		bad[1].n_ifnames = L2_MAX_IFNAMES + 1;
		assert_int_equal(l2_set_claims(l2, bad, 2), -EINVAL);
		assert_false(l2_status(l2, &bad[1].addr, &st));
		assert_true(l2_status(l2, &claims[19].addr, &st));
	}
	l2_free(l2);
}

/* A mass claim (a failover handing over many addresses) starts at most a
 * batch at once; the others start on the next wakeups, and every claim
 * gets its whole burst. */
static void test_mass_claim_starts_in_batches_and_completes(void **state)
{
	struct announce_cfg cfg = fast_cfg();
	struct cb_log log = { 0 };
	struct l2 *l2 = start(&cfg, &log);
	enum { N = 600 };
	struct l2_claim *claims = calloc(N, sizeof(*claims));
	struct l2_status st;
	uint64_t end;
	size_t active = 0;

	(void)state;
	assert_non_null(claims);
	for (int i = 0; i < N; i++) {
		char buf[64];

		snprintf(buf, sizeof(buf), "2001:db8:2::1:%x", i + 1);
		claims[i].addr = ip(buf);
	}
	assert_int_equal(l2_set_claims(l2, claims, N), 0);
	/* One batch went out in the call; the rest waits for the loop. */
	assert_true(l2_stats(l2)->announcements_sent > 0);
	assert_true(l2_stats(l2)->announcements_sent < N);
	end = loop_now_us() + 5000000;
	while (l2_stats(l2)->announcements_sent < 2 * N && loop_now_us() < end)
		loop_run_once(loop, 5);
	pump_ms(60);
	assert_int_equal(l2_stats(l2)->announcements_sent, 2 * N);
	for (int i = 0; i < N; i++)
		if (l2_status(l2, &claims[i].addr, &st) && st.state == ANNOUNCE_ACTIVE)
			active++;
	assert_int_equal(active, N);
	l2_free(l2);
	free(claims);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claim_sends_gratuitous_arp_and_unsolicited_na),
		cmocka_unit_test(test_requests_are_answered_for_claimed_addresses_only),
		cmocka_unit_test(test_probe_claim_probes_before_announcing),
		cmocka_unit_test(test_ahead_claim_probes_only_and_never_answers),
		cmocka_unit_test(test_ahead_claim_taken_after_clear_round_announces_at_once),
		cmocka_unit_test(test_ahead_claim_dropped_then_taken_still_announces_at_once),
		cmocka_unit_test(test_ahead_claim_taken_during_first_round_announces_after_it),
		cmocka_unit_test(test_ahead_in_use_until_a_round_hears_nobody),
		cmocka_unit_test(test_ahead_claim_with_foreign_holder_taken_reports_conflict),
		cmocka_unit_test(test_answering_claim_switched_to_ahead_stops_answering),
		cmocka_unit_test(test_many_claims_keep_their_own_schedules),
		cmocka_unit_test(test_mass_claim_starts_in_batches_and_completes),
		cmocka_unit_test(test_foreign_announcement_is_reported_and_conflict_withdraws),
		cmocka_unit_test(test_malformed_frames_are_counted_and_answers_go_on),
		cmocka_unit_test(test_arp_filter_passes_frames_about_claims_only),
		cmocka_unit_test(test_a_host_using_a_claim_as_sender_is_reported),
		cmocka_unit_test(test_arp_filter_refused_by_the_kernel_falls_back_to_all_arp),
	};

	return cmocka_run_group_tests_name("l2", tests, setup, teardown);
}
