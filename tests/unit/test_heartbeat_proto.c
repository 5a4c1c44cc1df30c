/* Unit tests for speaker/heartbeat_proto.c: the HMAC wiring (RFC 4231 known
 * answers), the key file format, the datagram layout byte by byte, round
 * trips, every truncation and corruption, authentic-but-malformed
 * datagrams, the replay rule and the liveness state machine.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <nettle/sha2.h>

#include "ironlb/addr.h"
#include "../../speaker/heartbeat_proto.h"

#define SENTINEL 0xa5
#define MS 1000ULL
#define S 1000000ULL

static const char KEY_TEXT[] = "0123456789abcdef0123456789abcdef"; /* 32 bytes */

static struct heartbeat_key key(void)
{
	struct heartbeat_key k;

	assert_int_equal(heartbeat_key_parse(KEY_TEXT, strlen(KEY_TEXT), &k, NULL), 0);
	return k;
}

static struct ip_addr ip(const char *s)
{
	struct ip_addr a;

	assert_int_equal(ip_parse(s, &a, NULL), 0);
	return a;
}

static struct heartbeat_msg msg(const char *name, uint64_t inc, uint64_t seq, uint64_t sent_us)
{
	struct heartbeat_msg m;

	memset(&m, 0, sizeof(m));
	m.mac_len = HEARTBEAT_MAC_FULL;
	snprintf(m.name, sizeof(m.name), "%s", name);
	m.incarnation = inc;
	m.seq = seq;
	m.sent_us = sent_us;
	m.interval_ms = 100;
	return m;
}

static size_t encode(const struct heartbeat_msg *m, uint8_t *buf, size_t size)
{
	struct heartbeat_key k = key();
	int n = heartbeat_encode(m, &k, buf, size);

	if (n < 0)
		fail_msg("heartbeat_encode: %d", n);
	return (size_t)n;
}

static void hex(const char *s, uint8_t *out)
{
	for (size_t i = 0; s[2 * i]; i++) {
		unsigned v;

		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

/* ---- HMAC and keys ---- */

static void test_hmac_sha256_matches_rfc4231_case_2(void **state)
{
	static const char data[] = "what do ya want for nothing?";
	uint8_t want[32], got[32];

	(void)state;
	hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", want);
	assert_int_equal(heartbeat_hmac_sha256((const uint8_t *)"Jefe", 4, data, strlen(data), got),
			 0);
	assert_memory_equal(got, want, 32);
}

static void test_hmac_sha256_matches_rfc4231_case_1(void **state)
{
	uint8_t k[20], want[32], got[32];

	(void)state;
	memset(k, 0x0b, sizeof(k));
	hex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", want);
	assert_int_equal(heartbeat_hmac_sha256(k, sizeof(k), "Hi There", 8, got), 0);
	assert_memory_equal(got, want, 32);
}

static void key_rejected(const void *data, size_t len)
{
	struct heartbeat_key k, before;
	const char *why = NULL;

	memset(&k, SENTINEL, sizeof(k));
	before = k;
	assert_int_equal(heartbeat_key_parse(data, len, &k, &why), -EINVAL);
	assert_non_null(why);
	assert_memory_equal(&k, &before, sizeof(k));
}

static void test_key_file_is_raw_bytes_minus_one_newline(void **state)
{
	static const uint8_t binary[16] = { 0, 1, 2,  0,  0xff, '\n', 6,  7,
					    8, 9, 10, 11, 12,	13,   14, 0 };
	struct heartbeat_key k;

	(void)state;
	assert_int_equal(heartbeat_key_parse("0123456789abcdef\n", 17, &k, NULL), 0);
	assert_int_equal(k.len, 16);
	assert_memory_equal(k.bytes, "0123456789abcdef", 16);
	/* Only one newline goes; a second is part of the key. */
	assert_int_equal(heartbeat_key_parse("0123456789abcdef\n\n", 18, &k, NULL), 0);
	assert_int_equal(k.len, 17);
	/* "\r\n" keeps the "\r": no other trimming. */
	assert_int_equal(heartbeat_key_parse("0123456789abcdef\r\n", 18, &k, NULL), 0);
	assert_int_equal(k.len, 17);
	assert_int_equal(k.bytes[16], '\r');
	/* Whitespace and base64 text are just bytes. */
	assert_int_equal(heartbeat_key_parse(" c2VjcmV0LXNlY3JldC1zZWNyZXQ= ", 30, &k, NULL), 0);
	assert_int_equal(k.len, 30);
	/* Binary keys with NUL bytes are fine. */
	assert_int_equal(heartbeat_key_parse(binary, sizeof(binary), &k, NULL), 0);
	assert_int_equal(k.len, 16);
	assert_memory_equal(k.bytes, binary, 16);
	/* Validation only. */
	assert_int_equal(heartbeat_key_parse(binary, sizeof(binary), NULL, NULL), 0);
}

static void test_key_shorter_than_16_bytes_is_refused(void **state)
{
	(void)state;
	key_rejected("", 0);
	key_rejected("\n", 1);
	key_rejected("0123456789abcde", 15);
	key_rejected("0123456789abcde\n", 16);
}

static void test_key_longer_than_1024_bytes_is_refused(void **state)
{
	static uint8_t big[HEARTBEAT_KEY_MAX + 2];
	struct heartbeat_key k;

	(void)state;
	memset(big, 'k', sizeof(big));
	assert_int_equal(heartbeat_key_parse(big, HEARTBEAT_KEY_MAX, &k, NULL), 0);
	assert_int_equal(k.len, HEARTBEAT_KEY_MAX);
	key_rejected(big, HEARTBEAT_KEY_MAX + 1);
	big[HEARTBEAT_KEY_MAX] = '\n';
	assert_int_equal(heartbeat_key_parse(big, HEARTBEAT_KEY_MAX + 1, &k, NULL), 0);
	assert_int_equal(k.len, HEARTBEAT_KEY_MAX);
}

static void test_key_clear_wipes_the_key(void **state)
{
	struct heartbeat_key k = key(), zero;

	(void)state;
	memset(&zero, 0, sizeof(zero));
	heartbeat_key_clear(&k);
	assert_memory_equal(&k, &zero, sizeof(k));
	heartbeat_key_clear(NULL);
}

/* ---- layout ---- */

static void test_datagram_layout_field_by_field(void **state)
{
	/* Everything before the MAC, written out by hand. */
	/* clang-format off */
	static const uint8_t want[] = {
		'I', 'L', 'H', 'B', 1, 0x01, 16, 6,			/* magic, version, flags, mac, name */
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* incarnation */
		0, 0, 0, 0, 0, 0, 0x01, 0x00,			/* seq 256 */
		0x00, 0x06, 0x0a, 0x24, 0x18, 0x1e, 0x40, 0x00, /* sent_us 1.7e15 */
		0x00, 0x64,					/* interval 100 ms */
		0x00, 0x02,					/* two listed */
		0x00, 0x00, 0x00, 0x05,				/* owned_count 5 */
		0x00, 0x00, 0x00, 0x03,				/* listed_offset 3 */
		0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x00, 0x01, /* digest */
		'n', 'o', 'd', 'e', '-', 'a',			/* name */
		4, 192, 0, 2, 10,				/* 192.0.2.10 */
		6, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, /* 2001:db8::1 */
	};
	/* clang-format on */
	struct heartbeat_msg m = msg("node-a", 0x0102030405060708ULL, 256, 1700000000000000ULL);
	struct heartbeat_key k = key();
	uint8_t buf[HEARTBEAT_MAX_LEN], mac[32];
	size_t n;

	(void)state;
	m.flags = HEARTBEAT_FLAG_LEAVING;
	m.mac_len = HEARTBEAT_MAC_SHORT;
	m.n_listed = 2;
	m.owned_count = 5;
	m.listed_offset = 3;
	m.owned_digest = 0xdeadbeef00000001ULL;
	m.listed[0] = ip("192.0.2.10");
	m.listed[1] = ip("2001:db8::1");
	n = encode(&m, buf, sizeof(buf));
	assert_int_equal(n, sizeof(want) + 16);
	assert_memory_equal(buf, want, sizeof(want));
	/* The MAC: HMAC-SHA256 of all that, truncated to 16 bytes. */
	assert_int_equal(heartbeat_hmac_sha256(k.bytes, k.len, want, sizeof(want), mac), 0);
	assert_memory_equal(buf + sizeof(want), mac, 16);
	assert_int_equal(HEARTBEAT_HEADER_LEN, 52);
	assert_int_equal(HEARTBEAT_MAX_LEN, 881);
}

static void check_round_trip(const struct heartbeat_msg *m)
{
	struct heartbeat_key k = key();
	struct heartbeat_msg got;
	uint8_t buf[HEARTBEAT_MAX_LEN], again[HEARTBEAT_MAX_LEN];
	size_t n = encode(m, buf, sizeof(buf));

	assert_true(n <= HEARTBEAT_MAX_LEN);
	memset(&got, SENTINEL, sizeof(got));
	assert_int_equal(heartbeat_decode(buf, n, &k, &got), HEARTBEAT_OK);
	assert_int_equal(got.flags, m->flags);
	assert_int_equal(got.mac_len, m->mac_len);
	assert_string_equal(got.name, m->name);
	assert_true(got.incarnation == m->incarnation);
	assert_true(got.seq == m->seq);
	assert_true(got.sent_us == m->sent_us);
	assert_int_equal(got.interval_ms, m->interval_ms);
	assert_int_equal(got.n_listed, m->n_listed);
	assert_int_equal(got.owned_count, m->owned_count);
	assert_int_equal(got.listed_offset, m->listed_offset);
	assert_true(got.owned_digest == m->owned_digest);
	for (unsigned i = 0; i < m->n_listed; i++)
		assert_true(ip_equal(&got.listed[i], &m->listed[i]));
	/* Canonical: re-encoding gives the same bytes. */
	assert_int_equal(heartbeat_encode(&got, &k, again, sizeof(again)), (int)n);
	assert_memory_equal(buf, again, n);
}

static void test_round_trip_minimal(void **state)
{
	struct heartbeat_msg m = msg("a", 1, 1, 0);

	(void)state;
	check_round_trip(&m);
	m.mac_len = HEARTBEAT_MAC_SHORT;
	check_round_trip(&m);
}

static void test_round_trip_full_list_longest_name(void **state)
{
	struct heartbeat_msg m = msg("", UINT64_MAX, UINT64_MAX, UINT64_MAX);
	uint8_t buf[HEARTBEAT_MAX_LEN];

	(void)state;
	/* 253 bytes: labels of 63 with dots, the longest DNS name. */
	for (int i = 0; i < HEARTBEAT_NAME_MAX; i++)
		m.name[i] = (i % 64 == 63) ? '.' : (char)('a' + i % 26);
	m.name[HEARTBEAT_NAME_MAX] = '\0';
	m.interval_ms = HEARTBEAT_INTERVAL_MAX_MS;
	m.flags = 0xfe; /* reserved bits survive */
	m.owned_count = UINT32_MAX;
	m.listed_offset = UINT32_MAX - HEARTBEAT_LIST_MAX;
	m.owned_digest = 12345;
	m.n_listed = HEARTBEAT_LIST_MAX;
	for (int i = 0; i < HEARTBEAT_LIST_MAX; i++)
		ip_from_u128(AF_INET6, ((ip_u128)0x20010db8u << 96) + (ip_u128)i, &m.listed[i]);
	check_round_trip(&m);
	assert_int_equal(encode(&m, buf, sizeof(buf)), HEARTBEAT_MAX_LEN);
}

static void test_round_trip_mixed_families(void **state)
{
	struct heartbeat_msg m = msg("worker-1.example.com", 42, 7, 1234567);
	const struct ip_addr all[] = { ip("192.0.2.1"), ip("192.0.2.200"), ip("198.51.100.7"),
				       ip("2001:db8::1"), ip("2001:db8::ffff") };

	(void)state;
	m.owned_count = 5;
	m.n_listed = 5;
	memcpy(m.listed, all, sizeof(all));
	m.owned_digest = heartbeat_owned_digest(all, 5);
	check_round_trip(&m);
}

/* ---- rejections ---- */

static void test_every_truncation_is_rejected(void **state)
{
	struct heartbeat_msg m = msg("node-a", 9, 9, 9);
	struct heartbeat_key k = key();
	struct heartbeat_msg got, before;
	uint8_t buf[HEARTBEAT_MAX_LEN];
	size_t n;

	(void)state;
	m.owned_count = 2;
	m.n_listed = 2;
	m.owned_digest = 1;
	m.listed[0] = ip("192.0.2.1");
	m.listed[1] = ip("2001:db8::1");
	n = encode(&m, buf, sizeof(buf));
	memset(&got, SENTINEL, sizeof(got));
	before = got;
	for (size_t len = 0; len < n; len++) {
		enum heartbeat_result r = heartbeat_decode(buf, len, &k, &got);

		if (r != HEARTBEAT_TOO_SHORT && r != HEARTBEAT_BAD_MAC)
			fail_msg("truncated to %zu: %s", len, heartbeat_result_str(r));
		assert_memory_equal(&got, &before, sizeof(got));
	}
	assert_int_equal(heartbeat_decode(buf, HEARTBEAT_MIN_LEN - 1, &k, &got),
			 HEARTBEAT_TOO_SHORT);
	/* Cut inside the name, as the header declares it. */
	assert_int_equal(heartbeat_decode(buf, HEARTBEAT_HEADER_LEN + 3 + 16, &k, &got),
			 HEARTBEAT_TOO_SHORT);
}

static void test_every_bit_flip_is_rejected(void **state)
{
	struct heartbeat_msg m = msg("node-a", 9, 9, 9);
	struct heartbeat_key k = key();
	uint8_t buf[HEARTBEAT_MAX_LEN];
	size_t n;

	(void)state;
	m.owned_count = 1;
	m.n_listed = 1;
	m.owned_digest = 1;
	m.listed[0] = ip("2001:db8::1");
	n = encode(&m, buf, sizeof(buf));
	for (size_t i = 0; i < n; i++) {
		for (int b = 0; b < 8; b++) {
			enum heartbeat_result r;

			buf[i] ^= (uint8_t)(1 << b);
			r = heartbeat_decode(buf, n, &k, NULL);
			if (r == HEARTBEAT_OK)
				fail_msg("flip of byte %zu bit %d accepted", i, b);
			if (i < 4)
				assert_int_equal(r, HEARTBEAT_BAD_MAGIC);
			else if (i == 4)
				assert_int_equal(r, HEARTBEAT_BAD_VERSION);
			buf[i] ^= (uint8_t)(1 << b);
		}
	}
	assert_int_equal(heartbeat_decode(buf, n, &k, NULL), HEARTBEAT_OK);
}

static void test_wrong_key_and_extra_bytes_fail_the_mac(void **state)
{
	struct heartbeat_msg m = msg("node-a", 9, 9, 9);
	struct heartbeat_key other, k = key();
	uint8_t buf[HEARTBEAT_MAX_LEN + 1];
	size_t n;

	(void)state;
	n = encode(&m, buf, sizeof(buf));
	assert_int_equal(heartbeat_key_parse("fedcba9876543210", 16, &other, NULL), 0);
	assert_int_equal(heartbeat_decode(buf, n, &other, NULL), HEARTBEAT_BAD_MAC);
	assert_int_equal(heartbeat_decode(buf, n, NULL, NULL), HEARTBEAT_BAD_MAC);
	buf[n] = 0;
	assert_int_equal(heartbeat_decode(buf, n + 1, &other, NULL), HEARTBEAT_BAD_MAC);
	/* A short MAC cannot be passed off by cutting a full one. */
	buf[6] = HEARTBEAT_MAC_SHORT;
	assert_int_equal(heartbeat_decode(buf, n - 16, &k, NULL), HEARTBEAT_BAD_MAC);
}

/* Signs body[0..len) with the test key and decodes it: authentic datagrams
 * whose content is wrong. */
static enum heartbeat_result decode_signed(uint8_t *body, size_t len)
{
	struct heartbeat_key k = key();
	uint8_t mac[32];

	assert_int_equal(heartbeat_hmac_sha256(k.bytes, k.len, body, len, mac), 0);
	memcpy(body + len, mac, body[6]);
	return heartbeat_decode(body, len + body[6], &k, NULL);
}

/* A valid unsigned body: header, name "node-a", entries as given. */
static size_t body(uint8_t *b, const uint8_t *entries, size_t entries_len, uint16_t n_listed,
		   uint32_t owned)
{
	/* clang-format off */
	static const uint8_t head[] = {'I', 'L', 'H', 'B', 1, 0, 32, 6, 0, 0, 0, 0, 0, 0, 0, 1,
				       0,   0,   0,   0,   0, 0, 0,  1, 0, 0, 0, 0, 0, 0, 0, 0,
				       0,   100};
	/* clang-format on */
	size_t off = sizeof(head);

	memset(b, 0, HEARTBEAT_MAX_LEN + 64);
	memcpy(b, head, sizeof(head));
	b[34] = (uint8_t)(n_listed >> 8);
	b[35] = (uint8_t)n_listed;
	b[39] = (uint8_t)owned;
	b[51] = owned ? 1 : 0; /* digest: non-zero only with owned addresses */
	off = HEARTBEAT_HEADER_LEN;
	memcpy(b + off, "node-a", 6);
	off += 6;
	if (entries_len)
		memcpy(b + off, entries, entries_len);
	return off + entries_len;
}

static void test_authentic_but_malformed_datagrams_are_rejected(void **state)
{
	static const uint8_t two_v4[] = { 4, 192, 0, 2, 1, 4, 192, 0, 2, 2 };
	static const uint8_t unsorted[] = { 4, 192, 0, 2, 2, 4, 192, 0, 2, 1 };
	static const uint8_t dup[] = { 4, 192, 0, 2, 1, 4, 192, 0, 2, 1 };
	/* clang-format off */
	static const uint8_t v6_before_v4[] = {6, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0,
					       0, 0,    0, 0,    0,    0, 0, 1, 4,
					       192, 0, 2, 1};
	/* clang-format on */
	static const uint8_t bad_tag[] = { 5, 192, 0, 2, 1, 4, 192, 0, 2, 2 };
	static const uint8_t v6_cut[] = { 4, 192, 0, 2, 1, 6, 0x20, 1, 0x0d, 0xb8 };
	uint8_t b[HEARTBEAT_MAX_LEN + 64];
	size_t n;

	(void)state;
	n = body(b, two_v4, sizeof(two_v4), 2, 2);
	assert_int_equal(decode_signed(b, n), HEARTBEAT_OK);

	n = body(b, unsorted, sizeof(unsorted), 2, 2);
	assert_int_equal(decode_signed(b, n), HEARTBEAT_MALFORMED);
	n = body(b, dup, sizeof(dup), 2, 2);
	assert_int_equal(decode_signed(b, n), HEARTBEAT_MALFORMED);
	n = body(b, v6_before_v4, sizeof(v6_before_v4), 2, 2);
	assert_int_equal(decode_signed(b, n), HEARTBEAT_MALFORMED);
	n = body(b, bad_tag, sizeof(bad_tag), 2, 2);
	assert_int_equal(decode_signed(b, n), HEARTBEAT_MALFORMED);
	/* An IPv6 entry cut by the end of the body (declared two entries). */
	n = body(b, v6_cut, sizeof(v6_cut), 2, 2);
	assert_int_equal(decode_signed(b, n), HEARTBEAT_MALFORMED);
	/* One entry declared, two present: a trailing byte run. */
	n = body(b, two_v4, sizeof(two_v4), 1, 2);
	assert_int_equal(decode_signed(b, n), HEARTBEAT_MALFORMED);
	/* Listed past owned_count. */
	n = body(b, two_v4, sizeof(two_v4), 2, 1);
	assert_int_equal(decode_signed(b, n), HEARTBEAT_MALFORMED);
	n = body(b, two_v4, sizeof(two_v4), 2, 3);
	b[43] = 2; /* listed_offset 2 + 2 listed > 3 owned */
	assert_int_equal(decode_signed(b, n), HEARTBEAT_MALFORMED);
	/* Digest without owned addresses. */
	n = body(b, NULL, 0, 0, 0);
	assert_int_equal(decode_signed(b, n), HEARTBEAT_OK);
	b[51] = 1;
	assert_int_equal(decode_signed(b, n), HEARTBEAT_MALFORMED);

	/* Field values. */
	n = body(b, NULL, 0, 0, 0);
	b[15] = 0; /* incarnation 0 */
	assert_int_equal(decode_signed(b, n), HEARTBEAT_MALFORMED);
	n = body(b, NULL, 0, 0, 0);
	b[23] = 0; /* seq 0 */
	assert_int_equal(decode_signed(b, n), HEARTBEAT_MALFORMED);
	n = body(b, NULL, 0, 0, 0);
	b[33] = 0; /* interval 0 */
	assert_int_equal(decode_signed(b, n), HEARTBEAT_MALFORMED);
	n = body(b, NULL, 0, 0, 0);
	b[32] = 0xea;
	b[33] = 0x61; /* 60001 ms */
	assert_int_equal(decode_signed(b, n), HEARTBEAT_MALFORMED);
	b[33] = 0x60; /* 60000 ms */
	assert_int_equal(decode_signed(b, n), HEARTBEAT_OK);
}

static void name_verdict(const char *name, size_t len, enum heartbeat_result want)
{
	uint8_t b[HEARTBEAT_MAX_LEN + 64];
	size_t n = body(b, NULL, 0, 0, 0) - 6;

	memcpy(b + n, name, len);
	b[7] = (uint8_t)len;
	if (decode_signed(b, n + len) != want)
		fail_msg("name \"%.*s\": want %s", (int)len, name, heartbeat_result_str(want));
}

static void test_node_name_must_be_a_dns_subdomain(void **state)
{
	(void)state;
	name_verdict("a", 1, HEARTBEAT_OK);
	name_verdict("worker-1", 8, HEARTBEAT_OK);
	name_verdict("ip-10-0-0-1.ec2.internal", 24, HEARTBEAT_OK);
	name_verdict("0", 1, HEARTBEAT_OK);
	name_verdict("Worker", 6, HEARTBEAT_MALFORMED);
	name_verdict("-a", 2, HEARTBEAT_MALFORMED);
	name_verdict("a-", 2, HEARTBEAT_MALFORMED);
	name_verdict("a.-b", 4, HEARTBEAT_MALFORMED);
	name_verdict("a-.b", 4, HEARTBEAT_MALFORMED);
	name_verdict(".a", 2, HEARTBEAT_MALFORMED);
	name_verdict("a.", 2, HEARTBEAT_MALFORMED);
	name_verdict("a..b", 4, HEARTBEAT_MALFORMED);
	name_verdict("a b", 3, HEARTBEAT_MALFORMED);
	name_verdict("a_b", 3, HEARTBEAT_MALFORMED);
	name_verdict("ab\0", 3, HEARTBEAT_MALFORMED);
	name_verdict("a\0b", 3, HEARTBEAT_MALFORMED);
}

static void test_header_errors_are_reported_before_the_mac(void **state)
{
	struct heartbeat_key k = key();
	uint8_t b[HEARTBEAT_MAX_LEN + 64];
	size_t n = body(b, NULL, 0, 0, 0) + 32;

	(void)state;
	b[6] = 20; /* mac_len neither 16 nor 32 */
	assert_int_equal(heartbeat_decode(b, n, &k, NULL), HEARTBEAT_MALFORMED);
	b[6] = 32;
	b[7] = 0; /* empty name */
	assert_int_equal(heartbeat_decode(b, n, &k, NULL), HEARTBEAT_MALFORMED);
	b[7] = 254; /* name too long */
	assert_int_equal(heartbeat_decode(b, HEARTBEAT_MAX_LEN, &k, NULL), HEARTBEAT_MALFORMED);
	b[7] = 6;
	b[35] = HEARTBEAT_LIST_MAX + 1;
	assert_int_equal(heartbeat_decode(b, HEARTBEAT_MAX_LEN, &k, NULL), HEARTBEAT_MALFORMED);
	b[35] = 0;
	assert_int_equal(heartbeat_decode(b, HEARTBEAT_MAX_LEN + 1, &k, NULL), HEARTBEAT_MALFORMED);
	b[4] = 2;
	assert_int_equal(heartbeat_decode(b, n, &k, NULL), HEARTBEAT_BAD_VERSION);
	b[0] = 'X';
	assert_int_equal(heartbeat_decode(b, n, &k, NULL), HEARTBEAT_BAD_MAGIC);
}

static void test_encode_rejects_invalid_messages_and_small_buffers(void **state)
{
	struct heartbeat_key k = key(), short_key = { .len = 8 };
	struct heartbeat_msg m;
	uint8_t buf[HEARTBEAT_MAX_LEN];
	size_t n;

	(void)state;
	m = msg("node-a", 1, 1, 1);
	n = encode(&m, buf, sizeof(buf));
	assert_int_equal(heartbeat_encode(&m, &k, buf, n - 1), -ENOSPC);
	assert_int_equal(heartbeat_encode(&m, &short_key, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(heartbeat_encode(&m, NULL, buf, sizeof(buf)), -EINVAL);
	m.mac_len = 20;
	assert_int_equal(heartbeat_encode(&m, &k, buf, sizeof(buf)), -EINVAL);
	m = msg("Node-A", 1, 1, 1);
	assert_int_equal(heartbeat_encode(&m, &k, buf, sizeof(buf)), -EINVAL);
	m = msg("", 1, 1, 1);
	assert_int_equal(heartbeat_encode(&m, &k, buf, sizeof(buf)), -EINVAL);
	m = msg("node-a", 0, 1, 1);
	assert_int_equal(heartbeat_encode(&m, &k, buf, sizeof(buf)), -EINVAL);
	m = msg("node-a", 1, 0, 1);
	assert_int_equal(heartbeat_encode(&m, &k, buf, sizeof(buf)), -EINVAL);
	m = msg("node-a", 1, 1, 1);
	memset(m.name, 'a', sizeof(m.name)); /* not terminated */
	assert_int_equal(heartbeat_encode(&m, &k, buf, sizeof(buf)), -EINVAL);
	m = msg("node-a", 1, 1, 1);
	m.n_listed = 1;
	m.owned_count = 1;
	m.listed[0].family = AF_UNIX;
	assert_int_equal(heartbeat_encode(&m, &k, buf, sizeof(buf)), -EINVAL);
	m.listed[0] = ip("192.0.2.1");
	m.listed[0].bytes[4] = 1; /* not a clean IPv4 ip_addr */
	assert_int_equal(heartbeat_encode(&m, &k, buf, sizeof(buf)), -EINVAL);
}

/* ---- digest and pages ---- */

static void test_owned_digest_is_order_independent_sum_of_sha256(void **state)
{
	const struct ip_addr a[] = { ip("192.0.2.10"), ip("2001:db8::7"), ip("198.51.100.1") };
	const struct ip_addr b[] = { a[2], a[0], a[1] };
	static const uint8_t in[] = { 4, 192, 0, 2, 10 };
	uint8_t md[32];
	struct sha256_ctx ctx;
	uint64_t want = 0;

	(void)state;
	assert_true(heartbeat_owned_digest(NULL, 0) == 0);
	sha256_init(&ctx);
	sha256_update(&ctx, sizeof(in), in);
	sha256_digest(&ctx, sizeof(md), md);
	for (int i = 0; i < 8; i++)
		want = want << 8 | md[i];
	assert_true(heartbeat_owned_digest(a, 1) == want);
	assert_true(heartbeat_owned_digest(a, 3) == heartbeat_owned_digest(b, 3));
	assert_true(heartbeat_owned_digest(a, 3) != heartbeat_owned_digest(a, 2));
	assert_true(heartbeat_owned_digest(a, 3) ==
		    heartbeat_owned_digest(a, 2) + heartbeat_owned_digest(a + 2, 1));
}

static void test_list_pages_cover_the_owned_set(void **state)
{
	uint16_t n;
	bool seen[70] = { false };

	(void)state;
	assert_int_equal(heartbeat_list_page(0, 5, &n), 0);
	assert_int_equal(n, 0);
	for (uint64_t seq = 1; seq < 10; seq++) {
		assert_int_equal(heartbeat_list_page(10, seq, &n), 0);
		assert_int_equal(n, 10);
	}
	/* 70 addresses: three pages (32, 32, 6), all seen in 3 heartbeats. */
	for (uint64_t seq = 100; seq < 103; seq++) {
		uint32_t off = heartbeat_list_page(70, seq, &n);

		assert_true(n == 32 || (off == 64 && n == 6));
		for (uint32_t i = off; i < off + n; i++)
			seen[i] = true;
	}
	for (int i = 0; i < 70; i++)
		assert_true(seen[i]);
	assert_int_equal(heartbeat_list_page(UINT32_MAX, UINT64_MAX, &n) + n, UINT32_MAX);
}

static void test_result_names_and_counters(void **state)
{
	struct heartbeat_counters c = { { 0 } };

	(void)state;
	assert_string_equal(heartbeat_result_str(HEARTBEAT_OK), "ok");
	assert_string_equal(heartbeat_result_str(HEARTBEAT_TOO_SHORT), "too_short");
	assert_string_equal(heartbeat_result_str(HEARTBEAT_BAD_MAGIC), "bad_magic");
	assert_string_equal(heartbeat_result_str(HEARTBEAT_BAD_VERSION), "bad_version");
	assert_string_equal(heartbeat_result_str(HEARTBEAT_MALFORMED), "malformed");
	assert_string_equal(heartbeat_result_str(HEARTBEAT_BAD_MAC), "bad_mac");
	assert_string_equal(heartbeat_result_str(HEARTBEAT_REPLAY), "replay");
	assert_string_equal(heartbeat_result_str(HEARTBEAT_RESULT_MAX), "unknown");
	heartbeat_counters_add(&c, HEARTBEAT_BAD_MAC);
	heartbeat_counters_add(&c, HEARTBEAT_BAD_MAC);
	heartbeat_counters_add(&c, HEARTBEAT_REPLAY);
	heartbeat_counters_add(&c, HEARTBEAT_RESULT_MAX); /* ignored */
	assert_int_equal(c.n[HEARTBEAT_BAD_MAC], 2);
	assert_int_equal(c.n[HEARTBEAT_REPLAY], 1);
	assert_int_equal(c.n[HEARTBEAT_OK], 0);
	assert_string_equal(heartbeat_liveness_str(HEARTBEAT_PEER_ALIVE), "alive");
	assert_string_equal(heartbeat_liveness_str(HEARTBEAT_PEER_DEAD), "dead");
	assert_string_equal(heartbeat_liveness_str(HEARTBEAT_PEER_UNKNOWN), "unknown");
}

/* ---- replay ---- */

static const struct heartbeat_params params = HEARTBEAT_PARAMS_DEFAULT;

static enum heartbeat_result receive(struct heartbeat_peer *p, uint64_t inc, uint64_t seq,
				     uint64_t sent_us, uint64_t now_us, unsigned *ev)
{
	struct heartbeat_msg m = msg("peer", inc, seq, sent_us);

	return heartbeat_peer_receive(p, &m, now_us, &params, ev);
}

static void test_replay_same_incarnation_needs_a_higher_seq(void **state)
{
	struct heartbeat_peer p, before;
	unsigned ev;

	(void)state;
	heartbeat_peer_init(&p);
	assert_int_equal(receive(&p, 7, 10, 1000 * S, 0, &ev), HEARTBEAT_OK);
	assert_int_equal(ev, HEARTBEAT_BECAME_ALIVE);
	before = p;
	assert_int_equal(receive(&p, 7, 10, 1000 * S, 50 * MS, &ev), HEARTBEAT_REPLAY);
	assert_int_equal(ev, 0);
	assert_int_equal(receive(&p, 7, 9, 1001 * S, 50 * MS, &ev), HEARTBEAT_REPLAY);
	assert_int_equal(receive(&p, 7, 1, 1001 * S, 50 * MS, &ev), HEARTBEAT_REPLAY);
	/* Rejections leave the state alone. */
	assert_memory_equal(&p, &before, sizeof(p));
	/* Gaps are fine (lost datagrams); the timestamp does not matter. */
	assert_int_equal(receive(&p, 7, 15, 999 * S, 100 * MS, &ev), HEARTBEAT_OK);
	assert_int_equal(ev, 0);
	assert_true(p.seq == 15);
	assert_int_equal(receive(&p, 7, 15, 999 * S, 200 * MS, &ev), HEARTBEAT_REPLAY);
}

static void test_check_does_not_change_the_peer(void **state)
{
	struct heartbeat_peer p, before;
	struct heartbeat_msg m = msg("peer", 7, 2, 5);

	(void)state;
	heartbeat_peer_init(&p);
	assert_int_equal(receive(&p, 7, 1, 5, 0, NULL), HEARTBEAT_OK);
	before = p;
	assert_int_equal(heartbeat_peer_check(&p, &m, 10, &params), HEARTBEAT_OK);
	assert_memory_equal(&p, &before, sizeof(p));
}

static void test_restarted_peer_is_accepted_at_once(void **state)
{
	struct heartbeat_peer p;
	unsigned ev;

	(void)state;
	heartbeat_peer_init(&p);
	assert_int_equal(receive(&p, 0xaaaa, 500, 1000 * S, 0, &ev), HEARTBEAT_OK);
	/* New process: new random incarnation, seq from 1, clock moved on. */
	assert_int_equal(receive(&p, 0xbbbb, 1, 1000 * S + 800 * MS, 10 * MS, &ev), HEARTBEAT_OK);
	assert_int_equal(ev, HEARTBEAT_NEW_INCARNATION);
	assert_true(p.incarnation == 0xbbbb);
	assert_true(p.restarts == 1);
	assert_int_equal(receive(&p, 0xbbbb, 2, 1000 * S + 900 * MS, 20 * MS, &ev), HEARTBEAT_OK);
}

static void test_old_incarnation_is_never_accepted_again(void **state)
{
	struct heartbeat_peer p;

	(void)state;
	heartbeat_peer_init(&p);
	assert_int_equal(receive(&p, 0xaaaa, 500, 1000 * S, 0, NULL), HEARTBEAT_OK);
	assert_int_equal(receive(&p, 0xbbbb, 1, 1001 * S, 10 * MS, NULL), HEARTBEAT_OK);
	/* A recording of the earlier life, however new its seq and however
	 * late we see it. */
	assert_int_equal(receive(&p, 0xaaaa, 501, 1000 * S + 100 * MS, 20 * MS, NULL),
			 HEARTBEAT_REPLAY);
	assert_int_equal(receive(&p, 0xaaaa, 501, 1000 * S + 100 * MS, 3600 * S, NULL),
			 HEARTBEAT_REPLAY);
	assert_true(p.incarnation == 0xbbbb);
}

static void test_recording_of_an_unseen_older_life_is_rejected(void **state)
{
	struct heartbeat_peer p;

	(void)state;
	heartbeat_peer_init(&p);
	/* We first hear the peer's current life ... */
	assert_int_equal(receive(&p, 0xcccc, 40, 2000 * S, 0, NULL), HEARTBEAT_OK);
	/* ... then someone replays a life from before it (we never saw it):
	 * its timestamps are older. */
	assert_int_equal(receive(&p, 0x1111, 900, 1500 * S, 100 * MS, NULL), HEARTBEAT_REPLAY);
	assert_int_equal(receive(&p, 0x1111, 901, 2000 * S, 200 * MS, NULL), HEARTBEAT_REPLAY);
	assert_true(p.incarnation == 0xcccc);
	assert_true(p.restarts == 0);
}

static void test_peer_whose_clock_went_back_is_accepted_after_forget_time(void **state)
{
	struct heartbeat_peer p;
	unsigned ev;

	(void)state;
	heartbeat_peer_init(&p);
	assert_int_equal(receive(&p, 0xaaaa, 10, 1000 * S, 0, NULL), HEARTBEAT_OK);
	/* Restarted with its clock 60 s behind. */
	assert_int_equal(receive(&p, 0xbbbb, 1, 940 * S, 1 * S, NULL), HEARTBEAT_REPLAY);
	assert_int_equal(receive(&p, 0xbbbb, 50, 945 * S, params.forget_us - 1, NULL),
			 HEARTBEAT_REPLAY);
	assert_int_equal(receive(&p, 0xbbbb, 51, 946 * S, params.forget_us, &ev), HEARTBEAT_OK);
	assert_int_equal(ev & HEARTBEAT_NEW_INCARNATION, HEARTBEAT_NEW_INCARNATION);
	/* The earlier life, clock ahead, is retired for good. */
	assert_int_equal(receive(&p, 0xaaaa, 11, 1001 * S, params.forget_us + 1, NULL),
			 HEARTBEAT_REPLAY);
}

static void test_retired_incarnations_are_remembered_in_a_ring(void **state)
{
	struct heartbeat_peer p;

	(void)state;
	heartbeat_peer_init(&p);
	for (uint64_t inc = 1; inc <= 6; inc++)
		assert_int_equal(receive(&p, inc, 1, inc * S, inc * MS, NULL), HEARTBEAT_OK);
	assert_int_equal(p.n_retired, 5);
	assert_true(p.restarts == 5);
	/* 2..5 are in the ring; even after the forget time they stay out. */
	for (uint64_t inc = 2; inc <= 5; inc++)
		assert_int_equal(receive(&p, inc, 99, 100 * S, 3600 * S, NULL), HEARTBEAT_REPLAY);
	/* 1 fell out of the ring: the timestamp rule still rejects it while
	 * the peer is heard... */
	assert_int_equal(receive(&p, 1, 99, 1 * S, 7 * MS, NULL), HEARTBEAT_REPLAY);
}

/* ---- liveness ---- */

static void test_peer_dies_after_misses_intervals(void **state)
{
	struct heartbeat_peer p;
	unsigned ev;

	(void)state;
	heartbeat_peer_init(&p);
	assert_int_equal(p.liveness, HEARTBEAT_PEER_UNKNOWN);
	assert_true(heartbeat_peer_deadline(&p, &params) == UINT64_MAX);
	assert_int_equal(heartbeat_peer_tick(&p, 10 * S, &params), 0);
	assert_int_equal(receive(&p, 1, 1, 0, 1 * S, &ev), HEARTBEAT_OK);
	assert_int_equal(ev, HEARTBEAT_BECAME_ALIVE);
	assert_int_equal(p.liveness, HEARTBEAT_PEER_ALIVE);
	/* 100 ms interval, 3 misses: dead at 1.3 s, not a microsecond before. */
	assert_true(heartbeat_peer_deadline(&p, &params) == 1 * S + 300 * MS);
	assert_int_equal(heartbeat_peer_tick(&p, 1 * S + 300 * MS - 1, &params), 0);
	assert_int_equal(p.liveness, HEARTBEAT_PEER_ALIVE);
	assert_int_equal(heartbeat_peer_tick(&p, 1 * S + 300 * MS, &params), HEARTBEAT_BECAME_DEAD);
	assert_int_equal(p.liveness, HEARTBEAT_PEER_DEAD);
	assert_true(heartbeat_peer_deadline(&p, &params) == UINT64_MAX);
	assert_int_equal(heartbeat_peer_tick(&p, 5 * S, &params), 0);
	/* Back again. */
	assert_int_equal(receive(&p, 1, 2, 0, 6 * S, &ev), HEARTBEAT_OK);
	assert_int_equal(ev, HEARTBEAT_BECAME_ALIVE);
}

static void test_steady_heartbeats_keep_peer_alive(void **state)
{
	struct heartbeat_peer p;
	unsigned ev;

	(void)state;
	heartbeat_peer_init(&p);
	for (uint64_t i = 1; i <= 1000; i++) {
		/* Two of every three lost: still within 3 intervals. */
		if (i % 3 == 0) {
			assert_int_equal(receive(&p, 5, i, i, i * 100 * MS, &ev), HEARTBEAT_OK);
			assert_int_equal(ev, i == 3 ? HEARTBEAT_BECAME_ALIVE : 0);
		}
		assert_int_equal(heartbeat_peer_tick(&p, i * 100 * MS + 50 * MS, &params), 0);
	}
}

static void test_deadline_uses_the_peers_interval_and_misses(void **state)
{
	struct heartbeat_peer p;
	struct heartbeat_params five = { .misses = 5, .forget_us = 10 * S };
	struct heartbeat_msg m = msg("peer", 1, 1, 1);

	(void)state;
	heartbeat_peer_init(&p);
	m.interval_ms = 1000;
	assert_int_equal(heartbeat_peer_receive(&p, &m, 2 * S, &five, NULL), HEARTBEAT_OK);
	assert_true(heartbeat_peer_deadline(&p, &five) == 7 * S);
	assert_true(heartbeat_peer_deadline(&p, &params) == 5 * S);
	assert_int_equal(heartbeat_peer_tick(&p, 6 * S, &five), 0);
	assert_int_equal(heartbeat_peer_tick(&p, 7 * S, &five), HEARTBEAT_BECAME_DEAD);
}

static void test_leaving_peer_is_dead_at_once(void **state)
{
	struct heartbeat_peer p;
	struct heartbeat_msg m = msg("peer", 1, 2, 2);
	unsigned ev;

	(void)state;
	heartbeat_peer_init(&p);
	assert_int_equal(receive(&p, 1, 1, 1, 0, &ev), HEARTBEAT_OK);
	m.flags = HEARTBEAT_FLAG_LEAVING;
	assert_int_equal(heartbeat_peer_receive(&p, &m, 50 * MS, &params, &ev), HEARTBEAT_OK);
	assert_int_equal(ev, HEARTBEAT_BECAME_DEAD);
	assert_int_equal(p.liveness, HEARTBEAT_PEER_DEAD);
	assert_true(p.leaving);
	assert_true(heartbeat_peer_deadline(&p, &params) == UINT64_MAX);
	/* The goodbye replayed changes nothing; the restarted process is
	 * welcome. */
	assert_int_equal(heartbeat_peer_receive(&p, &m, 60 * MS, &params, &ev), HEARTBEAT_REPLAY);
	assert_int_equal(receive(&p, 2, 1, 3 * S, 2 * S, &ev), HEARTBEAT_OK);
	assert_int_equal(ev, HEARTBEAT_BECAME_ALIVE | HEARTBEAT_NEW_INCARNATION);
	assert_false(p.leaving);
}

static void test_replayed_heartbeat_does_not_revive_a_dead_peer(void **state)
{
	struct heartbeat_peer p;
	struct heartbeat_key k = key();
	struct heartbeat_msg m = msg("peer", 77, 1, 1000 * S), got;
	uint8_t rec[HEARTBEAT_MAX_LEN];
	size_t n;
	unsigned ev;

	(void)state;
	heartbeat_peer_init(&p);
	n = encode(&m, rec, sizeof(rec)); /* recorded by an attacker */
	assert_int_equal(heartbeat_decode(rec, n, &k, &got), HEARTBEAT_OK);
	assert_int_equal(heartbeat_peer_receive(&p, &got, 0, &params, &ev), HEARTBEAT_OK);
	assert_int_equal(heartbeat_peer_tick(&p, 1 * S, &params), HEARTBEAT_BECAME_DEAD);
	assert_int_equal(heartbeat_decode(rec, n, &k, &got), HEARTBEAT_OK);
	assert_int_equal(heartbeat_peer_receive(&p, &got, 2 * S, &params, &ev), HEARTBEAT_REPLAY);
	assert_int_equal(p.liveness, HEARTBEAT_PEER_DEAD);
}

static void test_first_contact_is_accepted(void **state)
{
	struct heartbeat_peer p = { 0 };
	unsigned ev;

	(void)state;
	/* Zero-initialised is "never heard"; any authentic datagram is taken. */
	assert_int_equal(receive(&p, 3, 1234, 0, 0, &ev), HEARTBEAT_OK);
	assert_int_equal(ev, HEARTBEAT_BECAME_ALIVE);
	assert_true(p.restarts == 0);
}

int main(void)
{
	const struct CMUnitTest heartbeat_tests[] = {
		cmocka_unit_test(test_hmac_sha256_matches_rfc4231_case_2),
		cmocka_unit_test(test_hmac_sha256_matches_rfc4231_case_1),
		cmocka_unit_test(test_key_file_is_raw_bytes_minus_one_newline),
		cmocka_unit_test(test_key_shorter_than_16_bytes_is_refused),
		cmocka_unit_test(test_key_longer_than_1024_bytes_is_refused),
		cmocka_unit_test(test_key_clear_wipes_the_key),
		cmocka_unit_test(test_datagram_layout_field_by_field),
		cmocka_unit_test(test_round_trip_minimal),
		cmocka_unit_test(test_round_trip_full_list_longest_name),
		cmocka_unit_test(test_round_trip_mixed_families),
		cmocka_unit_test(test_every_truncation_is_rejected),
		cmocka_unit_test(test_every_bit_flip_is_rejected),
		cmocka_unit_test(test_wrong_key_and_extra_bytes_fail_the_mac),
		cmocka_unit_test(test_authentic_but_malformed_datagrams_are_rejected),
		cmocka_unit_test(test_node_name_must_be_a_dns_subdomain),
		cmocka_unit_test(test_header_errors_are_reported_before_the_mac),
		cmocka_unit_test(test_encode_rejects_invalid_messages_and_small_buffers),
		cmocka_unit_test(test_owned_digest_is_order_independent_sum_of_sha256),
		cmocka_unit_test(test_list_pages_cover_the_owned_set),
		cmocka_unit_test(test_result_names_and_counters),
		cmocka_unit_test(test_replay_same_incarnation_needs_a_higher_seq),
		cmocka_unit_test(test_check_does_not_change_the_peer),
		cmocka_unit_test(test_restarted_peer_is_accepted_at_once),
		cmocka_unit_test(test_old_incarnation_is_never_accepted_again),
		cmocka_unit_test(test_recording_of_an_unseen_older_life_is_rejected),
		cmocka_unit_test(test_peer_whose_clock_went_back_is_accepted_after_forget_time),
		cmocka_unit_test(test_retired_incarnations_are_remembered_in_a_ring),
		cmocka_unit_test(test_peer_dies_after_misses_intervals),
		cmocka_unit_test(test_steady_heartbeats_keep_peer_alive),
		cmocka_unit_test(test_deadline_uses_the_peers_interval_and_misses),
		cmocka_unit_test(test_leaving_peer_is_dead_at_once),
		cmocka_unit_test(test_replayed_heartbeat_does_not_revive_a_dead_peer),
		cmocka_unit_test(test_first_contact_is_accepted),
	};

	return cmocka_run_group_tests(heartbeat_tests, NULL, NULL);
}
