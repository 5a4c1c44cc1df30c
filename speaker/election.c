/* Owner election by rendezvous hashing (see election.h for the contract).
 *
 * SipHash-2-4 is used because it is a well-studied keyed hash with good
 * avalanche on short inputs (our input is 5 to 17 address bytes plus a node
 * name), fast enough to score every node for every address on each
 * membership change, and small enough to carry here without a dependency.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "election.h"

#define ROTL64(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = ROTL64(v1, 13);                                                               \
		v1 ^= v0;                                                                          \
		v0 = ROTL64(v0, 32);                                                               \
		v2 += v3;                                                                          \
		v3 = ROTL64(v3, 16);                                                               \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = ROTL64(v3, 21);                                                               \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = ROTL64(v1, 17);                                                               \
		v1 ^= v2;                                                                          \
		v2 = ROTL64(v2, 32);                                                               \
	} while (0)

uint64_t election_siphash24(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = (uint64_t)len << 56;
	size_t full = len - len % 8;

	for (size_t i = 0; i < full; i += 8) {
		uint64_t m = load_le64(in + i);

		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t i = 0; i < len % 8; i++)
		b |= (uint64_t)in[full + i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* Large enough for the family byte, an IPv6 address and any valid node name
 * (a DNS subdomain, at most 253 bytes). */
#define SCORE_BUF 512

uint64_t election_score(const struct ip_addr *a, const char *node)
{
	static const uint8_t key[16] = ELECTION_KEY;
	uint8_t buf[SCORE_BUF];
	size_t alen = a->family == AF_INET ? 4 : a->family == AF_INET6 ? 16 : 0;
	size_t nlen = strlen(node);
	size_t len = 1 + alen;

	buf[0] = a->family == AF_INET ? 4 : a->family == AF_INET6 ? 6 : 0;
	memcpy(buf + 1, a->bytes, alen);
	if (len + nlen <= sizeof(buf)) {
		memcpy(buf + len, node, nlen);
		return election_siphash24(key, buf, len + nlen);
	}
	/* Not a valid node name (longer than any DNS name); still a
	 * deterministic score: hash the name on its own and mix the address
	 * prefix in, so no input is ever truncated into a collision. */
	uint64_t h = election_siphash24(key, node, nlen);

	memcpy(buf + len, &h, sizeof(h));
	return election_siphash24(key, buf, len + sizeof(h));
}

int election_compare(const struct ip_addr *a, const char *x, const char *y)
{
	int c = strcmp(x, y);

	if (c == 0)
		return 0;
	uint64_t sx = election_score(a, x), sy = election_score(a, y);

	if (sx != sy)
		return sx > sy ? -1 : 1;
	return c;
}

bool election_outranks(const struct ip_addr *a, const char *claimant, const char *self)
{
	return election_compare(a, claimant, self) < 0;
}

int election_owner(const struct ip_addr *a, const char *const *nodes, size_t n)
{
	size_t best = 0;
	uint64_t best_score;

	if (n == 0 || !nodes)
		return -ENOENT;
	best_score = election_score(a, nodes[0]);
	for (size_t i = 1; i < n; i++) {
		uint64_t s = election_score(a, nodes[i]);

		if (s > best_score || (s == best_score && strcmp(nodes[i], nodes[best]) < 0)) {
			best = i;
			best_score = s;
		}
	}
	return (int)best;
}

struct rank_ctx {
	const struct ip_addr *a;
	const char *const *nodes;
};

static int rank_cmp(const void *pa, const void *pb, void *arg)
{
	const struct rank_ctx *ctx = arg;
	size_t ia = *(const size_t *)pa, ib = *(const size_t *)pb;
	int c = election_compare(ctx->a, ctx->nodes[ia], ctx->nodes[ib]);

	if (c != 0)
		return c;
	return ia < ib ? -1 : ia > ib ? 1 : 0;
}

int election_rank(const struct ip_addr *a, const char *const *nodes, size_t n, size_t *ret_order)
{
	struct rank_ctx ctx = { .a = a, .nodes = nodes };

	if (n == 0)
		return 0;
	if (!nodes || !ret_order)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		ret_order[i] = i;
	qsort_r(ret_order, n, sizeof(*ret_order), rank_cmp, &ctx);
	return 0;
}

size_t election_position(const struct ip_addr *a, const char *const *nodes, size_t n,
			 const char *node)
{
	size_t above = 0;

	for (size_t i = 0; i < n; i++)
		if (election_compare(a, nodes[i], node) < 0)
			above++;
	return above;
}
