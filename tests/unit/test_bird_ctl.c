/* Unit tests for speaker/bird_ctl.c against a scripted BIRD (fake_bird.c)
 * on a unix socket in a temporary directory, both on one event loop:
 * greeting and up/down reports, replies split into small writes, async
 * lines, one command in flight at a time in FIFO order, the server
 * closing mid-reply, BIRD absent at start and appearing later, command
 * timeouts, garbage on the wire and command validation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../speaker/bird_ctl.h"
#include "fake_bird.h"
#include "ironlb/loop.h"

#define WAIT_LIMIT_US (5 * 1000000ULL)

struct fixture {
	char dir[48];
	char path[96];
	struct loop *loop;
	struct fake_bird *fb;
	struct bird_ctl *ctl;
	int ups, downs;
	bool up;
	char asyncs[4][128];
	int n_asyncs;
	/* per-command results, in callback order */
	int errs[16];
	char msgs[16][256];
	size_t lines[16];
	int n_results;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/ironlb-test-birdctl.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/bird.ctl", f->dir);
	f->loop = loop_new();
	*state = f;
	return f->loop ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	bird_ctl_free(f->ctl);
	fake_bird_free(f->fb);
	loop_free(f->loop);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void on_state(bool up, void *ud)
{
	struct fixture *f = ud;

	f->up = up;
	if (up)
		f->ups++;
	else
		f->downs++;
}

static void on_async(const char *text, void *ud)
{
	struct fixture *f = ud;

	if (f->n_asyncs < 4)
		snprintf(f->asyncs[f->n_asyncs++], sizeof(f->asyncs[0]), "%s", text);
}

static void on_reply(int err, const struct bird_reply *r, void *ud)
{
	struct fixture *f = ud;
	int i = f->n_results++;

	assert_true(i < 16);
	f->errs[i] = err;
	if (err == 0) {
		assert_non_null(r);
		snprintf(f->msgs[i], sizeof(f->msgs[0]), "%04u %s", r->code, bird_reply_message(r));
		f->lines[i] = r->n_lines;
	} else {
		assert_null(r);
	}
}

static struct bird_ctl *start_client(struct fixture *f, uint64_t timeout_us)
{
	struct bird_ctl_cfg cfg = {
		.socket_path = f->path,
		.timeout_us = timeout_us,
		.backoff_min_us = 5000,
		.backoff_max_us = 20000,
		.on_state = on_state,
		.on_async = on_async,
		.userdata = f,
	};

	f->ctl = bird_ctl_new(f->loop, &cfg);
	assert_non_null(f->ctl);
	return f->ctl;
}

/* Runs the loop until *flag reaches want (bounded, so a bug fails the test
 * instead of hanging it). */
static void run_until_int(struct fixture *f, const int *v, int want)
{
	uint64_t end = loop_now_us() + WAIT_LIMIT_US;

	while (*v < want && loop_now_us() < end)
		loop_run_once(f->loop, 20);
	assert_int_equal(*v, want);
}

static void run_for(struct fixture *f, uint64_t us)
{
	uint64_t end = loop_now_us() + us;

	while (loop_now_us() < end)
		loop_run_once(f->loop, 5);
}

static const char *answer_script(const char *cmd, void *ud)
{
	(void)ud;
	if (strcmp(cmd, "show protocols") == 0)
		return "2002-Name       Proto      Table      State  Since         Info\n"
		       "1002-device1    Device     ---        up     21:12:06.183  \n"
		       "+async in the middle\n"
		       " ilb_peer_0 BGP        ---        up     21:12:06.183  Established   \n"
		       "0000 \n";
	if (strncmp(cmd, "configure check", 15) == 0)
		return "0002-Reading configuration from /x\n0020 Configuration OK\n";
	if (strcmp(cmd, "silent") == 0)
		return NULL;
	return "9001 syntax error\n";
}

static void test_greeting_brings_the_client_up_and_replies_arrive(void **state)
{
	struct fixture *f = *state;

	f->fb = fake_bird_new(f->loop, f->path);
	assert_non_null(f->fb);
	f->fb->answer = answer_script;
	start_client(f, 0);
	assert_false(bird_ctl_up(f->ctl));
	run_until_int(f, &f->ups, 1);
	assert_true(bird_ctl_up(f->ctl));
	assert_int_equal(bird_ctl_connects(f->ctl), 1);
	assert_int_equal(bird_ctl_send(f->ctl, "show protocols", on_reply, f), 0);
	/* never called back from inside send */
	assert_int_equal(f->n_results, 0);
	run_until_int(f, &f->n_results, 1);
	assert_int_equal(f->errs[0], 0);
	assert_string_equal(f->msgs[0], "0000 ");
	assert_int_equal(f->lines[0], 4);
	assert_int_equal(f->n_asyncs, 1);
	assert_string_equal(f->asyncs[0], "async in the middle");
	assert_string_equal(f->fb->cmds[0], "show protocols");
	/* an error reply is still a reply */
	assert_int_equal(bird_ctl_send(f->ctl, "bogus", on_reply, f), 0);
	run_until_int(f, &f->n_results, 2);
	assert_int_equal(f->errs[1], 0);
	assert_string_equal(f->msgs[1], "9001 syntax error");
	assert_int_equal(f->downs, 0);
}

static void test_replies_written_three_bytes_at_a_time_parse_whole(void **state)
{
	struct fixture *f = *state;

	f->fb = fake_bird_new(f->loop, f->path);
	f->fb->answer = answer_script;
	f->fb->chunk = 3;
	start_client(f, 0);
	run_until_int(f, &f->ups, 1);
	assert_int_equal(bird_ctl_send(f->ctl, "show protocols", on_reply, f), 0);
	assert_int_equal(bird_ctl_send(f->ctl, "configure check \"/x\"", on_reply, f), 0);
	run_until_int(f, &f->n_results, 2);
	assert_string_equal(f->msgs[0], "0000 ");
	assert_int_equal(f->lines[0], 4);
	assert_string_equal(f->msgs[1], "0020 Configuration OK");
	assert_int_equal(f->n_asyncs, 1);
}

static void test_commands_go_one_at_a_time_in_order(void **state)
{
	struct fixture *f = *state;

	f->fb = fake_bird_new(f->loop, f->path);
	f->fb->answer = answer_script;
	start_client(f, 0);
	run_until_int(f, &f->ups, 1);
	assert_int_equal(bird_ctl_send(f->ctl, "silent", on_reply, f), 0);
	assert_int_equal(bird_ctl_send(f->ctl, "configure check \"/a\"", on_reply, f), 0);
	assert_int_equal(bird_ctl_send(f->ctl, "bogus", on_reply, f), 0);
	run_for(f, 50000);
	/* the second is held back until the first is answered */
	assert_int_equal(f->fb->n_cmds, 1);
	assert_int_equal(f->n_results, 0);
	fake_bird_send(f->fb, "0000 done\n");
	run_until_int(f, &f->n_results, 3);
	assert_int_equal(f->fb->n_cmds, 3);
	assert_string_equal(f->msgs[0], "0000 done");
	assert_string_equal(f->msgs[1], "0020 Configuration OK");
	assert_string_equal(f->msgs[2], "9001 syntax error");
}

static const char *answer_partial_then_close(const char *cmd, void *ud)
{
	struct fixture *f = ud;

	(void)cmd;
	f->fb->close_after_send = true;
	return "2002-Name Proto\n1002-a BGP --- up 12:00:00\n";
}

static void test_server_closing_mid_reply_fails_the_commands_and_reconnects(void **state)
{
	struct fixture *f = *state;

	f->fb = fake_bird_new(f->loop, f->path);
	f->fb->answer = answer_partial_then_close;
	f->fb->userdata = f;
	start_client(f, 0);
	run_until_int(f, &f->ups, 1);
	assert_int_equal(bird_ctl_send(f->ctl, "show protocols", on_reply, f), 0);
	assert_int_equal(bird_ctl_send(f->ctl, "show status", on_reply, f), 0);
	run_until_int(f, &f->n_results, 2);
	assert_int_equal(f->errs[0], -ECONNRESET);
	assert_int_equal(f->errs[1], -ECONNRESET);
	assert_int_equal(f->downs, 1);
	assert_false(bird_ctl_up(f->ctl));
	assert_int_equal(bird_ctl_send(f->ctl, "show status", on_reply, f), -ENOTCONN);
	/* BIRD is still listening: back up */
	f->fb->close_after_send = false;
	f->fb->answer = answer_script;
	run_until_int(f, &f->ups, 2);
	assert_int_equal(bird_ctl_connects(f->ctl), 2);
	assert_int_equal(bird_ctl_send(f->ctl, "configure check \"/a\"", on_reply, f), 0);
	run_until_int(f, &f->n_results, 3);
	assert_string_equal(f->msgs[2], "0020 Configuration OK");
}

static void test_absent_bird_is_retried_until_it_appears(void **state)
{
	struct fixture *f = *state;

	start_client(f, 0);
	run_for(f, 60000);
	assert_int_equal(f->ups, 0);
	assert_int_equal(f->downs, 0);
	assert_false(bird_ctl_up(f->ctl));
	f->fb = fake_bird_new(f->loop, f->path);
	assert_non_null(f->fb);
	run_until_int(f, &f->ups, 1);
	assert_true(bird_ctl_up(f->ctl));
	assert_int_equal(f->fb->accepts, 1);
	/* BIRD killed: down, then up again once it is back */
	fake_bird_free(f->fb);
	f->fb = NULL;
	run_until_int(f, &f->downs, 1);
	run_for(f, 30000);
	assert_int_equal(f->ups, 1);
	f->fb = fake_bird_new(f->loop, f->path);
	run_until_int(f, &f->ups, 2);
}

static void test_command_without_reply_times_out_and_reconnects(void **state)
{
	struct fixture *f = *state;

	f->fb = fake_bird_new(f->loop, f->path);
	f->fb->answer = answer_script;
	start_client(f, 100000);
	run_until_int(f, &f->ups, 1);
	assert_int_equal(bird_ctl_send(f->ctl, "silent", on_reply, f), 0);
	assert_int_equal(bird_ctl_send(f->ctl, "bogus", on_reply, f), 0);
	run_until_int(f, &f->n_results, 2);
	assert_int_equal(f->errs[0], -ETIMEDOUT);
	assert_int_equal(f->errs[1], -ECONNRESET);
	assert_int_equal(f->downs, 1);
	run_until_int(f, &f->ups, 2);
}

static const char *answer_garbage(const char *cmd, void *ud)
{
	(void)cmd;
	(void)ud;
	return "HTTP/1.1 400 Bad Request\r\n\r\n";
}

static void test_garbage_from_the_server_drops_the_connection(void **state)
{
	struct fixture *f = *state;

	f->fb = fake_bird_new(f->loop, f->path);
	f->fb->answer = answer_garbage;
	start_client(f, 0);
	run_until_int(f, &f->ups, 1);
	assert_int_equal(bird_ctl_send(f->ctl, "show status", on_reply, f), 0);
	run_until_int(f, &f->n_results, 1);
	assert_int_equal(f->errs[0], -ECONNRESET);
	assert_int_equal(f->downs, 1);
}

static void test_unsolicited_reply_drops_the_connection(void **state)
{
	struct fixture *f = *state;

	f->fb = fake_bird_new(f->loop, f->path);
	start_client(f, 0);
	run_until_int(f, &f->ups, 1);
	fake_bird_send(f->fb, "0000 nobody asked\n");
	run_until_int(f, &f->downs, 1);
}

static void test_wrong_greeting_never_comes_up(void **state)
{
	struct fixture *f = *state;

	f->fb = fake_bird_new(f->loop, f->path);
	f->fb->greeting = "9999 go away\n";
	start_client(f, 0);
	{
		uint64_t end = loop_now_us() + WAIT_LIMIT_US;

		while (f->fb->accepts < 3 && loop_now_us() < end)
			loop_run_once(f->loop, 20);
	}
	assert_true(f->fb->accepts >= 3);
	assert_int_equal(f->ups, 0);
	assert_false(bird_ctl_up(f->ctl));
}

static void test_commands_are_validated(void **state)
{
	struct fixture *f = *state;
	char big[BIRD_CTL_MAX_COMMAND + 2], q[64];

	start_client(f, 0);
	assert_int_equal(bird_ctl_send(f->ctl, "show status", on_reply, f), -ENOTCONN);
	f->fb = fake_bird_new(f->loop, f->path);
	run_until_int(f, &f->ups, 1);
	assert_int_equal(bird_ctl_send(f->ctl, "", on_reply, f), -EINVAL);
	assert_int_equal(bird_ctl_send(f->ctl, "show\nstatus", on_reply, f), -EINVAL);
	assert_int_equal(bird_ctl_send(f->ctl, "show status\r", on_reply, f), -EINVAL);
	assert_int_equal(bird_ctl_send(f->ctl, "show status", NULL, f), -EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(bird_ctl_send(f->ctl, big, on_reply, f), -EINVAL);
	for (int i = 0; i < BIRD_CTL_MAX_QUEUE; i++)
		assert_int_equal(bird_ctl_send(f->ctl, "silent", on_reply, f), 0);
	assert_int_equal(bird_ctl_send(f->ctl, "silent", on_reply, f), -ENOBUFS);
	/* the queued ones are dropped silently by bird_ctl_free in teardown */
	assert_int_equal(bird_ctl_quote("/run/ironlb/bird/bird.conf", q, sizeof(q)), 0);
	assert_string_equal(q, "\"/run/ironlb/bird/bird.conf\"");
	assert_int_equal(bird_ctl_quote("/a\"b", q, sizeof(q)), -EINVAL);
	assert_int_equal(bird_ctl_quote("/a\\b", q, sizeof(q)), -EINVAL);
	assert_int_equal(bird_ctl_quote("/a\nb", q, sizeof(q)), -EINVAL);
	assert_int_equal(bird_ctl_quote("/abcdef", q, 8), -ENOSPC);
	assert_int_equal(bird_ctl_quote("/abcd", q, 8), 0);
}

static void test_socket_path_too_long_is_refused(void **state)
{
	char path[200];
	struct bird_ctl_cfg cfg = { .socket_path = path };
	struct fixture *f = *state;

	memset(path, 'p', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	errno = 0;
	assert_null(bird_ctl_new(f->loop, &cfg));
	assert_int_equal(errno, EINVAL);
	cfg.socket_path = "";
	assert_null(bird_ctl_new(f->loop, &cfg));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_greeting_brings_the_client_up_and_replies_arrive, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_replies_written_three_bytes_at_a_time_parse_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commands_go_one_at_a_time_in_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_server_closing_mid_reply_fails_the_commands_and_reconnects, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_absent_bird_is_retried_until_it_appears, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_command_without_reply_times_out_and_reconnects,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_from_the_server_drops_the_connection,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsolicited_reply_drops_the_connection, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_wrong_greeting_never_comes_up, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_commands_are_validated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_path_too_long_is_refused, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
