/* Unit tests for speaker/packet.c, over a veth pair in a private network
 * namespace of the test's own. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../speaker/packet.h"
#include "ironlb/loop.h"

#define ETHERTYPE_TEST 0x88b5 /* IEEE local experimental */

struct rx_log {
	int frames;
	int truncated;
	size_t last_len;
	uint8_t last[PACKET_FRAME_MAX];
};

static void on_rx(void *userdata, int ifindex, const uint8_t *frame, size_t len, bool truncated)
{
	struct rx_log *log = userdata;

	(void)ifindex;
	log->frames++;
	log->truncated += truncated;
	log->last_len = len;
	memcpy(log->last, frame, len);
}

static int ifa, ifb;

static int setup(void **state)
{
	(void)state;
	if (unshare(CLONE_NEWNET) != 0)
		return -1;
	if (system("ip link set lo up && ip link add pkta type veth peer name pktb && "
		   "ip link set pkta mtu 9000 && ip link set pktb mtu 9000 && "
		   "ip link set pkta up && ip link set pktb up") != 0)
		return -1;
	/* Frames sent before the kernel's link watcher marks the link up
	 * (and gives it a queueing discipline) are dropped: wait for it. */
	if (system("for i in $(seq 100); do ip link show pkta | grep -q 'state UP' && "
		   "ip link show pktb | grep -q 'state UP' && exit 0; sleep 0.02; done; exit 1") !=
	    0)
		return -1;
	ifa = (int)if_nametoindex("pkta");
	ifb = (int)if_nametoindex("pktb");
	return ifa && ifb ? 0 : -1;
}

static size_t make_frame(uint8_t *f, size_t len, uint8_t marker)
{
	memset(f, 0, len);
	memset(f, 0xff, 6);			      /* broadcast */
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6); /* locally administered */
	f[12] = ETHERTYPE_TEST >> 8;
	f[13] = ETHERTYPE_TEST & 0xff;
	f[14] = marker;
	return len;
}

static void pump(struct loop *l, struct rx_log *log, int want)
{
	for (int i = 0; i < 100 && log->frames < want; i++)
		loop_run_once(l, 10);
}

static void test_frame_sent_on_one_end_arrives_whole_on_the_other(void **state)
{
	struct loop *l = loop_new();
	struct rx_log log = { 0 };
	struct packet_sock *tx, *rx;
	uint8_t f[128];
	struct packet_stats st;

	(void)state;
	tx = packet_sock_new(l, ifa, ETHERTYPE_TEST, NULL, 0, NULL, NULL, NULL);
	rx = packet_sock_new(l, ifb, ETHERTYPE_TEST, NULL, 0, on_rx, &log, NULL);
	assert_non_null(tx);
	assert_non_null(rx);
	assert_int_equal(packet_sock_send(tx, f, make_frame(f, 60, 7)), 0);
	pump(l, &log, 1);
	assert_int_equal(log.frames, 1);
	assert_int_equal(log.last_len, 60);
	assert_memory_equal(log.last, f, 60);
	packet_sock_stats(tx, &st);
	assert_int_equal(st.sent, 1);
	packet_sock_free(tx);
	packet_sock_free(rx);
	loop_free(l);
}

static void test_own_frames_are_not_delivered_back(void **state)
{
	struct loop *l = loop_new();
	struct rx_log log = { 0 }, peer = { 0 };
	struct packet_sock *a, *b;
	uint8_t f[64];

	(void)state;
	a = packet_sock_new(l, ifa, ETHERTYPE_TEST, NULL, 0, on_rx, &log, NULL);
	b = packet_sock_new(l, ifb, ETHERTYPE_TEST, NULL, 0, on_rx, &peer, NULL);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(packet_sock_send(a, f, make_frame(f, 60, 1)), 0);
	pump(l, &peer, 1);
	for (int i = 0; i < 5; i++)
		loop_run_once(l, 10);
	assert_int_equal(peer.frames, 1);
	assert_int_equal(log.frames, 0);
	packet_sock_free(a);
	packet_sock_free(b);
	loop_free(l);
}

static void test_filter_decides_what_is_delivered(void **state)
{
	/* Accept frames whose first payload byte is 0x42, drop the rest. */
	static const struct sock_filter only_42[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 14),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x42, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct loop *l = loop_new();
	struct rx_log log = { 0 };
	struct packet_sock *tx, *rx;
	uint8_t f[64];

	(void)state;
	tx = packet_sock_new(l, ifa, ETHERTYPE_TEST, NULL, 0, NULL, NULL, NULL);
	rx = packet_sock_new(l, ifb, ETHERTYPE_TEST, only_42, 4, on_rx, &log, NULL);
	assert_non_null(rx);
	assert_int_equal(packet_sock_send(tx, f, make_frame(f, 60, 0x41)), 0);
	assert_int_equal(packet_sock_send(tx, f, make_frame(f, 60, 0x42)), 0);
	assert_int_equal(packet_sock_send(tx, f, make_frame(f, 60, 0x43)), 0);
	pump(l, &log, 1);
	for (int i = 0; i < 5; i++)
		loop_run_once(l, 10);
	assert_int_equal(log.frames, 1);
	assert_int_equal(log.last[14], 0x42);
	packet_sock_free(tx);
	packet_sock_free(rx);
	loop_free(l);
}

static void test_oversize_frame_is_reported_truncated(void **state)
{
	struct loop *l = loop_new();
	struct rx_log log = { 0 };
	struct packet_sock *tx, *rx;
	static uint8_t big[4000];

	(void)state;
	tx = packet_sock_new(l, ifa, ETHERTYPE_TEST, NULL, 0, NULL, NULL, NULL);
	rx = packet_sock_new(l, ifb, ETHERTYPE_TEST, NULL, 0, on_rx, &log, NULL);
	assert_int_equal(packet_sock_send(tx, big, make_frame(big, sizeof(big), 9)), 0);
	pump(l, &log, 1);
	assert_int_equal(log.frames, 1);
	assert_int_equal(log.truncated, 1);
	assert_int_equal(log.last_len, PACKET_FRAME_MAX);
	packet_sock_free(tx);
	packet_sock_free(rx);
	loop_free(l);
}

static void test_a_flood_is_read_in_bounded_batches(void **state)
{
	struct loop *l = loop_new();
	struct rx_log log = { 0 };
	struct packet_sock *tx, *rx;
	uint8_t f[64];
	int r;

	(void)state;
	tx = packet_sock_new(l, ifa, ETHERTYPE_TEST, NULL, 0, NULL, NULL, NULL);
	rx = packet_sock_new(l, ifb, ETHERTYPE_TEST, NULL, 0, on_rx, &log, NULL);
	for (int i = 0; i < 3 * PACKET_RX_BUDGET; i++)
		assert_int_equal(packet_sock_send(tx, f, make_frame(f, 60, 1)), 0);
	r = loop_run_once(l, 100);
	assert_true(r >= 1);
	assert_true(log.frames <= PACKET_RX_BUDGET);
	pump(l, &log, 3 * PACKET_RX_BUDGET);
	assert_int_equal(log.frames, 3 * PACKET_RX_BUDGET);
	packet_sock_free(tx);
	packet_sock_free(rx);
	loop_free(l);
}

static void test_a_burst_larger_than_the_default_buffer_is_kept_whole(void **state)
{
	/* 1,500 frames queued before the first read: the kernel's default
	 * receive buffer (208 KiB, about 830 bytes charged per frame) holds
	 * about 250 of them. */
	enum { BURST = 1500 };
	struct loop *l = loop_new();
	struct rx_log log = { 0 };
	struct packet_sock *tx, *rx;
	struct packet_stats st;
	uint8_t f[64];

	(void)state;
	tx = packet_sock_new(l, ifa, ETHERTYPE_TEST, NULL, 0, NULL, NULL, NULL);
	rx = packet_sock_new(l, ifb, ETHERTYPE_TEST, NULL, 0, on_rx, &log, NULL);
	assert_non_null(rx);
	packet_sock_stats(rx, &st);
	if (geteuid() == 0)
		assert_true(st.rcvbuf >= 2 * (uint64_t)PACKET_RCVBUF);
	for (int i = 0; i < BURST; i++)
		assert_int_equal(packet_sock_send(tx, f, make_frame(f, 60, (uint8_t)i)), 0);
	pump(l, &log, BURST);
	assert_int_equal(log.frames, BURST);
	packet_sock_stats(rx, &st);
	assert_int_equal(st.kernel_drops, 0);
	assert_int_equal(st.received, BURST);
	packet_sock_free(tx);
	packet_sock_free(rx);
	loop_free(l);
}

struct self_free {
	struct packet_sock *ps;
	int frames;
};

static void on_rx_free(void *userdata, int ifindex, const uint8_t *frame, size_t len,
		       bool truncated)
{
	struct self_free *sf = userdata;

	(void)ifindex;
	(void)frame;
	(void)len;
	(void)truncated;
	sf->frames++;
	packet_sock_free(sf->ps);
	sf->ps = NULL;
}

static void test_a_socket_freed_by_its_own_callback_stops_its_batch(void **state)
{
	struct loop *l = loop_new();
	struct self_free sf = { 0 };
	struct packet_sock *tx;
	uint8_t f[64];

	(void)state;
	tx = packet_sock_new(l, ifa, ETHERTYPE_TEST, NULL, 0, NULL, NULL, NULL);
	sf.ps = packet_sock_new(l, ifb, ETHERTYPE_TEST, NULL, 0, on_rx_free, &sf, NULL);
	assert_non_null(sf.ps);
	for (int i = 0; i < 10; i++)
		assert_int_equal(packet_sock_send(tx, f, make_frame(f, 60, 1)), 0);
	for (int i = 0; i < 20 && sf.ps; i++)
		loop_run_once(l, 10);
	for (int i = 0; i < 5; i++)
		loop_run_once(l, 10);
	/* One frame delivered, then nothing touched the freed socket (ASan). */
	assert_null(sf.ps);
	assert_int_equal(sf.frames, 1);
	packet_sock_free(tx);
	loop_free(l);
}

static void test_the_filter_can_be_replaced(void **state)
{
	static const struct sock_filter only_42[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 14),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x42, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	static const struct sock_filter only_43[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 14),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x43, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	/* Jumps past the end: the kernel refuses it. */
	static const struct sock_filter broken[] = {
		BPF_JUMP(BPF_JMP | BPF_JA, 5, 0, 0),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct loop *l = loop_new();
	struct rx_log log = { 0 };
	struct packet_sock *tx, *rx;
	uint8_t f[64];

	(void)state;
	tx = packet_sock_new(l, ifa, ETHERTYPE_TEST, NULL, 0, NULL, NULL, NULL);
	rx = packet_sock_new(l, ifb, ETHERTYPE_TEST, only_42, 4, on_rx, &log, NULL);
	assert_non_null(rx);
	assert_int_equal(packet_sock_set_filter(tx, only_43, 4, NULL, 0), -EINVAL);
	assert_int_equal(packet_sock_set_filter(rx, only_43, 4, NULL, 0), 0);
	packet_sock_send(tx, f, make_frame(f, 60, 0x42));
	packet_sock_send(tx, f, make_frame(f, 60, 0x43));
	pump(l, &log, 1);
	for (int i = 0; i < 5; i++)
		loop_run_once(l, 10);
	assert_int_equal(log.frames, 1);
	assert_int_equal(log.last[14], 0x43);
	/* Refused: the fallback is in place, and the error returned. */
	assert_true(packet_sock_set_filter(rx, broken, 2, only_42, 4) < 0);
	packet_sock_send(tx, f, make_frame(f, 60, 0x43));
	packet_sock_send(tx, f, make_frame(f, 60, 0x42));
	pump(l, &log, 2);
	for (int i = 0; i < 5; i++)
		loop_run_once(l, 10);
	assert_int_equal(log.frames, 2);
	assert_int_equal(log.last[14], 0x42);
	/* No filter: everything of the ethertype. */
	assert_int_equal(packet_sock_set_filter(rx, NULL, 0, NULL, 0), 0);
	packet_sock_send(tx, f, make_frame(f, 60, 0x41));
	pump(l, &log, 3);
	assert_int_equal(log.frames, 3);
	assert_int_equal(log.last[14], 0x41);
	packet_sock_free(tx);
	packet_sock_free(rx);
	loop_free(l);
}

static void test_multicast_membership_can_be_joined_and_left(void **state)
{
	static const uint8_t solicited[6] = { 0x33, 0x33, 0xff, 0x00, 0x02, 0x00 };
	struct loop *l = loop_new();
	struct rx_log log = { 0 };
	struct packet_sock *rx;

	(void)state;
	rx = packet_sock_new(l, ifb, ETHERTYPE_TEST, NULL, 0, on_rx, &log, NULL);
	assert_int_equal(packet_sock_mcast(rx, solicited, true), 0);
	assert_int_equal(system("ip maddr show dev pktb | grep -q 33:33:ff:00:02:00"), 0);
	assert_int_equal(packet_sock_mcast(rx, solicited, false), 0);
	assert_int_not_equal(system("ip maddr show dev pktb | grep -q 33:33:ff:00:02:00"), 0);
	packet_sock_free(rx);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_sent_on_one_end_arrives_whole_on_the_other),
		cmocka_unit_test(test_own_frames_are_not_delivered_back),
		cmocka_unit_test(test_filter_decides_what_is_delivered),
		cmocka_unit_test(test_oversize_frame_is_reported_truncated),
		cmocka_unit_test(test_a_flood_is_read_in_bounded_batches),
		cmocka_unit_test(test_a_burst_larger_than_the_default_buffer_is_kept_whole),
		cmocka_unit_test(test_a_socket_freed_by_its_own_callback_stops_its_batch),
		cmocka_unit_test(test_the_filter_can_be_replaced),
		cmocka_unit_test(test_multicast_membership_can_be_joined_and_left),
	};

	return cmocka_run_group_tests_name("packet", tests, setup, NULL);
}
