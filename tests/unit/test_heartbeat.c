/* Unit tests for speaker/heartbeat.c: the heartbeat mesh over real UDP
 * sockets on 127.0.0.1, driven by the event loop. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../speaker/heartbeat.h"
#include "ironlb/loop.h"

#define INTERVAL_US 20000

struct events {
	int alive, dead;
	char last[64];
};

static void on_change(void *userdata, const char *peer, enum heartbeat_liveness now)
{
	struct events *e = userdata;

	snprintf(e->last, sizeof(e->last), "%s", peer);
	if (now == HEARTBEAT_PEER_ALIVE)
		e->alive++;
	else if (now == HEARTBEAT_PEER_DEAD)
		e->dead++;
}

static struct heartbeat_key key_of(const char *s)
{
	struct heartbeat_key k;

	assert_int_equal(heartbeat_key_parse(s, strlen(s), &k, NULL), 0);
	return k;
}

static struct heartbeat *start(struct loop *l, const char *node, const struct heartbeat_key *k,
			       struct events *e)
{
	struct heartbeat_cfg cfg = {
		.node = node, .key = k, .interval_us = INTERVAL_US, .misses = 3
	};
	struct sockaddr_in *sin = (struct sockaddr_in *)&cfg.listen;
	struct heartbeat *hb;
	int err = 0;

	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cfg.listen_len = sizeof(*sin);
	hb = heartbeat_new(l, &cfg, on_change, e, &err);
	assert_non_null(hb);
	return hb;
}

static struct heartbeat_peer_addr peer(const char *name, int port)
{
	struct heartbeat_peer_addr p = { .name = name, .addr_len = sizeof(struct sockaddr_in) };
	struct sockaddr_in *sin = (struct sockaddr_in *)&p.addr;

	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin->sin_port = htons((uint16_t)port);
	return p;
}

static void pump_until(struct loop *l, const int *counter, int want, int max_ms)
{
	uint64_t end = loop_now_us() + (uint64_t)max_ms * 1000;

	while (*counter < want && loop_now_us() < end)
		loop_run_once(l, 5);
}

static void link_pair(struct heartbeat *a, struct heartbeat *b)
{
	struct heartbeat_peer_addr pa[] = { peer("node-b", heartbeat_port(b)),
					    peer("node-a", heartbeat_port(a)) };
	struct heartbeat_peer_addr pb[] = { peer("node-a", heartbeat_port(a)) };

	/* a's list names a itself too: it must be ignored. */
	assert_int_equal(heartbeat_set_peers(a, pa, 2), 0);
	assert_int_equal(heartbeat_set_peers(b, pb, 1), 0);
}

static void test_two_speakers_see_each_other_alive(void **state)
{
	struct loop *l = loop_new();
	struct heartbeat_key k = key_of("0123456789abcdef0123");
	struct events ea = { 0 }, eb = { 0 };
	struct heartbeat *a = start(l, "node-a", &k, &ea), *b = start(l, "node-b", &k, &eb);

	(void)state;
	link_pair(a, b);
	assert_int_equal(heartbeat_peer_count(a), 1);
	pump_until(l, &ea.alive, 1, 2000);
	pump_until(l, &eb.alive, 1, 2000);
	assert_int_equal(ea.alive, 1);
	assert_string_equal(ea.last, "node-b");
	assert_int_equal(eb.alive, 1);
	assert_int_equal(heartbeat_liveness(a, "node-b"), HEARTBEAT_PEER_ALIVE);
	assert_true(heartbeat_stats(a)->received >= 1);
	assert_true(heartbeat_stats(a)->sent >= 1);
	heartbeat_free(a, false);
	heartbeat_free(b, false);
	loop_free(l);
}

static void test_a_silent_peer_is_dead_after_misses(void **state)
{
	struct loop *l = loop_new();
	struct heartbeat_key k = key_of("0123456789abcdef0123");
	struct events ea = { 0 }, eb = { 0 };
	struct heartbeat *a = start(l, "node-a", &k, &ea), *b = start(l, "node-b", &k, &eb);
	uint64_t t0;

	(void)state;
	link_pair(a, b);
	pump_until(l, &ea.alive, 1, 2000);
	heartbeat_free(b, false); /* crash: no goodbye */
	t0 = loop_now_us();
	pump_until(l, &ea.dead, 1, 2000);
	assert_int_equal(ea.dead, 1);
	/* Not before misses * interval since the last heartbeat. */
	assert_true(loop_now_us() - t0 >= (3 - 1) * INTERVAL_US);
	assert_int_equal(heartbeat_liveness(a, "node-b"), HEARTBEAT_PEER_DEAD);
	heartbeat_free(a, false);
	loop_free(l);
}

static void test_a_leaving_peer_is_dead_at_once(void **state)
{
	struct loop *l = loop_new();
	struct heartbeat_key k = key_of("0123456789abcdef0123");
	struct events ea = { 0 }, eb = { 0 };
	struct heartbeat *a = start(l, "node-a", &k, &ea), *b = start(l, "node-b", &k, &eb);

	(void)state;
	link_pair(a, b);
	pump_until(l, &ea.alive, 1, 2000);
	heartbeat_free(b, true);
	/* One loop iteration reads the goodbye: well before misses*interval. */
	loop_run_once(l, 10);
	assert_int_equal(ea.dead, 1);
	heartbeat_free(a, false);
	loop_free(l);
}

/* After this node's own link was down: forgetting makes every peer UNKNOWN
 * (no callback); a peer that still sends is ALIVE again at its next
 * heartbeat, a silent one stays UNKNOWN rather than being declared dead
 * again (its Lease decides). */
static void test_forget_liveness_makes_peers_unknown_until_heard(void **state)
{
	struct loop *l = loop_new();
	struct heartbeat_key k = key_of("0123456789abcdef0123");
	struct events ea = { 0 }, eb = { 0 }, ec = { 0 };
	struct heartbeat *a = start(l, "node-a", &k, &ea), *b = start(l, "node-b", &k, &eb),
			 *c = start(l, "node-c", &k, &ec);
	struct heartbeat_peer_addr pa[] = { peer("node-b", heartbeat_port(b)),
					    peer("node-c", heartbeat_port(c)) };
	struct heartbeat_peer_addr pb[] = { peer("node-a", heartbeat_port(a)) };
	uint64_t end;

	(void)state;
	assert_int_equal(heartbeat_set_peers(a, pa, 2), 0);
	assert_int_equal(heartbeat_set_peers(b, pb, 1), 0);
	assert_int_equal(heartbeat_set_peers(c, pb, 1), 0);
	pump_until(l, &ea.alive, 2, 2000);
	assert_int_equal(ea.alive, 2);
	heartbeat_free(c, false); /* silent from now on */
	pump_until(l, &ea.dead, 1, 2000);
	assert_int_equal(ea.dead, 1);
	assert_int_equal(heartbeat_liveness(a, "node-c"), HEARTBEAT_PEER_DEAD);

	assert_int_equal(heartbeat_forget_liveness(a), 2);
	assert_int_equal(heartbeat_liveness(a, "node-b"), HEARTBEAT_PEER_UNKNOWN);
	assert_int_equal(heartbeat_liveness(a, "node-c"), HEARTBEAT_PEER_UNKNOWN);
	assert_int_equal(ea.alive, 2); /* no callback for the reset */
	assert_int_equal(ea.dead, 1);
	assert_int_equal(heartbeat_forget_liveness(a), 0);

	pump_until(l, &ea.alive, 3, 2000);
	assert_int_equal(ea.alive, 3);
	assert_string_equal(ea.last, "node-b");
	assert_int_equal(heartbeat_liveness(a, "node-b"), HEARTBEAT_PEER_ALIVE);
	/* Well past misses x interval: the silent peer is not declared dead
	 * again (it was never heard since the reset). */
	end = loop_now_us() + 6 * INTERVAL_US;
	while (loop_now_us() < end)
		loop_run_once(l, 5);
	assert_int_equal(heartbeat_liveness(a, "node-c"), HEARTBEAT_PEER_UNKNOWN);
	assert_int_equal(heartbeat_liveness(a, "node-b"), HEARTBEAT_PEER_ALIVE);
	assert_int_equal(ea.dead, 1);
	/* The replay guard survived: nothing b sent was rejected as a replay. */
	assert_int_equal(heartbeat_stats(a)->rejected.n[HEARTBEAT_REPLAY], 0);
	heartbeat_free(a, false);
	heartbeat_free(b, false);
	loop_free(l);
}

static void test_wrong_key_is_rejected_and_counted(void **state)
{
	struct loop *l = loop_new();
	struct heartbeat_key k = key_of("0123456789abcdef0123"),
			     other = key_of("another key, 16+ bytes");
	struct events ea = { 0 }, eb = { 0 };
	struct heartbeat *a = start(l, "node-a", &k, &ea), *b = start(l, "node-b", &other, &eb);
	uint64_t end;

	(void)state;
	link_pair(a, b);
	end = loop_now_us() + 10 * INTERVAL_US;
	while (loop_now_us() < end)
		loop_run_once(l, 5);
	assert_int_equal(ea.alive, 0);
	assert_int_equal(eb.alive, 0);
	assert_true(heartbeat_stats(a)->rejected.n[HEARTBEAT_BAD_MAC] >= 1);
	heartbeat_free(a, false);
	heartbeat_free(b, false);
	loop_free(l);
}

static void test_replayed_datagram_is_rejected(void **state)
{
	struct loop *l = loop_new();
	struct heartbeat_key k = key_of("0123456789abcdef0123");
	struct events ea = { 0 };
	struct heartbeat *a = start(l, "node-a", &k, &ea);
	struct heartbeat_peer_addr pa[] = { peer("node-x", 9) };
	struct heartbeat_msg m = { .mac_len = HEARTBEAT_MAC_SHORT,
				   .incarnation = 77,
				   .seq = 5,
				   .sent_us = 1000,
				   .interval_ms = 20 };
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	uint8_t buf[HEARTBEAT_MAX_LEN];
	int len, fd = socket(AF_INET, SOCK_DGRAM, 0);

	(void)state;
	assert_int_equal(heartbeat_set_peers(a, pa, 1), 0);
	snprintf(m.name, sizeof(m.name), "node-x");
	len = heartbeat_encode(&m, &k, buf, sizeof(buf));
	assert_true(len > 0);
	to.sin_port = htons((uint16_t)heartbeat_port(a));
	/* The same authentic datagram twice: accepted once, then a replay. */
	for (int i = 0; i < 2; i++)
		assert_int_equal(
			sendto(fd, buf, (size_t)len, 0, (struct sockaddr *)&to, sizeof(to)), len);
	pump_until(l, &ea.alive, 1, 1000);
	loop_run_once(l, 20);
	assert_int_equal(ea.alive, 1);
	assert_int_equal(heartbeat_stats(a)->received, 1);
	assert_int_equal(heartbeat_stats(a)->rejected.n[HEARTBEAT_REPLAY], 1);
	/* Garbage of every small length is counted, never accepted. */
	for (int n = 0; n < 80; n++)
		sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&to, sizeof(to));
	for (int i = 0; i < 5; i++)
		loop_run_once(l, 10);
	assert_int_equal(heartbeat_stats(a)->received, 1);
	close(fd);
	heartbeat_free(a, false);
	loop_free(l);
}

static void test_unknown_sender_is_counted_not_tracked(void **state)
{
	struct loop *l = loop_new();
	struct heartbeat_key k = key_of("0123456789abcdef0123");
	struct events ea = { 0 }, eb = { 0 };
	struct heartbeat *a = start(l, "node-a", &k, &ea), *b = start(l, "node-b", &k, &eb);
	struct heartbeat_peer_addr pb[] = { peer("node-a", heartbeat_port(a)) };
	uint64_t end;

	(void)state;
	/* b sends to a, but a does not know b. */
	assert_int_equal(heartbeat_set_peers(b, pb, 1), 0);
	end = loop_now_us() + 5 * INTERVAL_US;
	while (loop_now_us() < end)
		loop_run_once(l, 5);
	assert_int_equal(ea.alive, 0);
	assert_true(heartbeat_stats(a)->unknown_peer >= 1);
	assert_int_equal(heartbeat_peer_count(a), 0);
	heartbeat_free(a, false);
	heartbeat_free(b, false);
	loop_free(l);
}

static void test_owned_set_is_accepted(void **state)
{
	struct loop *l = loop_new();
	struct heartbeat_key k = key_of("0123456789abcdef0123");
	struct events ea = { 0 }, eb = { 0 };
	struct heartbeat *a = start(l, "node-a", &k, &ea), *b = start(l, "node-b", &k, &eb);
	struct ip_addr owned[40];

	(void)state;
	for (int i = 0; i < 40; i++)
		assert_int_equal(ip_from_bytes(AF_INET,
					       (uint8_t[]){ 192, 0, 2, (uint8_t)(100 + i) }, 4,
					       &owned[i]),
				 0);
	assert_int_equal(heartbeat_set_owned(b, owned, 40), 0);
	link_pair(a, b);
	pump_until(l, &ea.alive, 1, 2000);
	assert_int_equal(ea.alive, 1);
	assert_int_equal(heartbeat_stats(a)->rejected.n[HEARTBEAT_MALFORMED], 0);
	heartbeat_free(a, false);
	heartbeat_free(b, false);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_speakers_see_each_other_alive),
		cmocka_unit_test(test_a_silent_peer_is_dead_after_misses),
		cmocka_unit_test(test_a_leaving_peer_is_dead_at_once),
		cmocka_unit_test(test_forget_liveness_makes_peers_unknown_until_heard),
		cmocka_unit_test(test_wrong_key_is_rejected_and_counted),
		cmocka_unit_test(test_replayed_datagram_is_rejected),
		cmocka_unit_test(test_unknown_sender_is_counted_not_tracked),
		cmocka_unit_test(test_owned_set_is_accepted),
	};

	return cmocka_run_group_tests_name("heartbeat", tests, NULL, NULL);
}
