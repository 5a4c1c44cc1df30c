/* Unit tests for speaker/announce.c: the per-address claim state machine. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../speaker/announce.h"

static const uint8_t FOREIGN[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };

/* Drives the machine until it has no deadline or until `until`, counting
 * actions. */
static void run_until(struct announce *a, const struct announce_cfg *cfg, uint64_t until,
		      unsigned *probes, unsigned *announces)
{
	while (a->next_us && a->next_us <= until) {
		unsigned act = announce_tick(a, cfg, a->next_us);

		*probes += !!(act & ANNOUNCE_SEND_PROBE);
		*announces += !!(act & ANNOUNCE_SEND_ANNOUNCE);
	}
}

static void test_claim_without_probe_announces_count_times_then_is_active(void **state)
{
	struct announce_cfg cfg = ANNOUNCE_CFG_DEFAULT;
	struct announce a;
	unsigned probes = 0, announces = 0;

	(void)state;
	announce_init(&a);
	assert_false(announce_answering(&a, &cfg));
	assert_int_equal(announce_claim(&a, &cfg, false, 1000), ANNOUNCE_SEND_ANNOUNCE);
	announces = 1;
	/* Answering starts with the first announcement, not after the burst. */
	assert_true(announce_answering(&a, &cfg));
	assert_int_equal(a.state, ANNOUNCE_ANNOUNCING);
	run_until(&a, &cfg, 10000000, &probes, &announces);
	assert_int_equal(probes, 0);
	assert_int_equal(announces, cfg.announce_count);
	assert_int_equal(a.state, ANNOUNCE_ACTIVE);
	assert_int_equal(a.next_us, 0);
	assert_int_equal(a.since_us, 1000);
}

static void test_announcements_are_spaced_by_the_interval(void **state)
{
	struct announce_cfg cfg = ANNOUNCE_CFG_DEFAULT;
	struct announce a;

	(void)state;
	announce_init(&a);
	announce_claim(&a, &cfg, false, 0);
	assert_int_equal(a.next_us, cfg.announce_interval_us);
	/* Early ticks do nothing. */
	assert_int_equal(announce_tick(&a, &cfg, cfg.announce_interval_us - 1), 0);
	assert_int_equal(announce_tick(&a, &cfg, cfg.announce_interval_us), ANNOUNCE_SEND_ANNOUNCE);
	assert_int_equal(a.next_us, 2 * cfg.announce_interval_us);
}

static void test_claim_with_probe_probes_first_then_announces(void **state)
{
	struct announce_cfg cfg = ANNOUNCE_CFG_DEFAULT;
	struct announce a;
	unsigned probes = 1, announces = 0;

	(void)state;
	announce_init(&a);
	assert_int_equal(announce_claim(&a, &cfg, true, 0), ANNOUNCE_SEND_PROBE);
	assert_int_equal(a.state, ANNOUNCE_PROBING);
	assert_false(announce_answering(&a, &cfg));
	run_until(&a, &cfg, 10000000, &probes, &announces);
	assert_int_equal(probes, cfg.probe_count);
	assert_int_equal(announces, cfg.announce_count);
	assert_int_equal(a.state, ANNOUNCE_ACTIVE);
	/* Announcing started one interval after the last probe. */
	assert_int_equal(a.since_us, cfg.probe_count * cfg.probe_interval_us);
}

static void test_foreign_answer_to_probe_withdraws_and_reports(void **state)
{
	struct announce_cfg cfg = ANNOUNCE_CFG_DEFAULT;
	struct announce a;

	(void)state;
	announce_init(&a);
	announce_claim(&a, &cfg, true, 0);
	assert_int_equal(announce_foreign_holder(&a, &cfg, FOREIGN, 5), ANNOUNCE_REPORT_CONFLICT);
	assert_int_equal(a.state, ANNOUNCE_CONFLICT);
	assert_false(announce_answering(&a, &cfg));
	assert_int_equal(a.next_us, 0);
	assert_memory_equal(a.conflict_mac, FOREIGN, 6);
	assert_int_equal(a.conflicts, 1);
	/* Nothing more goes on the wire. */
	assert_int_equal(announce_tick(&a, &cfg, 1000000000), 0);
}

static void test_foreign_announcement_while_active_withdraws(void **state)
{
	struct announce_cfg cfg = ANNOUNCE_CFG_DEFAULT;
	struct announce a;
	unsigned p = 0, n = 0;

	(void)state;
	announce_init(&a);
	announce_claim(&a, &cfg, false, 0);
	run_until(&a, &cfg, 10000000, &p, &n);
	assert_int_equal(announce_foreign_holder(&a, &cfg, FOREIGN, 20000000),
			 ANNOUNCE_REPORT_CONFLICT);
	assert_false(announce_answering(&a, &cfg));
	assert_true(announce_claimed(&a));
}

static void test_policy_announce_reports_but_keeps_answering(void **state)
{
	struct announce_cfg cfg = ANNOUNCE_CFG_DEFAULT;
	struct announce a;
	unsigned act;

	(void)state;
	cfg.on_conflict = ANNOUNCE_ON_CONFLICT_ANNOUNCE;
	announce_init(&a);
	announce_claim(&a, &cfg, true, 0);
	act = announce_foreign_holder(&a, &cfg, FOREIGN, 10);
	assert_true(act & ANNOUNCE_REPORT_CONFLICT);
	assert_true(act & ANNOUNCE_SEND_ANNOUNCE);
	assert_true(announce_answering(&a, &cfg));
	act = announce_foreign_holder(&a, &cfg, FOREIGN, 20);
	assert_int_equal(act, ANNOUNCE_REPORT_CONFLICT);
	assert_true(announce_answering(&a, &cfg));
	assert_int_equal(a.conflicts, 2);
}

static void test_release_stops_answering_at_once_and_keeps_conflict_count(void **state)
{
	struct announce_cfg cfg = ANNOUNCE_CFG_DEFAULT;
	struct announce a;

	(void)state;
	announce_init(&a);
	announce_claim(&a, &cfg, false, 0);
	announce_foreign_holder(&a, &cfg, FOREIGN, 1);
	announce_release(&a);
	assert_false(announce_answering(&a, &cfg));
	assert_false(announce_claimed(&a));
	assert_int_equal(a.next_us, 0);
	assert_int_equal(a.conflicts, 1);
	/* A foreign holder seen when we hold nothing is not our conflict. */
	assert_int_equal(announce_foreign_holder(&a, &cfg, FOREIGN, 2), 0);
	assert_int_equal(a.conflicts, 1);
}

static void test_link_up_restarts_the_burst(void **state)
{
	struct announce_cfg cfg = ANNOUNCE_CFG_DEFAULT;
	struct announce a;
	unsigned p = 0, n = 0;

	(void)state;
	announce_init(&a);
	announce_claim(&a, &cfg, false, 1000);
	run_until(&a, &cfg, 10000000, &p, &n);
	assert_int_equal(announce_link_up(&a, &cfg, 50000000), ANNOUNCE_SEND_ANNOUNCE);
	n = 1;
	run_until(&a, &cfg, 100000000, &p, &n);
	assert_int_equal(n, cfg.announce_count);
	assert_int_equal(a.since_us, 1000); /* the claim did not restart */
	/* Not while probing or idle. */
	announce_release(&a);
	assert_int_equal(announce_link_up(&a, &cfg, 1), 0);
	announce_claim(&a, &cfg, true, 0);
	assert_int_equal(announce_link_up(&a, &cfg, 1), 0);
}

static void test_refresh_reannounces_periodically_when_enabled(void **state)
{
	struct announce_cfg cfg = ANNOUNCE_CFG_DEFAULT;
	struct announce a;
	unsigned p = 0, n = 1;

	(void)state;
	cfg.refresh_us = 60000000;
	announce_init(&a);
	announce_claim(&a, &cfg, false, 0);
	run_until(&a, &cfg, 10 * cfg.refresh_us, &p, &n);
	/* The burst, then one announcement per refresh period. */
	assert_true(n >= cfg.announce_count + 9);
	assert_int_equal(a.state, ANNOUNCE_ACTIVE);
	assert_true(a.next_us > 10 * cfg.refresh_us);
}

static void test_claim_twice_does_nothing_the_second_time(void **state)
{
	struct announce_cfg cfg = ANNOUNCE_CFG_DEFAULT;
	struct announce a;

	(void)state;
	announce_init(&a);
	announce_claim(&a, &cfg, false, 0);
	assert_int_equal(announce_claim(&a, &cfg, false, 5), 0);
	assert_int_equal(a.since_us, 0);
}

static void test_single_announcement_burst_goes_straight_to_active(void **state)
{
	struct announce_cfg cfg = ANNOUNCE_CFG_DEFAULT;
	struct announce a;

	(void)state;
	cfg.announce_count = 1;
	announce_init(&a);
	assert_int_equal(announce_claim(&a, &cfg, false, 0), ANNOUNCE_SEND_ANNOUNCE);
	assert_int_equal(a.state, ANNOUNCE_ACTIVE);
	assert_int_equal(a.next_us, 0);
	assert_string_equal(announce_state_str(a.state), "active");
}

/* One probing round ahead: probe_count probes, then silent and PROBED. */
static void test_probe_ahead_probes_then_waits_silent(void **state)
{
	struct announce_cfg cfg = ANNOUNCE_CFG_DEFAULT;
	struct announce a;
	uint64_t round = cfg.probe_count * cfg.probe_interval_us;
	unsigned probes = 1, announces = 0;

	(void)state;
	announce_init(&a);
	assert_int_equal(announce_probe_ahead(&a, &cfg, 1000), ANNOUNCE_SEND_PROBE);
	assert_true(a.ahead);
	assert_false(announce_answering(&a, &cfg));
	run_until(&a, &cfg, 1000 + round, &probes, &announces);
	assert_int_equal(probes, cfg.probe_count);
	assert_int_equal(announces, 0);
	assert_int_equal(a.state, ANNOUNCE_PROBED);
	assert_int_equal(a.clear_us, 1000 + round);
	assert_false(announce_answering(&a, &cfg));
	assert_true(announce_claimed(&a));
	assert_string_equal(announce_state_str(a.state), "probed");
	/* The next round comes ahead_interval_us after the last ended. */
	assert_int_equal(a.next_us, 1000 + round + cfg.ahead_interval_us);
	probes = announces = 0;
	run_until(&a, &cfg, 1000 + 2 * round + cfg.ahead_interval_us, &probes, &announces);
	assert_int_equal(probes, cfg.probe_count);
	assert_int_equal(announces, 0);
	assert_int_equal(a.state, ANNOUNCE_PROBED);
	assert_int_equal(a.clear_us, 1000 + 2 * round + cfg.ahead_interval_us);
}

static void test_probe_ahead_does_nothing_without_probing_or_when_claimed(void **state)
{
	struct announce_cfg cfg = ANNOUNCE_CFG_DEFAULT;
	struct announce a;

	(void)state;
	announce_init(&a);
	cfg.probe_count = 0;
	assert_int_equal(announce_probe_ahead(&a, &cfg, 0), 0);
	assert_int_equal(a.state, ANNOUNCE_IDLE);
	assert_false(a.ahead);
	cfg.probe_count = 3;
	announce_claim(&a, &cfg, false, 0);
	assert_int_equal(announce_probe_ahead(&a, &cfg, 5), 0);
	assert_false(a.ahead);
	assert_int_equal(a.state, ANNOUNCE_ANNOUNCING);
	/* Taking what is not probed ahead changes nothing. */
	assert_int_equal(announce_take(&a, &cfg, true, 6), 0);
	assert_int_equal(a.state, ANNOUNCE_ANNOUNCING);
}

/* A round ahead that meets a foreign holder marks the address in use until
 * a later round ends with nobody answering, which reports it once. */
static void test_in_use_ahead_until_a_clear_round(void **state)
{
	struct announce_cfg cfg = ANNOUNCE_CFG_DEFAULT;
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 9 };
	uint64_t round = cfg.probe_count * cfg.probe_interval_us, t;
	struct announce a;
	unsigned act;

	(void)state;
	announce_init(&a);
	announce_probe_ahead(&a, &cfg, 0);
	assert_false(announce_in_use(&a));
	/* The first round ends clear: nothing was in use, nothing to report. */
	for (act = 0; a.state == ANNOUNCE_PROBING;)
		act |= announce_tick(&a, &cfg, a.next_us);
	assert_int_equal(act & ANNOUNCE_REPORT_CLEAR, 0);
	assert_int_equal(a.state, ANNOUNCE_PROBED);
	/* A foreign holder answers between rounds. */
	t = a.clear_us + 1000;
	assert_int_equal(announce_foreign_holder(&a, &cfg, mac, t), ANNOUNCE_REPORT_CONFLICT);
	assert_true(announce_in_use(&a));
	assert_int_equal(a.clear_us, 0);
	/* Still in use while the next round runs and if it meets the holder. */
	assert_int_equal(announce_tick(&a, &cfg, a.next_us), ANNOUNCE_SEND_PROBE);
	assert_int_equal(a.state, ANNOUNCE_PROBING);
	assert_true(announce_in_use(&a));
	assert_int_equal(announce_foreign_holder(&a, &cfg, mac, a.next_us - 1),
			 ANNOUNCE_REPORT_CONFLICT);
	assert_true(announce_in_use(&a));
	/* The round after that hears nobody: clear, reported once. */
	assert_int_equal(announce_tick(&a, &cfg, a.next_us), ANNOUNCE_SEND_PROBE);
	for (act = 0; a.state == ANNOUNCE_PROBING;)
		act |= announce_tick(&a, &cfg, a.next_us);
	assert_int_equal(act & ~(unsigned)ANNOUNCE_SEND_PROBE, ANNOUNCE_REPORT_CLEAR);
	assert_false(announce_in_use(&a));
	assert_true(a.clear_us > 0);
	act = 0;
	t = a.next_us + round;
	while (a.next_us && a.next_us <= t)
		act |= announce_tick(&a, &cfg, a.next_us);
	assert_int_equal(act & ANNOUNCE_REPORT_CLEAR, 0);
}

/* An address in use ahead that goes to a Service is no longer "in use
 * ahead": it is the Service's conflict now. */
static void test_take_ends_in_use(void **state)
{
	struct announce_cfg cfg = ANNOUNCE_CFG_DEFAULT;
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 9 };
	struct announce a;

	(void)state;
	announce_init(&a);
	announce_probe_ahead(&a, &cfg, 0);
	announce_foreign_holder(&a, &cfg, mac, 10);
	assert_true(announce_in_use(&a));
	assert_int_equal(announce_take(&a, &cfg, true, 20), ANNOUNCE_REPORT_CONFLICT);
	assert_false(announce_in_use(&a));
	assert_false(a.in_use);
	announce_release(&a);
	assert_false(a.in_use);
}

static void test_take_after_a_clear_round_announces_at_once(void **state)
{
	struct announce_cfg cfg = ANNOUNCE_CFG_DEFAULT;
	struct announce a;
	unsigned probes = 1, announces = 0;

	(void)state;
	announce_init(&a);
	announce_probe_ahead(&a, &cfg, 0);
	run_until(&a, &cfg, 5000000, &probes, &announces);
	assert_int_equal(a.state, ANNOUNCE_PROBED);
	assert_int_equal(announce_take(&a, &cfg, true, 5000000), ANNOUNCE_SEND_ANNOUNCE);
	assert_false(a.ahead);
	assert_true(announce_answering(&a, &cfg));
	assert_int_equal(a.since_us, 5000000);
	probes = 0;
	announces = 1;
	run_until(&a, &cfg, 20000000, &probes, &announces);
	assert_int_equal(probes, 0);
	assert_int_equal(announces, cfg.announce_count);
	assert_int_equal(a.state, ANNOUNCE_ACTIVE);
	assert_int_equal(a.next_us, 0); /* no more rounds */
}

/* Taken while re-probing after a clear round: that round counts. */
static void test_take_during_a_later_round_announces_at_once(void **state)
{
	struct announce_cfg cfg = ANNOUNCE_CFG_DEFAULT;
	struct announce a;
	unsigned probes = 1, announces = 0;
	uint64_t second;

	(void)state;
	announce_init(&a);
	announce_probe_ahead(&a, &cfg, 0);
	run_until(&a, &cfg, 1000000, &probes, &announces);
	second = a.next_us;
	assert_int_equal(announce_tick(&a, &cfg, second), ANNOUNCE_SEND_PROBE);
	assert_int_equal(a.state, ANNOUNCE_PROBING);
	assert_int_equal(announce_take(&a, &cfg, true, second + 1), ANNOUNCE_SEND_ANNOUNCE);
	assert_int_equal(a.state, ANNOUNCE_ANNOUNCING);
}

/* Taken during the first round: the round goes on, then announces. */
static void test_take_during_the_first_round_announces_when_it_ends(void **state)
{
	struct announce_cfg cfg = ANNOUNCE_CFG_DEFAULT;
	struct announce a;
	unsigned probes = 1, announces = 0;

	(void)state;
	announce_init(&a);
	announce_probe_ahead(&a, &cfg, 0);
	assert_int_equal(announce_take(&a, &cfg, true, 10), 0);
	assert_false(a.ahead);
	assert_int_equal(a.state, ANNOUNCE_PROBING);
	assert_false(announce_answering(&a, &cfg));
	run_until(&a, &cfg, cfg.probe_count * cfg.probe_interval_us, &probes, &announces);
	assert_int_equal(probes, cfg.probe_count);
	assert_int_equal(announces, 1);
	assert_int_equal(a.state, ANNOUNCE_ANNOUNCING);
	assert_true(announce_answering(&a, &cfg));
	/* Told no probe is needed, it stops probing and announces. */
	announce_init(&a);
	announce_probe_ahead(&a, &cfg, 0);
	assert_int_equal(announce_take(&a, &cfg, false, 10), ANNOUNCE_SEND_ANNOUNCE);
	assert_int_equal(a.state, ANNOUNCE_ANNOUNCING);
}

static void test_conflict_ahead_is_reported_then_met_by_the_claim(void **state)
{
	struct announce_cfg cfg = ANNOUNCE_CFG_DEFAULT;
	struct announce a;
	unsigned probes = 1, announces = 0;

	(void)state;
	announce_init(&a);
	announce_probe_ahead(&a, &cfg, 0);
	run_until(&a, &cfg, 1000000, &probes, &announces);
	assert_int_equal(announce_foreign_holder(&a, &cfg, FOREIGN, 2000000),
			 ANNOUNCE_REPORT_CONFLICT);
	assert_int_equal(a.state, ANNOUNCE_CONFLICT);
	assert_int_equal(a.clear_us, 0);
	assert_int_equal(a.conflicts, 1);
	assert_memory_equal(a.conflict_mac, FOREIGN, 6);
	assert_false(announce_answering(&a, &cfg));
	/* Withdraw: the claim reports again and stays silent. */
	assert_int_equal(announce_take(&a, &cfg, true, 2500000), ANNOUNCE_REPORT_CONFLICT);
	assert_int_equal(a.state, ANNOUNCE_CONFLICT);
	assert_false(announce_answering(&a, &cfg));
	assert_int_equal(a.next_us, 0);
}

static void test_conflict_ahead_under_policy_announce(void **state)
{
	struct announce_cfg cfg = ANNOUNCE_CFG_DEFAULT;
	struct announce a;

	(void)state;
	cfg.on_conflict = ANNOUNCE_ON_CONFLICT_ANNOUNCE;
	announce_init(&a);
	announce_probe_ahead(&a, &cfg, 0);
	/* A reply to the first probe: nothing is announced while ahead. */
	assert_int_equal(announce_foreign_holder(&a, &cfg, FOREIGN, 50), ANNOUNCE_REPORT_CONFLICT);
	assert_int_equal(a.state, ANNOUNCE_CONFLICT);
	assert_false(announce_answering(&a, &cfg));
	assert_int_equal(announce_take(&a, &cfg, true, 100),
			 ANNOUNCE_REPORT_CONFLICT | ANNOUNCE_SEND_ANNOUNCE);
	assert_true(announce_answering(&a, &cfg));
}

/* A foreign holder that leaves is noticed by the next round. */
static void test_rounds_go_on_after_a_conflict_ahead(void **state)
{
	struct announce_cfg cfg = ANNOUNCE_CFG_DEFAULT;
	struct announce a;
	unsigned probes = 0, announces = 0;

	(void)state;
	announce_init(&a);
	announce_probe_ahead(&a, &cfg, 0);
	announce_foreign_holder(&a, &cfg, FOREIGN, 50);
	assert_int_equal(a.next_us, 50 + cfg.ahead_interval_us);
	assert_int_equal(announce_tick(&a, &cfg, a.next_us), ANNOUNCE_SEND_PROBE);
	assert_int_equal(a.state, ANNOUNCE_PROBING);
	probes = 1;
	run_until(&a, &cfg, 50 + cfg.ahead_interval_us + 1000000, &probes, &announces);
	assert_int_equal(probes, cfg.probe_count);
	assert_int_equal(announces, 0);
	assert_int_equal(a.state, ANNOUNCE_PROBED);
	assert_int_equal(a.conflicts, 1); /* the history stays */
	/* ahead_interval_us 0: one round only. */
	cfg.ahead_interval_us = 0;
	announce_init(&a);
	announce_probe_ahead(&a, &cfg, 0);
	probes = 1;
	run_until(&a, &cfg, 100000000, &probes, &announces);
	assert_int_equal(probes, cfg.probe_count);
	assert_int_equal(a.state, ANNOUNCE_PROBED);
	assert_int_equal(a.next_us, 0);
}

static void test_release_ends_probing_ahead(void **state)
{
	struct announce_cfg cfg = ANNOUNCE_CFG_DEFAULT;
	struct announce a;

	(void)state;
	announce_init(&a);
	announce_probe_ahead(&a, &cfg, 0);
	announce_release(&a);
	assert_int_equal(a.state, ANNOUNCE_IDLE);
	assert_false(a.ahead);
	assert_int_equal(a.next_us, 0);
	assert_int_equal(a.clear_us, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claim_without_probe_announces_count_times_then_is_active),
		cmocka_unit_test(test_announcements_are_spaced_by_the_interval),
		cmocka_unit_test(test_claim_with_probe_probes_first_then_announces),
		cmocka_unit_test(test_foreign_answer_to_probe_withdraws_and_reports),
		cmocka_unit_test(test_foreign_announcement_while_active_withdraws),
		cmocka_unit_test(test_policy_announce_reports_but_keeps_answering),
		cmocka_unit_test(test_release_stops_answering_at_once_and_keeps_conflict_count),
		cmocka_unit_test(test_link_up_restarts_the_burst),
		cmocka_unit_test(test_refresh_reannounces_periodically_when_enabled),
		cmocka_unit_test(test_claim_twice_does_nothing_the_second_time),
		cmocka_unit_test(test_single_announcement_burst_goes_straight_to_active),
		cmocka_unit_test(test_probe_ahead_probes_then_waits_silent),
		cmocka_unit_test(test_probe_ahead_does_nothing_without_probing_or_when_claimed),
		cmocka_unit_test(test_in_use_ahead_until_a_clear_round),
		cmocka_unit_test(test_take_ends_in_use),
		cmocka_unit_test(test_take_after_a_clear_round_announces_at_once),
		cmocka_unit_test(test_take_during_a_later_round_announces_at_once),
		cmocka_unit_test(test_take_during_the_first_round_announces_when_it_ends),
		cmocka_unit_test(test_conflict_ahead_is_reported_then_met_by_the_claim),
		cmocka_unit_test(test_conflict_ahead_under_policy_announce),
		cmocka_unit_test(test_rounds_go_on_after_a_conflict_ahead),
		cmocka_unit_test(test_release_ends_probing_ahead),
	};

	return cmocka_run_group_tests_name("announce", tests, NULL, NULL);
}
