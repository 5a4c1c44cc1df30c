/* Unit tests for speaker/bird_reply.c: the incremental parser of BIRD's
 * control-socket replies (every code class, both kinds of continuation
 * line, async messages between lines, a real transcript split at every
 * byte offset, size limits, garbage) and the decoders of `show protocols`
 * and `configure [check]` replies. Transcripts are as BIRD 2.0.12 prints
 * them.
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

#include "../../speaker/bird_reply.h"

/* greeting, show protocols, a failing configure check, a good one,
 * configure, an async message between two lines of a reply, a parse error. */
static const char transcript[] =
	"0001 BIRD 2.0.12 ready.\n"
	"2002-Name       Proto      Table      State  Since         Info\n"
	"1002-device1    Device     ---        up     21:12:06.183  \n"
	" ilb_peer_0 BGP        ---        start  21:12:06.183  Active        \n"
	"0000 \n"
	"0002-Reading configuration from /tmp/bt/bad.conf\n"
	"8002 /tmp/bt/bad.conf:2:10 syntax error, unexpected CF_SYM_UNDEFINED\n"
	"0002-Reading configuration from /tmp/bt/b.conf\n"
	"0020 Configuration OK\n"
	"0002-Reading configuration from /tmp/bt/b.conf\n"
	"+Config timeout expired, starting undo\n"
	"0003 Reconfigured\n"
	"9001 syntax error, unexpected CF_SYM_UNDEFINED\n";

struct collected {
	struct bird_reply replies[16];
	size_t n_replies;
	char *asyncs[8];
	size_t n_asyncs;
	char order[32]; /* 'R' / 'A' in arrival order */
};

static void drain(struct bird_parser *p, struct collected *c)
{
	struct bird_reply r;
	char *a;
	enum bird_item k;

	while ((k = bird_parser_next(p, &r, &a)) != BIRD_ITEM_NONE) {
		size_t n = strlen(c->order);

		if (k == BIRD_ITEM_REPLY) {
			assert_true(c->n_replies < 16);
			c->replies[c->n_replies++] = r;
			c->order[n] = 'R';
		} else {
			assert_true(c->n_asyncs < 8);
			c->asyncs[c->n_asyncs++] = a;
			c->order[n] = 'A';
		}
	}
}

static void collected_clear(struct collected *c)
{
	for (size_t i = 0; i < c->n_replies; i++)
		bird_reply_clear(&c->replies[i]);
	for (size_t i = 0; i < c->n_asyncs; i++)
		free(c->asyncs[i]);
	memset(c, 0, sizeof(*c));
}

static void check_transcript(const struct collected *c)
{
	const struct bird_reply *r = c->replies;

	assert_int_equal(c->n_replies, 6);
	assert_int_equal(c->n_asyncs, 1);
	assert_string_equal(c->order, "RRRRARR");
	/* greeting */
	assert_int_equal(r[0].code, BIRD_CODE_WELCOME);
	assert_int_equal(r[0].n_lines, 1);
	assert_string_equal(r[0].lines[0].text, "BIRD 2.0.12 ready.");
	/* show protocols: heading, two rows (the second a ' ' continuation) */
	assert_int_equal(r[1].code, BIRD_CODE_OK);
	assert_int_equal(r[1].n_lines, 4);
	assert_int_equal(r[1].lines[0].code, BIRD_CODE_PROTOCOL_HEADING);
	assert_int_equal(r[1].lines[1].code, BIRD_CODE_PROTOCOL_LIST);
	assert_int_equal(r[1].lines[2].code, BIRD_CODE_PROTOCOL_LIST);
	assert_string_equal(r[1].lines[2].text,
			    "ilb_peer_0 BGP        ---        start  21:12:06.183  Active        ");
	assert_string_equal(r[1].lines[3].text, "");
	assert_true(bird_reply_ok(&r[1]));
	/* failing check */
	assert_int_equal(r[2].code, BIRD_CODE_CONFIG_ERROR);
	assert_int_equal(r[2].n_lines, 2);
	assert_false(bird_reply_ok(&r[2]));
	assert_string_equal(bird_reply_message(&r[2]),
			    "/tmp/bt/bad.conf:2:10 syntax error, unexpected CF_SYM_UNDEFINED");
	assert_int_equal(r[3].code, BIRD_CODE_CONFIG_OK);
	/* configure, with the async line not part of it */
	assert_int_equal(r[4].code, BIRD_CODE_RECONFIGURED);
	assert_int_equal(r[4].n_lines, 2);
	assert_string_equal(c->asyncs[0], "Config timeout expired, starting undo");
	assert_int_equal(r[5].code, BIRD_CODE_PARSE_ERROR);
	assert_int_equal(bird_code_class(r[5].code), BIRD_CLASS_PARSE_ERROR);
}

static void test_transcript_in_one_feed_gives_every_reply_and_async(void **state)
{
	struct bird_parser *p = bird_parser_new();
	struct collected c = { 0 };

	(void)state;
	assert_non_null(p);
	assert_int_equal(bird_parser_feed(p, transcript, strlen(transcript)), 0);
	drain(p, &c);
	check_transcript(&c);
	collected_clear(&c);
	bird_parser_free(p);
}

static void test_transcript_split_at_every_offset_gives_the_same_result(void **state)
{
	size_t len = strlen(transcript);

	(void)state;
	for (size_t cut = 0; cut <= len; cut++) {
		struct bird_parser *p = bird_parser_new();
		struct collected c = { 0 };

		assert_int_equal(bird_parser_feed(p, transcript, cut), 0);
		drain(p, &c);
		assert_int_equal(bird_parser_feed(p, transcript + cut, len - cut), 0);
		drain(p, &c);
		check_transcript(&c);
		collected_clear(&c);
		bird_parser_free(p);
	}
}

static void test_transcript_fed_byte_by_byte_gives_the_same_result(void **state)
{
	struct bird_parser *p = bird_parser_new();
	struct collected c = { 0 };

	(void)state;
	for (size_t i = 0; transcript[i]; i++) {
		assert_int_equal(bird_parser_feed(p, transcript + i, 1), 0);
		drain(p, &c);
	}
	check_transcript(&c);
	collected_clear(&c);
	bird_parser_free(p);
}

static void test_code_classes(void **state)
{
	(void)state;
	assert_int_equal(bird_code_class(0), BIRD_CLASS_SUCCESS);
	assert_int_equal(bird_code_class(20), BIRD_CLASS_SUCCESS);
	assert_int_equal(bird_code_class(1002), BIRD_CLASS_ENTRY);
	assert_int_equal(bird_code_class(2002), BIRD_CLASS_HEADING);
	assert_int_equal(bird_code_class(8002), BIRD_CLASS_RUNTIME_ERROR);
	assert_int_equal(bird_code_class(9001), BIRD_CLASS_PARSE_ERROR);
	assert_int_equal(bird_code_class(3000), BIRD_CLASS_UNKNOWN);
	assert_int_equal(bird_code_class(7999), BIRD_CLASS_UNKNOWN);
}

static void test_dash_continuations_keep_each_lines_code(void **state)
{
	static const char in[] = "1006-  BGP state:          Active\n"
				 "     Neighbor address: 192.0.2.9\n"
				 "1002-x BGP --- up 12:00:00 Established\n"
				 "8001 Route not found\n";
	struct bird_parser *p = bird_parser_new();
	struct collected c = { 0 };

	(void)state;
	assert_int_equal(bird_parser_feed(p, in, strlen(in)), 0);
	drain(p, &c);
	assert_int_equal(c.n_replies, 1);
	assert_int_equal(c.replies[0].code, 8001);
	assert_int_equal(c.replies[0].n_lines, 4);
	assert_int_equal(c.replies[0].lines[1].code, 1006);
	assert_string_equal(c.replies[0].lines[1].text, "    Neighbor address: 192.0.2.9");
	assert_int_equal(c.replies[0].lines[2].code, 1002);
	assert_int_equal(c.replies[0].lines[3].code, 8001);
	collected_clear(&c);
	bird_parser_free(p);
}

static void test_async_lines_between_replies_and_lines_keep_arrival_order(void **state)
{
	static const char in[] = "+first\n0000-a\n+0000 second\n 2\n0000 end\n+third\n";
	struct bird_parser *p = bird_parser_new();
	struct collected c = { 0 };

	(void)state;
	assert_int_equal(bird_parser_feed(p, in, strlen(in)), 0);
	drain(p, &c);
	assert_string_equal(c.order, "AARA");
	assert_string_equal(c.asyncs[0], "first");
	assert_string_equal(c.asyncs[1], "0000 second");
	assert_string_equal(c.asyncs[2], "third");
	assert_int_equal(c.replies[0].n_lines, 3);
	assert_string_equal(c.replies[0].lines[1].text, "2");
	assert_int_equal(c.replies[0].lines[1].code, 0);
	collected_clear(&c);
	bird_parser_free(p);
}

static void test_incomplete_reply_is_not_delivered(void **state)
{
	struct bird_parser *p = bird_parser_new();
	struct bird_reply r;
	char *a;

	(void)state;
	assert_int_equal(bird_parser_feed(p, "1002-x\n 2\n0000", 14), 0);
	assert_int_equal(bird_parser_next(p, &r, &a), BIRD_ITEM_NONE);
	assert_int_equal(bird_parser_feed(p, " done\n", 6), 0);
	assert_int_equal(bird_parser_next(p, &r, &a), BIRD_ITEM_REPLY);
	assert_int_equal(r.n_lines, 3);
	assert_string_equal(bird_reply_message(&r), "done");
	bird_reply_clear(&r);
	bird_parser_free(p);
}

static void expect_error(const char *in, size_t len, int err)
{
	struct bird_parser *p = bird_parser_new();
	struct collected c = { 0 };

	assert_int_equal(bird_parser_feed(p, in, len), err);
	assert_non_null(bird_parser_error(p));
	/* sticky */
	assert_int_equal(bird_parser_feed(p, "0000 ok\n", 8), err);
	drain(p, &c);
	collected_clear(&c);
	/* reset makes it usable again */
	bird_parser_reset(p);
	assert_null(bird_parser_error(p));
	assert_int_equal(bird_parser_feed(p, "0000 ok\n", 8), 0);
	drain(p, &c);
	assert_int_equal(c.n_replies, 1);
	collected_clear(&c);
	bird_parser_free(p);
}

static void test_garbage_is_a_protocol_error(void **state)
{
	(void)state;
	expect_error("abcd ok\n", 8, -EPROTO);
	expect_error("12a4 ok\n", 8, -EPROTO);
	expect_error("0000:ok\n", 8, -EPROTO);
	expect_error("0000\n", 5, -EPROTO);
	expect_error("00\n", 3, -EPROTO);
	expect_error("\n", 1, -EPROTO);
	expect_error(" orphan continuation\n", 21, -EPROTO);
	expect_error("0000 a\n more after the end\n", 27, -EPROTO);
	expect_error("0000 a\0b\n", 9, -EPROTO);
	expect_error("0000-a\0", 7, -EPROTO);
	expect_error("HTTP/1.1 200 OK\r\n", 17, -EPROTO);
}

static void test_line_over_the_limit_is_refused(void **state)
{
	size_t len = BIRD_REPLY_MAX_LINE + 2;
	char *big = malloc(len);
	struct bird_parser *p = bird_parser_new();

	(void)state;
	memcpy(big, "1002-", 5);
	memset(big + 5, 'x', len - 5);
	/* In pieces, never a newline: refused once it passes the limit. */
	for (size_t off = 0; off < len; off += 1000) {
		size_t n = len - off < 1000 ? len - off : 1000;
		int r = bird_parser_feed(p, big + off, n);

		if (r < 0) {
			assert_int_equal(r, -EMSGSIZE);
			break;
		}
		assert_true(off + n <= BIRD_REPLY_MAX_LINE);
	}
	assert_non_null(bird_parser_error(p));
	/* In one piece with its newline too. */
	bird_parser_reset(p);
	big[len - 1] = '\n';
	assert_int_equal(bird_parser_feed(p, big, len), -EMSGSIZE);
	/* Exactly at the limit is fine. */
	bird_parser_reset(p);
	big[BIRD_REPLY_MAX_LINE] = '\n';
	big[4] = ' ';
	assert_int_equal(bird_parser_feed(p, big, BIRD_REPLY_MAX_LINE + 1), 0);
	free(big);
	bird_parser_free(p);
}

static void test_reply_over_the_size_limit_is_refused(void **state)
{
	char line[1024 + 6];
	struct bird_parser *p = bird_parser_new();
	int r = 0;
	size_t fed = 0;

	(void)state;
	memcpy(line, "1007-", 5);
	memset(line + 5, 'r', 1024);
	line[sizeof(line) - 1] = '\n';
	while (fed < 2 * (size_t)BIRD_REPLY_MAX_SIZE && r == 0) {
		r = bird_parser_feed(p, line, sizeof(line));
		fed += sizeof(line);
	}
	assert_int_equal(r, -EMSGSIZE);
	assert_true(fed > BIRD_REPLY_MAX_SIZE / 2);
	bird_parser_free(p);
}

static struct bird_reply parse_one(const char *text)
{
	struct bird_parser *p = bird_parser_new();
	struct bird_reply r = { 0 };
	char *a = NULL;

	assert_int_equal(bird_parser_feed(p, text, strlen(text)), 0);
	assert_int_equal(bird_parser_next(p, &r, &a), BIRD_ITEM_REPLY);
	bird_parser_free(p);
	return r;
}

static void test_show_protocols_rows_are_decoded(void **state)
{
	struct bird_reply r = parse_one(
		"2002-Name       Proto      Table      State  Since         Info\n"
		"1002-device1    Device     ---        up     21:12:06.183  \n"
		" ilb_peer_0 BGP        ---        up     12:00:00      Established   \n"
		" ilb_peer_1 BGP        ---        start  2026-11-27 08:01:02  Active        "
		"Socket: Connection refused\n"
		" ilb_k0_v4  Kernel     ilb_p0_v4  up     2026-11-26    \n"
		"0000 \n");
	struct bird_protocol *rows = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(bird_parse_protocols(&r, &rows, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(rows[0].name, "device1");
	assert_string_equal(rows[0].info, "");
	assert_string_equal(rows[1].name, "ilb_peer_0");
	assert_string_equal(rows[1].proto, "BGP");
	assert_string_equal(rows[1].table, "---");
	assert_string_equal(rows[1].state, "up");
	assert_string_equal(rows[1].since, "12:00:00");
	assert_string_equal(rows[1].info, "Established");
	assert_string_equal(rows[2].state, "start");
	assert_string_equal(rows[2].since, "2026-11-27 08:01:02");
	assert_string_equal(rows[2].info, "Active        Socket: Connection refused");
	assert_string_equal(rows[3].table, "ilb_p0_v4");
	assert_string_equal(rows[3].since, "2026-11-26");
	free(rows);
	bird_reply_clear(&r);
}

static void test_show_protocols_errors(void **state)
{
	struct bird_reply err = parse_one("9001 syntax error\n");
	struct bird_reply bad = parse_one("1002-only three cols\n0000 \n");
	struct bird_reply empty = parse_one("0000 \n");
	struct bird_protocol *rows = (void *)1;
	size_t n = 7;

	(void)state;
	assert_int_equal(bird_parse_protocols(&err, &rows, &n), -EIO);
	assert_int_equal(bird_parse_protocols(&bad, &rows, &n), -EBADMSG);
	assert_ptr_equal(rows, (void *)1);
	assert_int_equal(bird_parse_protocols(&empty, &rows, &n), 0);
	assert_null(rows);
	assert_int_equal(n, 0);
	bird_reply_clear(&err);
	bird_reply_clear(&bad);
	bird_reply_clear(&empty);
}

static void expect_configure(const char *text, enum bird_configure_status st, uint16_t code,
			     unsigned line, unsigned col)
{
	struct bird_reply r = parse_one(text);
	struct bird_configure_result res;

	bird_parse_configure(&r, &res);
	assert_int_equal(res.status, st);
	assert_int_equal(res.code, code);
	assert_int_equal(res.line, line);
	assert_int_equal(res.column, col);
	bird_reply_clear(&r);
}

static void test_configure_results(void **state)
{
	struct bird_configure_result res;

	(void)state;
	expect_configure("0002-Reading configuration from /x\n0020 Configuration OK\n",
			 BIRD_CONFIGURE_OK, 20, 0, 0);
	expect_configure("0002-Reading configuration from /x\n0003 Reconfigured\n",
			 BIRD_CONFIGURE_OK, 3, 0, 0);
	expect_configure("0002-Reading configuration from /x\n0004 Reconfiguration in progress\n",
			 BIRD_CONFIGURE_OK, 4, 0, 0);
	expect_configure("0005 Reconfiguration already in progress, queueing new config\n",
			 BIRD_CONFIGURE_OK, 5, 0, 0);
	expect_configure("0019 Nothing to do\n", BIRD_CONFIGURE_OK, 19, 0, 0);
	expect_configure("0006 Reconfiguration ignored, shutting down\n", BIRD_CONFIGURE_REJECTED,
			 6, 0, 0);
	expect_configure("0002-Reading configuration from /tmp/bt/bad.conf\n"
			 "8002 /tmp/bt/bad.conf:2:10 syntax error, unexpected CF_SYM_UNDEFINED\n",
			 BIRD_CONFIGURE_REJECTED, 8002, 2, 10);
	expect_configure("8002 /run/a:b.conf, line 17: Unknown protocol\n", BIRD_CONFIGURE_REJECTED,
			 8002, 17, 0);
	expect_configure("8002 /run/a:1/b.conf:33:4 bad\n", BIRD_CONFIGURE_REJECTED, 8002, 33, 4);
	expect_configure("0002-Reading configuration from /tmp/nonexist\n"
			 "8002 /tmp/nonexist: No such file or directory\n",
			 BIRD_CONFIGURE_REJECTED, 8002, 0, 0);
	expect_configure("9001 syntax error, unexpected END\n", BIRD_CONFIGURE_REJECTED, 9001, 0,
			 0);
	expect_configure("0016 Access restricted\n", BIRD_CONFIGURE_UNEXPECTED, 16, 0, 0);
	expect_configure("1000 BIRD 2.0.12\n", BIRD_CONFIGURE_UNEXPECTED, 1000, 0, 0);
	bird_parse_configure(NULL, &res);
	assert_int_equal(res.status, BIRD_CONFIGURE_UNEXPECTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transcript_in_one_feed_gives_every_reply_and_async),
		cmocka_unit_test(test_transcript_split_at_every_offset_gives_the_same_result),
		cmocka_unit_test(test_transcript_fed_byte_by_byte_gives_the_same_result),
		cmocka_unit_test(test_code_classes),
		cmocka_unit_test(test_dash_continuations_keep_each_lines_code),
		cmocka_unit_test(test_async_lines_between_replies_and_lines_keep_arrival_order),
		cmocka_unit_test(test_incomplete_reply_is_not_delivered),
		cmocka_unit_test(test_garbage_is_a_protocol_error),
		cmocka_unit_test(test_line_over_the_limit_is_refused),
		cmocka_unit_test(test_reply_over_the_size_limit_is_refused),
		cmocka_unit_test(test_show_protocols_rows_are_decoded),
		cmocka_unit_test(test_show_protocols_errors),
		cmocka_unit_test(test_configure_results),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
