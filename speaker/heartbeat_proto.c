/* Heartbeat datagram codec, replay rule and peer liveness (see
 * heartbeat_proto.h for the wire format and docs/l2.md for the reasoning). */
#include <errno.h>
#include <string.h>

#include <nettle/hmac.h>
#include <nettle/sha2.h>

#include "heartbeat_proto.h"

static const char *const result_names[HEARTBEAT_RESULT_MAX] = {
	[HEARTBEAT_OK] = "ok",
	[HEARTBEAT_TOO_SHORT] = "too_short",
	[HEARTBEAT_BAD_MAGIC] = "bad_magic",
	[HEARTBEAT_BAD_VERSION] = "bad_version",
	[HEARTBEAT_MALFORMED] = "malformed",
	[HEARTBEAT_BAD_MAC] = "bad_mac",
	[HEARTBEAT_REPLAY] = "replay",
};

const char *heartbeat_result_str(enum heartbeat_result r)
{
	if ((unsigned)r >= HEARTBEAT_RESULT_MAX)
		return "unknown";
	return result_names[r];
}

void heartbeat_counters_add(struct heartbeat_counters *c, enum heartbeat_result r)
{
	if ((unsigned)r < HEARTBEAT_RESULT_MAX)
		c->n[r]++;
}

/* ---- keys and MACs ---- */

int heartbeat_key_parse(const void *data, size_t len, struct heartbeat_key *ret,
			const char **ret_why)
{
	const uint8_t *p = data;

	if (len > 0 && p[len - 1] == '\n')
		len--;
	if (len < HEARTBEAT_KEY_MIN) {
		if (ret_why)
			*ret_why = "heartbeat key shorter than 16 bytes";
		return -EINVAL;
	}
	if (len > HEARTBEAT_KEY_MAX) {
		if (ret_why)
			*ret_why = "heartbeat key longer than 1024 bytes";
		return -EINVAL;
	}
	if (ret) {
		memcpy(ret->bytes, p, len);
		ret->len = len;
	}
	return 0;
}

void heartbeat_key_clear(struct heartbeat_key *k)
{
	if (!k)
		return;
	explicit_bzero(k, sizeof(*k));
}

/* Equal in time independent of where the first difference is. */
static int mac_differs(const uint8_t *a, const uint8_t *b, size_t len)
{
	volatile uint8_t d = 0;

	for (size_t i = 0; i < len; i++)
		d |= a[i] ^ b[i];
	return d != 0;
}

int heartbeat_hmac_sha256(const uint8_t *key, size_t key_len, const void *data, size_t len,
			  uint8_t ret[32])
{
	struct hmac_sha256_ctx ctx;

	hmac_sha256_set_key(&ctx, key_len, key);
	hmac_sha256_update(&ctx, len, data);
	hmac_sha256_digest(&ctx, SHA256_DIGEST_SIZE, ret);
	explicit_bzero(&ctx, sizeof(ctx));
	return 0;
}

/* ---- owned-set digest and list pages ---- */

static unsigned addr_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

static uint8_t family_tag(int family)
{
	return family == AF_INET ? 4 : 6;
}

uint64_t heartbeat_owned_digest(const struct ip_addr *addrs, size_t n)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t in[17], md[SHA256_DIGEST_SIZE] = { 0 };
		struct sha256_ctx ctx;
		unsigned alen = addr_len(addrs[i].family);
		uint64_t h = 0;

		in[0] = family_tag(addrs[i].family);
		memcpy(in + 1, addrs[i].bytes, alen);
		sha256_init(&ctx);
		sha256_update(&ctx, 1 + alen, in);
		sha256_digest(&ctx, sizeof(md), md);
		for (int b = 0; b < 8; b++)
			h = (h << 8) | md[b];
		sum += h;
	}
	return sum;
}

uint32_t heartbeat_list_page(uint32_t owned_count, uint64_t seq, uint16_t *ret_n)
{
	uint32_t pages =
		(uint32_t)(((uint64_t)owned_count + HEARTBEAT_LIST_MAX - 1) / HEARTBEAT_LIST_MAX);
	uint32_t offset, n;

	if (pages == 0) {
		*ret_n = 0;
		return 0;
	}
	offset = (uint32_t)(seq % pages) * HEARTBEAT_LIST_MAX;
	n = owned_count - offset;
	*ret_n = (uint16_t)(n < HEARTBEAT_LIST_MAX ? n : HEARTBEAT_LIST_MAX);
	return offset;
}

/* ---- codec ---- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static bool is_alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* A Kubernetes node name: a DNS-1123 subdomain, i.e. dot-separated labels
 * of [a-z0-9-] that start and end with [a-z0-9], 1..253 bytes in all. */
static bool name_valid(const char *s, size_t len)
{
	if (len == 0 || len > HEARTBEAT_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool edge = i == 0 || i == len - 1 || s[i - 1] == '.' || s[i + 1] == '.';

		if (c == '.') {
			if (i == 0 || i == len - 1 || s[i - 1] == '.')
				return false;
		} else if (c == '-') {
			if (edge)
				return false;
		} else if (!is_alnum_lower(c)) {
			return false;
		}
	}
	return true;
}

static bool entry_valid(const struct ip_addr *a)
{
	static const uint8_t zero[12];

	if (a->family == AF_INET)
		return memcmp(a->bytes + 4, zero, sizeof(zero)) == 0;
	return a->family == AF_INET6;
}

/* The checks shared by encode (on the caller's message) and decode (on the
 * authenticated datagram). */
static bool msg_valid(const struct heartbeat_msg *m)
{
	size_t nlen = strnlen(m->name, sizeof(m->name));

	if (m->mac_len != HEARTBEAT_MAC_SHORT && m->mac_len != HEARTBEAT_MAC_FULL)
		return false;
	if (nlen == sizeof(m->name) || !name_valid(m->name, nlen))
		return false;
	if (m->incarnation == 0 || m->seq == 0)
		return false;
	if (m->interval_ms == 0 || m->interval_ms > HEARTBEAT_INTERVAL_MAX_MS)
		return false;
	if (m->n_listed > HEARTBEAT_LIST_MAX || m->listed_offset > m->owned_count ||
	    m->n_listed > m->owned_count - m->listed_offset)
		return false;
	if (m->owned_count == 0 && m->owned_digest != 0)
		return false;
	for (unsigned i = 0; i < m->n_listed; i++) {
		if (!entry_valid(&m->listed[i]))
			return false;
		if (i > 0 && ip_cmp(&m->listed[i - 1], &m->listed[i]) >= 0)
			return false;
	}
	return true;
}

int heartbeat_encode(const struct heartbeat_msg *m, const struct heartbeat_key *key, uint8_t *buf,
		     size_t size)
{
	uint8_t mac[32];
	size_t nlen, len, off;

	if (!key || key->len < HEARTBEAT_KEY_MIN || key->len > HEARTBEAT_KEY_MAX || !msg_valid(m))
		return -EINVAL;
	nlen = strlen(m->name);
	len = HEARTBEAT_HEADER_LEN + nlen + m->mac_len;
	for (unsigned i = 0; i < m->n_listed; i++)
		len += 1 + addr_len(m->listed[i].family);
	if (len > size)
		return -ENOSPC;

	memcpy(buf, HEARTBEAT_MAGIC, 4);
	buf[4] = HEARTBEAT_VERSION;
	buf[5] = m->flags;
	buf[6] = m->mac_len;
	buf[7] = (uint8_t)nlen;
	put64(buf + 8, m->incarnation);
	put64(buf + 16, m->seq);
	put64(buf + 24, m->sent_us);
	put16(buf + 32, m->interval_ms);
	put16(buf + 34, m->n_listed);
	put32(buf + 36, m->owned_count);
	put32(buf + 40, m->listed_offset);
	put64(buf + 44, m->owned_digest);
	memcpy(buf + HEARTBEAT_HEADER_LEN, m->name, nlen);
	off = HEARTBEAT_HEADER_LEN + nlen;
	for (unsigned i = 0; i < m->n_listed; i++) {
		unsigned alen = addr_len(m->listed[i].family);

		buf[off++] = family_tag(m->listed[i].family);
		memcpy(buf + off, m->listed[i].bytes, alen);
		off += alen;
	}
	if (heartbeat_hmac_sha256(key->bytes, key->len, buf, off, mac) < 0)
		return -EIO;
	memcpy(buf + off, mac, m->mac_len);
	explicit_bzero(mac, sizeof(mac));
	return (int)len;
}

enum heartbeat_result heartbeat_decode(const uint8_t *buf, size_t len,
				       const struct heartbeat_key *key, struct heartbeat_msg *ret)
{
	struct heartbeat_msg m;
	uint8_t mac[32];
	size_t nlen, mac_len, body, off, need;
	int diff;

	if (len < HEARTBEAT_MIN_LEN)
		return HEARTBEAT_TOO_SHORT;
	if (memcmp(buf, HEARTBEAT_MAGIC, 4) != 0)
		return HEARTBEAT_BAD_MAGIC;
	if (buf[4] != HEARTBEAT_VERSION)
		return HEARTBEAT_BAD_VERSION;
	mac_len = buf[6];
	nlen = buf[7];
	if ((mac_len != HEARTBEAT_MAC_SHORT && mac_len != HEARTBEAT_MAC_FULL) || nlen == 0 ||
	    nlen > HEARTBEAT_NAME_MAX || get16(buf + 34) > HEARTBEAT_LIST_MAX)
		return HEARTBEAT_MALFORMED;
	/* Each listed entry takes at least 5 bytes. */
	need = HEARTBEAT_HEADER_LEN + nlen + (size_t)get16(buf + 34) * 5 + mac_len;
	if (len < need)
		return HEARTBEAT_TOO_SHORT;
	if (len > HEARTBEAT_MAX_LEN)
		return HEARTBEAT_MALFORMED;

	body = len - mac_len;
	if (!key || heartbeat_hmac_sha256(key->bytes, key->len, buf, body, mac) < 0)
		return HEARTBEAT_BAD_MAC;
	diff = mac_differs(mac, buf + body, mac_len);
	explicit_bzero(mac, sizeof(mac));
	if (diff != 0)
		return HEARTBEAT_BAD_MAC;

	/* Authentic from here on; anything odd is a sender bug. */
	memset(&m, 0, sizeof(m));
	m.flags = buf[5];
	m.mac_len = (uint8_t)mac_len;
	m.incarnation = get64(buf + 8);
	m.seq = get64(buf + 16);
	m.sent_us = get64(buf + 24);
	m.interval_ms = get16(buf + 32);
	m.n_listed = get16(buf + 34);
	m.owned_count = get32(buf + 36);
	m.listed_offset = get32(buf + 40);
	m.owned_digest = get64(buf + 44);
	memcpy(m.name, buf + HEARTBEAT_HEADER_LEN, nlen);
	if (memchr(m.name, '\0', nlen))
		return HEARTBEAT_MALFORMED;
	off = HEARTBEAT_HEADER_LEN + nlen;
	for (unsigned i = 0; i < m.n_listed; i++) {
		size_t alen;

		if (off >= body)
			return HEARTBEAT_MALFORMED;
		if (buf[off] == 4)
			m.listed[i].family = AF_INET;
		else if (buf[off] == 6)
			m.listed[i].family = AF_INET6;
		else
			return HEARTBEAT_MALFORMED;
		alen = addr_len(m.listed[i].family);
		if (body - off - 1 < alen)
			return HEARTBEAT_MALFORMED;
		memcpy(m.listed[i].bytes, buf + off + 1, alen);
		off += 1 + alen;
	}
	if (off != body || !msg_valid(&m))
		return HEARTBEAT_MALFORMED;
	if (ret)
		*ret = m;
	return HEARTBEAT_OK;
}

/* ---- per-peer state ---- */

void heartbeat_peer_init(struct heartbeat_peer *p)
{
	memset(p, 0, sizeof(*p));
}

static bool retired(const struct heartbeat_peer *p, uint64_t incarnation)
{
	unsigned n = p->n_retired < HEARTBEAT_RETIRED_MAX ? p->n_retired : HEARTBEAT_RETIRED_MAX;

	for (unsigned i = 0; i < n; i++)
		if (p->retired[i] == incarnation)
			return true;
	return false;
}

enum heartbeat_result heartbeat_peer_check(const struct heartbeat_peer *p,
					   const struct heartbeat_msg *m, uint64_t now_us,
					   const struct heartbeat_params *params)
{
	if (retired(p, m->incarnation))
		return HEARTBEAT_REPLAY;
	if (!p->known)
		return HEARTBEAT_OK;
	if (m->incarnation == p->incarnation)
		return m->seq > p->seq ? HEARTBEAT_OK : HEARTBEAT_REPLAY;
	if (m->sent_us > p->sent_us)
		return HEARTBEAT_OK;
	if (now_us >= p->heard_us && now_us - p->heard_us >= params->forget_us)
		return HEARTBEAT_OK;
	return HEARTBEAT_REPLAY;
}

enum heartbeat_result heartbeat_peer_receive(struct heartbeat_peer *p,
					     const struct heartbeat_msg *m, uint64_t now_us,
					     const struct heartbeat_params *params,
					     unsigned *ret_events)
{
	enum heartbeat_result r = heartbeat_peer_check(p, m, now_us, params);
	unsigned ev = 0;

	if (r != HEARTBEAT_OK) {
		if (ret_events)
			*ret_events = 0;
		return r;
	}
	if (p->known && m->incarnation != p->incarnation) {
		p->retired[p->n_retired % HEARTBEAT_RETIRED_MAX] = p->incarnation;
		p->n_retired++;
		p->restarts++;
		ev |= HEARTBEAT_NEW_INCARNATION;
	}
	p->known = true;
	p->incarnation = m->incarnation;
	p->seq = m->seq;
	p->sent_us = m->sent_us;
	p->heard_us = now_us;
	p->interval_us = (uint64_t)m->interval_ms * 1000;
	p->leaving = m->flags & HEARTBEAT_FLAG_LEAVING;
	if (p->leaving) {
		if (p->liveness == HEARTBEAT_PEER_ALIVE)
			ev |= HEARTBEAT_BECAME_DEAD;
		p->liveness = HEARTBEAT_PEER_DEAD;
	} else {
		if (p->liveness != HEARTBEAT_PEER_ALIVE)
			ev |= HEARTBEAT_BECAME_ALIVE;
		p->liveness = HEARTBEAT_PEER_ALIVE;
	}
	if (ret_events)
		*ret_events = ev;
	return HEARTBEAT_OK;
}

uint64_t heartbeat_peer_deadline(const struct heartbeat_peer *p,
				 const struct heartbeat_params *params)
{
	uint64_t span;

	if (p->liveness != HEARTBEAT_PEER_ALIVE)
		return UINT64_MAX;
	/* interval_us <= 60 s and misses is an unsigned: no overflow in 64 bits
	 * for any realistic misses; saturate anyway. */
	span = (uint64_t)params->misses * p->interval_us;
	if (p->heard_us > UINT64_MAX - span)
		return UINT64_MAX;
	return p->heard_us + span;
}

unsigned heartbeat_peer_tick(struct heartbeat_peer *p, uint64_t now_us,
			     const struct heartbeat_params *params)
{
	if (p->liveness != HEARTBEAT_PEER_ALIVE || now_us < heartbeat_peer_deadline(p, params))
		return 0;
	p->liveness = HEARTBEAT_PEER_DEAD;
	return HEARTBEAT_BECAME_DEAD;
}

const char *heartbeat_liveness_str(enum heartbeat_liveness l)
{
	switch (l) {
	case HEARTBEAT_PEER_UNKNOWN:
		return "unknown";
	case HEARTBEAT_PEER_ALIVE:
		return "alive";
	case HEARTBEAT_PEER_DEAD:
		return "dead";
	}
	return "?";
}
