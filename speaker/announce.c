/* The per-address announcement state machine (pure; see announce.h). */
#include "announce.h"

#include <string.h>

void announce_init(struct announce *a)
{
	memset(a, 0, sizeof(*a));
}

static unsigned start_burst(struct announce *a, const struct announce_cfg *cfg, uint64_t now)
{
	a->state = ANNOUNCE_ANNOUNCING;
	a->sent = 1;
	if (!a->since_us)
		a->since_us = now;
	if (a->sent >= cfg->announce_count) {
		a->state = ANNOUNCE_ACTIVE;
		a->next_us = cfg->refresh_us ? now + cfg->refresh_us : 0;
	} else {
		a->next_us = now + cfg->announce_interval_us;
	}
	return ANNOUNCE_SEND_ANNOUNCE;
}

unsigned announce_claim(struct announce *a, const struct announce_cfg *cfg, bool probe,
			uint64_t now_us)
{
	if (a->state != ANNOUNCE_IDLE)
		return 0;
	a->since_us = 0;
	if (probe && cfg->probe_count) {
		a->state = ANNOUNCE_PROBING;
		a->sent = 1;
		a->next_us = now_us + cfg->probe_interval_us;
		return ANNOUNCE_SEND_PROBE;
	}
	return start_burst(a, cfg, now_us);
}

unsigned announce_probe_ahead(struct announce *a, const struct announce_cfg *cfg, uint64_t now_us)
{
	if (a->state != ANNOUNCE_IDLE || !cfg->probe_count)
		return 0;
	a->ahead = true;
	a->state = ANNOUNCE_PROBING;
	a->sent = 1;
	a->next_us = now_us + cfg->probe_interval_us;
	return ANNOUNCE_SEND_PROBE;
}

unsigned announce_take(struct announce *a, const struct announce_cfg *cfg, bool probe,
		       uint64_t now_us)
{
	if (!a->ahead)
		return 0;
	a->ahead = false;
	a->in_use = false;
	a->since_us = 0;
	switch (a->state) {
	case ANNOUNCE_CONFLICT:
		if (cfg->on_conflict == ANNOUNCE_ON_CONFLICT_WITHDRAW) {
			a->next_us = 0;
			return ANNOUNCE_REPORT_CONFLICT;
		}
		return ANNOUNCE_REPORT_CONFLICT | start_burst(a, cfg, now_us);
	case ANNOUNCE_PROBING:
		/* The first round goes on, and announces when it ends. */
		if (!a->clear_us && probe)
			return 0;
		return start_burst(a, cfg, now_us);
	case ANNOUNCE_PROBED:
		return start_burst(a, cfg, now_us);
	case ANNOUNCE_IDLE:
	case ANNOUNCE_ANNOUNCING:
	case ANNOUNCE_ACTIVE:
		break;
	}
	a->state = ANNOUNCE_IDLE;
	return announce_claim(a, cfg, probe, now_us);
}

void announce_release(struct announce *a)
{
	uint64_t conflicts = a->conflicts;

	announce_init(a);
	/* The count of conflicts describes the address, not the claim. */
	a->conflicts = conflicts;
}

unsigned announce_tick(struct announce *a, const struct announce_cfg *cfg, uint64_t now_us)
{
	if (!a->next_us || now_us < a->next_us)
		return 0;
	switch (a->state) {
	case ANNOUNCE_PROBING:
		if (a->sent < cfg->probe_count) {
			a->sent++;
			a->next_us = now_us + cfg->probe_interval_us;
			return ANNOUNCE_SEND_PROBE;
		}
		/* The wait after the last probe passed without an answer. */
		if (a->ahead) {
			bool was = a->in_use;

			a->state = ANNOUNCE_PROBED;
			a->in_use = false;
			a->clear_us = now_us;
			a->next_us = cfg->ahead_interval_us ? now_us + cfg->ahead_interval_us : 0;
			return was ? ANNOUNCE_REPORT_CLEAR : 0;
		}
		return start_burst(a, cfg, now_us);
	case ANNOUNCE_ANNOUNCING:
		a->sent++;
		if (a->sent >= cfg->announce_count) {
			a->state = ANNOUNCE_ACTIVE;
			a->next_us = cfg->refresh_us ? now_us + cfg->refresh_us : 0;
		} else {
			a->next_us = now_us + cfg->announce_interval_us;
		}
		return ANNOUNCE_SEND_ANNOUNCE;
	case ANNOUNCE_ACTIVE:
		if (!cfg->refresh_us) {
			a->next_us = 0;
			return 0;
		}
		a->next_us = now_us + cfg->refresh_us;
		return ANNOUNCE_SEND_ANNOUNCE;
	case ANNOUNCE_PROBED:
	case ANNOUNCE_CONFLICT:
		if (a->ahead) { /* the next round */
			a->state = ANNOUNCE_PROBING;
			a->sent = 1;
			a->next_us = now_us + cfg->probe_interval_us;
			return ANNOUNCE_SEND_PROBE;
		}
		a->next_us = 0;
		return 0;
	case ANNOUNCE_IDLE:
		a->next_us = 0;
		return 0;
	}
	return 0;
}

unsigned announce_foreign_holder(struct announce *a, const struct announce_cfg *cfg,
				 const uint8_t mac[6], uint64_t now_us)
{
	if (a->state == ANNOUNCE_IDLE)
		return 0;
	a->conflicts++;
	memcpy(a->conflict_mac, mac, 6);
	if (a->ahead) {
		/* Nothing to withdraw; look again later, the host may leave. */
		a->state = ANNOUNCE_CONFLICT;
		a->in_use = true;
		a->clear_us = 0;
		a->next_us = cfg->ahead_interval_us ? now_us + cfg->ahead_interval_us : 0;
		return ANNOUNCE_REPORT_CONFLICT;
	}
	if (cfg->on_conflict == ANNOUNCE_ON_CONFLICT_WITHDRAW) {
		a->state = ANNOUNCE_CONFLICT;
		a->next_us = 0;
		return ANNOUNCE_REPORT_CONFLICT;
	}
	/* Policy announce: a probe answered still ends probing, and we claim
	 * the address anyway, loudly. */
	if (a->state == ANNOUNCE_PROBING)
		return ANNOUNCE_REPORT_CONFLICT | start_burst(a, cfg, now_us);
	return ANNOUNCE_REPORT_CONFLICT;
}

unsigned announce_link_up(struct announce *a, const struct announce_cfg *cfg, uint64_t now_us)
{
	if (a->state != ANNOUNCE_ACTIVE && a->state != ANNOUNCE_ANNOUNCING)
		return 0;
	return start_burst(a, cfg, now_us);
}

bool announce_answering(const struct announce *a, const struct announce_cfg *cfg)
{
	switch (a->state) {
	case ANNOUNCE_ANNOUNCING:
	case ANNOUNCE_ACTIVE:
		return true;
	case ANNOUNCE_CONFLICT:
		return cfg->on_conflict == ANNOUNCE_ON_CONFLICT_ANNOUNCE && !a->ahead;
	case ANNOUNCE_IDLE:
	case ANNOUNCE_PROBING:
	case ANNOUNCE_PROBED:
		return false;
	}
	return false;
}

bool announce_in_use(const struct announce *a)
{
	return a->ahead && a->in_use;
}

bool announce_claimed(const struct announce *a)
{
	return a->state != ANNOUNCE_IDLE;
}

const char *announce_state_str(enum announce_state s)
{
	switch (s) {
	case ANNOUNCE_IDLE:
		return "idle";
	case ANNOUNCE_PROBING:
		return "probing";
	case ANNOUNCE_ANNOUNCING:
		return "announcing";
	case ANNOUNCE_ACTIVE:
		return "active";
	case ANNOUNCE_CONFLICT:
		return "conflict";
	case ANNOUNCE_PROBED:
		return "probed";
	}
	return "?";
}
