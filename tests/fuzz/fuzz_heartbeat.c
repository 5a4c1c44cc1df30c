/* libFuzzer target for speaker/heartbeat_proto.c.
 *
 * Each input is used three ways:
 *   - as a key file: heartbeat_key_parse accepts exactly the inputs of 16 to
 *     1024 bytes once one trailing newline is dropped;
 *   - as a received datagram under a fixed key: it must decode to a known
 *     result, and a datagram that decodes must re-encode to the same bytes;
 *   - as a datagram body that the fuzzer cannot sign itself: we append the
 *     correct HMAC, so the checks behind the MAC (name, list, lengths, field
 *     ranges) get fuzzed too. Whatever decodes re-encodes byte for byte, is
 *     accepted once by a fresh peer and then rejected as a replay, and
 *     makes the peer alive until exactly misses intervals later (or dead at
 *     once if it says LEAVING).
 * Violations abort().
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ironlb/addr.h"
#include "../../speaker/heartbeat_proto.h"

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_heartbeat: %s\n", what);
		abort();
	}
}

static const struct heartbeat_key *fuzz_key(void)
{
	static struct heartbeat_key k;
	static bool ready;

	if (!ready) {
		check(heartbeat_key_parse("fuzzing-key-0123456789", 22, &k, NULL) == 0, "key");
		ready = true;
	}
	return &k;
}

static void check_key_parse(const uint8_t *data, size_t size)
{
	struct heartbeat_key k;
	const char *why = NULL;
	size_t want = size > 0 && data[size - 1] == '\n' ? size - 1 : size;
	int r = heartbeat_key_parse(data, size, &k, &why);

	if (want >= HEARTBEAT_KEY_MIN && want <= HEARTBEAT_KEY_MAX) {
		check(r == 0 && k.len == want && memcmp(k.bytes, data, want) == 0, "key refused");
	} else {
		check(r == -EINVAL && why != NULL, "bad key accepted");
	}
}

/* A decoded datagram: canonical encoding, replay rule, liveness. */
static void check_decoded(const struct heartbeat_msg *m, const uint8_t *wire, size_t len)
{
	static uint8_t again[HEARTBEAT_MAX_LEN];
	const struct heartbeat_params params = HEARTBEAT_PARAMS_DEFAULT;
	struct heartbeat_peer p;
	unsigned ev = 0;
	uint64_t deadline;

	check(heartbeat_encode(m, fuzz_key(), again, sizeof(again)) == (int)len,
	      "re-encoded length differs");
	check(memcmp(again, wire, len) == 0, "re-encoded bytes differ");
	check(m->n_listed <= HEARTBEAT_LIST_MAX, "list too long");
	check(strlen(m->name) >= 1 && strlen(m->name) <= HEARTBEAT_NAME_MAX, "name length");

	heartbeat_peer_init(&p);
	check(heartbeat_peer_receive(&p, m, 1000, &params, &ev) == HEARTBEAT_OK,
	      "first contact refused");
	check(heartbeat_peer_receive(&p, m, 2000, &params, NULL) == HEARTBEAT_REPLAY,
	      "replay accepted");
	if (m->flags & HEARTBEAT_FLAG_LEAVING) {
		check(ev == 0 && p.liveness == HEARTBEAT_PEER_DEAD, "leaving peer not dead");
		check(heartbeat_peer_deadline(&p, &params) == UINT64_MAX, "dead peer has deadline");
		return;
	}
	check(ev == HEARTBEAT_BECAME_ALIVE && p.liveness == HEARTBEAT_PEER_ALIVE, "not alive");
	deadline = 1000 + (uint64_t)params.misses * m->interval_ms * 1000;
	check(heartbeat_peer_deadline(&p, &params) == deadline, "deadline");
	check(heartbeat_peer_tick(&p, deadline - 1, &params) == 0, "died early");
	check(heartbeat_peer_tick(&p, deadline, &params) == HEARTBEAT_BECAME_DEAD, "did not die");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t signed_buf[HEARTBEAT_MAX_LEN + 64];
	struct heartbeat_msg m;
	enum heartbeat_result r;

	check_key_parse(data, size);

	r = heartbeat_decode(data, size, fuzz_key(), &m);
	check((unsigned)r < HEARTBEAT_RESULT_MAX, "result out of range");
	if (r == HEARTBEAT_OK)
		check_decoded(&m, data, size);

	if (size >= 7 && size + HEARTBEAT_MAC_FULL <= sizeof(signed_buf)) {
		size_t mac_len =
			data[6] == HEARTBEAT_MAC_SHORT ? HEARTBEAT_MAC_SHORT : HEARTBEAT_MAC_FULL;
		uint8_t mac[32];
		const struct heartbeat_key *k = fuzz_key();

		memcpy(signed_buf, data, size);
		check(heartbeat_hmac_sha256(k->bytes, k->len, signed_buf, size, mac) == 0, "hmac");
		memcpy(signed_buf + size, mac, mac_len);
		r = heartbeat_decode(signed_buf, size + mac_len, k, &m);
		check(r != HEARTBEAT_BAD_MAC || data[6] != mac_len, "correct MAC refused");
		if (r == HEARTBEAT_OK)
			check_decoded(&m, signed_buf, size + mac_len);
	}
	return 0;
}
