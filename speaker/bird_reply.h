/* BIRD's control-socket protocol (the one birdc speaks), parsed: pure code,
 * no I/O.
 *
 * The wire format (BIRD 2, nest/cli.c and doc/reply_codes), one line per
 * '\n':
 *
 *	"dddd-text"   a line of the current reply; more lines follow
 *	" text"       a further line with the code of the previous line
 *	"dddd text"   the last line of the reply; its code is the reply's code
 *	"+text"       an asynchronous message, not part of any reply (may come
 *	              between two lines of a reply)
 *
 * On connect BIRD greets with a one-line reply: "0001 BIRD 2.0.12 ready.".
 * Codes by class: 0xxx success, 1xxx table entry, 2xxx table heading,
 * 8xxx run-time error, 9xxx parse error of the command.
 *
 * Anything else (a line not of these shapes, a NUL byte, a line above
 * BIRD_REPLY_MAX_LINE or a reply above BIRD_REPLY_MAX_SIZE) puts the parser
 * in a sticky error state: the stream cannot be resynchronised, the caller
 * drops the connection and reconnects.
 */
#ifndef IRONLB_SPEAKER_BIRD_REPLY_H
#define IRONLB_SPEAKER_BIRD_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BIRD_REPLY_MAX_LINE (64 * 1024)
#define BIRD_REPLY_MAX_SIZE (8 * 1024 * 1024)

/* Codes ironlb uses (doc/reply_codes of BIRD 2.0.12, checked against
 * sysdep/unix/main.c: cmd_check_config, cmd_reconfig_msg). */
#define BIRD_CODE_OK 0			/* end of a table or a command */
#define BIRD_CODE_WELCOME 1		/* "BIRD 2.0.12 ready." */
#define BIRD_CODE_READING_CONFIG 2	/* "Reading configuration from FILE" (first line) */
#define BIRD_CODE_RECONFIGURED 3	/* configure: applied */
#define BIRD_CODE_RECONFIG_PROGRESS 4	/* configure: accepted, protocols still restarting */
#define BIRD_CODE_RECONFIG_QUEUED 5	/* configure: queued behind a running one */
#define BIRD_CODE_RECONFIG_SHUTDOWN 6	/* configure: ignored, BIRD is shutting down */
#define BIRD_CODE_RECONFIG_UNQUEUED 17	/* configure: a queued config was dropped */
#define BIRD_CODE_RECONFIG_CONFIRMED 18 /* configure confirm */
#define BIRD_CODE_NOTHING_TO_DO 19	/* configure undo/confirm with nothing pending */
#define BIRD_CODE_CONFIG_OK 20		/* configure check: the file parses */
#define BIRD_CODE_PROTOCOL_LIST 1002	/* show protocols: one row */
#define BIRD_CODE_PROTOCOL_DETAILS 1006 /* show protocols all: details */
#define BIRD_CODE_PROTOCOL_HEADING 2002 /* show protocols: column names */
#define BIRD_CODE_REPLY_TOO_LONG 8000	/* BIRD's own output overflowed */
#define BIRD_CODE_CONFIG_ERROR 8002	/* "FILE:LINE:COL message" or "FILE: strerror" */
#define BIRD_CODE_PARSE_ERROR 9001	/* the command itself did not parse */

enum bird_code_class {
	BIRD_CLASS_SUCCESS = 0,
	BIRD_CLASS_ENTRY = 1,
	BIRD_CLASS_HEADING = 2,
	BIRD_CLASS_RUNTIME_ERROR = 8,
	BIRD_CLASS_PARSE_ERROR = 9,
	BIRD_CLASS_UNKNOWN = -1, /* 3xxx-7xxx: not assigned by BIRD */
};

struct bird_line {
	uint16_t code;
	char *text; /* without code and separator, NUL-terminated, no NUL inside */
};

/* One complete reply. code is the code of its last line. */
struct bird_reply {
	uint16_t code;
	struct bird_line *lines;
	size_t n_lines;
};

enum bird_item { BIRD_ITEM_NONE, BIRD_ITEM_REPLY, BIRD_ITEM_ASYNC };

struct bird_parser;

enum bird_code_class bird_code_class(uint16_t code);
/* Whether a reply ends in success (class 0xxx). */
bool bird_reply_ok(const struct bird_reply *r);
/* The text of the reply's last line ("" if none); borrowed. */
const char *bird_reply_message(const struct bird_reply *r);
/* Frees what r holds and zeroes it; NULL is a no-op. */
void bird_reply_clear(struct bird_reply *r);

/* NULL on allocation failure. */
struct bird_parser *bird_parser_new(void);
void bird_parser_free(struct bird_parser *p);
/* Back to the start state (for a new connection): drops partial input,
 * queued items and the error state. */
void bird_parser_reset(struct bird_parser *p);
/* Consumes len bytes, split anywhere. Complete replies and async messages
 * are queued for bird_parser_next(). 0, -EPROTO (malformed input; sticky,
 * with bird_parser_error() saying why), -EMSGSIZE (line or reply too long;
 * sticky) or -ENOMEM (sticky). */
int bird_parser_feed(struct bird_parser *p, const void *buf, size_t len);
/* Why the parser is in its error state, or NULL. Borrowed. */
const char *bird_parser_error(const struct bird_parser *p);
/* Pops the oldest complete item in arrival order: BIRD_ITEM_REPLY moves a
 * reply into *ret_reply (the caller clears it), BIRD_ITEM_ASYNC a malloc'd
 * message (text after '+') into *ret_async (the caller frees it);
 * BIRD_ITEM_NONE if nothing is queued. */
enum bird_item bird_parser_next(struct bird_parser *p, struct bird_reply *ret_reply,
				char **ret_async);

/* ---- replies of the commands the speaker sends ---- */

/* One row of `show protocols`. Strings are truncated to fit. */
struct bird_protocol {
	char name[64];
	char proto[32];
	char table[64];
	char state[16]; /* "up", "start", "down", "flush", ... */
	char since[48]; /* as BIRD prints it ("12:00:00.123", "2026-11-27 12:00:00") */
	char info[256]; /* "Established", "Active Socket: Connection refused", "" */
};

/* Rows of a successful `show protocols` reply into *ret (malloc'd, free();
 * NULL with *ret_n 0 for no rows). 0; -EIO if the reply is an error (its
 * message in bird_reply_message()); -EBADMSG if a row has fewer than the
 * name, protocol, table, state and since columns; -ENOMEM. */
int bird_parse_protocols(const struct bird_reply *r, struct bird_protocol **ret, size_t *ret_n);

enum bird_configure_status {
	BIRD_CONFIGURE_OK,	   /* 0020 (check), 0003, 0004, 0005, 0017, 0018, 0019 */
	BIRD_CONFIGURE_REJECTED,   /* 8002 config error, other 8xxx/9xxx, 0006 shutting down */
	BIRD_CONFIGURE_UNEXPECTED, /* any other code: treat as failure */
};

/* The outcome of `configure check "FILE"` or `configure "FILE"`. */
struct bird_configure_result {
	enum bird_configure_status status;
	uint16_t code;	   /* the reply's final code */
	char message[512]; /* its text, e.g. "/run/x.conf:12:3 syntax error, ..." */
	unsigned line;	   /* 8002 with a location: the line BIRD blames, else 0 */
	unsigned column;   /* and the column, if BIRD gave one */
};

/* Fills *ret from r; never fails (a reply of unknown shape is
 * BIRD_CONFIGURE_UNEXPECTED). */
void bird_parse_configure(const struct bird_reply *r, struct bird_configure_result *ret);

#endif
