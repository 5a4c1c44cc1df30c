/* Incremental parser of BIRD's control-socket replies, and decoders of the
 * replies to `show protocols` and `configure [check]`. See bird_reply.h for
 * the wire format. */
#include "bird_reply.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct item {
	enum bird_item kind;
	struct bird_reply reply;
	char *async;
	size_t bytes;
	struct item *next;
};

struct bird_parser {
	char *line; /* the line being received, without its '\n' */
	size_t line_len, line_cap;
	struct bird_reply cur; /* the reply being received */
	size_t cur_cap, cur_bytes;
	int last_code; /* code of the previous line of cur, -1 between replies */
	int err;
	const char *why;
	struct item *head, *tail;
	size_t queued_bytes;
};

enum bird_code_class bird_code_class(uint16_t code)
{
	switch (code / 1000) {
	case 0:
		return BIRD_CLASS_SUCCESS;
	case 1:
		return BIRD_CLASS_ENTRY;
	case 2:
		return BIRD_CLASS_HEADING;
	case 8:
		return BIRD_CLASS_RUNTIME_ERROR;
	case 9:
		return BIRD_CLASS_PARSE_ERROR;
	default:
		return BIRD_CLASS_UNKNOWN;
	}
}

bool bird_reply_ok(const struct bird_reply *r)
{
	return r && r->n_lines && bird_code_class(r->code) == BIRD_CLASS_SUCCESS;
}

const char *bird_reply_message(const struct bird_reply *r)
{
	if (!r || !r->n_lines)
		return "";
	return r->lines[r->n_lines - 1].text;
}

void bird_reply_clear(struct bird_reply *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_lines; i++)
		free(r->lines[i].text);
	free(r->lines);
	memset(r, 0, sizeof(*r));
}

struct bird_parser *bird_parser_new(void)
{
	struct bird_parser *p = calloc(1, sizeof(*p));

	if (p)
		p->last_code = -1;
	return p;
}

static void drop_queue(struct bird_parser *p)
{
	struct item *it = p->head;

	while (it) {
		struct item *next = it->next;

		bird_reply_clear(&it->reply);
		free(it->async);
		free(it);
		it = next;
	}
	p->head = p->tail = NULL;
	p->queued_bytes = 0;
}

void bird_parser_reset(struct bird_parser *p)
{
	if (!p)
		return;
	drop_queue(p);
	bird_reply_clear(&p->cur);
	p->cur_cap = p->cur_bytes = 0;
	p->line_len = 0;
	p->last_code = -1;
	p->err = 0;
	p->why = NULL;
}

void bird_parser_free(struct bird_parser *p)
{
	if (!p)
		return;
	bird_parser_reset(p);
	free(p->line);
	free(p);
}

const char *bird_parser_error(const struct bird_parser *p)
{
	return p && p->err ? p->why : NULL;
}

static int fail(struct bird_parser *p, int err, const char *why)
{
	p->err = err;
	p->why = why;
	return err;
}

static int enqueue(struct bird_parser *p, struct item *it)
{
	if (p->queued_bytes + it->bytes > BIRD_REPLY_MAX_SIZE) {
		bird_reply_clear(&it->reply);
		free(it->async);
		free(it);
		return fail(p, -EMSGSIZE, "unread replies exceed the size limit");
	}
	p->queued_bytes += it->bytes;
	if (p->tail)
		p->tail->next = it;
	else
		p->head = it;
	p->tail = it;
	return 0;
}

/* strndup() without reading past len: the line buffer is not terminated. */
static char *dup_mem(const char *s, size_t len)
{
	char *d = malloc(len + 1);

	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

static int add_line(struct bird_parser *p, uint16_t code, const char *text, size_t len)
{
	char *copy;

	/* Each line costs its text plus the bookkeeping, so that a flood of
	 * empty lines is bounded too. */
	if (p->cur_bytes + len + sizeof(struct bird_line) + 1 > BIRD_REPLY_MAX_SIZE)
		return fail(p, -EMSGSIZE, "reply exceeds the size limit");
	if (p->cur.n_lines == p->cur_cap) {
		size_t cap = p->cur_cap ? p->cur_cap * 2 : 8;
		struct bird_line *l = realloc(p->cur.lines, cap * sizeof(*l));

		if (!l)
			return fail(p, -ENOMEM, "out of memory");
		p->cur.lines = l;
		p->cur_cap = cap;
	}
	copy = dup_mem(text, len);
	if (!copy)
		return fail(p, -ENOMEM, "out of memory");
	p->cur.lines[p->cur.n_lines].code = code;
	p->cur.lines[p->cur.n_lines].text = copy;
	p->cur.n_lines++;
	p->cur_bytes += len + sizeof(struct bird_line) + 1;
	return 0;
}

static int finish_reply(struct bird_parser *p, uint16_t code)
{
	struct item *it = calloc(1, sizeof(*it));

	if (!it)
		return fail(p, -ENOMEM, "out of memory");
	p->cur.code = code;
	it->kind = BIRD_ITEM_REPLY;
	it->reply = p->cur;
	it->bytes = p->cur_bytes;
	memset(&p->cur, 0, sizeof(p->cur));
	p->cur_cap = p->cur_bytes = 0;
	p->last_code = -1;
	return enqueue(p, it);
}

static int process_line(struct bird_parser *p, const char *s, size_t len)
{
	uint16_t code;
	int r;

	if (len == 0)
		return fail(p, -EPROTO, "empty line");
	if (s[0] == '+') {
		struct item *it = calloc(1, sizeof(*it));

		if (!it || !(it->async = dup_mem(s + 1, len - 1))) {
			free(it);
			return fail(p, -ENOMEM, "out of memory");
		}
		it->kind = BIRD_ITEM_ASYNC;
		it->bytes = len + sizeof(*it);
		return enqueue(p, it);
	}
	if (s[0] == ' ') {
		if (p->last_code < 0)
			return fail(p, -EPROTO, "continuation line outside a reply");
		return add_line(p, (uint16_t)p->last_code, s + 1, len - 1);
	}
	if (len < 5 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
	    !isdigit((unsigned char)s[2]) || !isdigit((unsigned char)s[3]))
		return fail(p, -EPROTO, "line does not start with a 4-digit code");
	if (s[4] != '-' && s[4] != ' ')
		return fail(p, -EPROTO, "code not followed by '-' or ' '");
	code = (uint16_t)((s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
			  (s[3] - '0'));
	r = add_line(p, code, s + 5, len - 5);
	if (r < 0)
		return r;
	if (s[4] == '-') {
		p->last_code = code;
		return 0;
	}
	return finish_reply(p, code);
}

static int append(struct bird_parser *p, const char *s, size_t n)
{
	if (memchr(s, '\0', n))
		return fail(p, -EPROTO, "NUL byte in a line");
	if (p->line_len + n > BIRD_REPLY_MAX_LINE)
		return fail(p, -EMSGSIZE, "line exceeds the length limit");
	if (p->line_len + n > p->line_cap) {
		size_t cap = p->line_cap ? p->line_cap : 256;
		char *l;

		while (cap < p->line_len + n)
			cap *= 2;
		l = realloc(p->line, cap);
		if (!l)
			return fail(p, -ENOMEM, "out of memory");
		p->line = l;
		p->line_cap = cap;
	}
	memcpy(p->line + p->line_len, s, n);
	p->line_len += n;
	return 0;
}

int bird_parser_feed(struct bird_parser *p, const void *buf, size_t len)
{
	const char *s = buf;

	if (p->err)
		return p->err;
	while (len) {
		const char *nl = memchr(s, '\n', len);
		size_t n = nl ? (size_t)(nl - s) : len;
		int r;

		if (p->line_len == 0 && nl) {
			/* Whole line in the buffer: no copy. */
			if (memchr(s, '\0', n))
				return fail(p, -EPROTO, "NUL byte in a line");
			if (n > BIRD_REPLY_MAX_LINE)
				return fail(p, -EMSGSIZE, "line exceeds the length limit");
			r = process_line(p, s, n);
		} else {
			r = append(p, s, n);
			if (r == 0 && nl) {
				r = process_line(p, p->line, p->line_len);
				p->line_len = 0;
			}
		}
		if (r < 0)
			return r;
		if (!nl)
			break;
		s += n + 1;
		len -= n + 1;
	}
	return 0;
}

enum bird_item bird_parser_next(struct bird_parser *p, struct bird_reply *ret_reply,
				char **ret_async)
{
	struct item *it = p->head;
	enum bird_item kind;

	if (!it)
		return BIRD_ITEM_NONE;
	p->head = it->next;
	if (!p->head)
		p->tail = NULL;
	p->queued_bytes -= it->bytes;
	kind = it->kind;
	if (kind == BIRD_ITEM_REPLY)
		*ret_reply = it->reply;
	else
		*ret_async = it->async;
	free(it);
	return kind;
}

/* ---- show protocols ---- */

/* Next whitespace-separated token of *s into buf (truncated), advancing
 * *s. false if there is none. */
static bool next_token(const char **s, char *buf, size_t len)
{
	const char *p = *s, *start;
	size_t n;

	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return false;
	start = p;
	while (*p && *p != ' ' && *p != '\t')
		p++;
	n = (size_t)(p - start);
	if (n >= len)
		n = len - 1;
	memcpy(buf, start, n);
	buf[n] = '\0';
	*s = p;
	return true;
}

/* "2026-11-27": the date half of a since column BIRD printed in two parts. */
static bool looks_like_date(const char *t)
{
	return strlen(t) == 10 && isdigit((unsigned char)t[0]) && t[4] == '-' && t[7] == '-';
}

static bool looks_like_time(const char *t)
{
	return strlen(t) >= 8 && isdigit((unsigned char)t[0]) && isdigit((unsigned char)t[1]) &&
	       t[2] == ':' && t[5] == ':';
}

static int parse_protocol_row(const char *text, struct bird_protocol *ret)
{
	const char *s = text, *peek;
	char tok[48];
	size_t n;

	memset(ret, 0, sizeof(*ret));
	if (!next_token(&s, ret->name, sizeof(ret->name)) ||
	    !next_token(&s, ret->proto, sizeof(ret->proto)) ||
	    !next_token(&s, ret->table, sizeof(ret->table)) ||
	    !next_token(&s, ret->state, sizeof(ret->state)) ||
	    !next_token(&s, ret->since, sizeof(ret->since)))
		return -EBADMSG;
	/* With `timeformat protocol iso long`, since is "date time". */
	peek = s;
	if (looks_like_date(ret->since) && next_token(&peek, tok, sizeof(tok)) &&
	    looks_like_time(tok)) {
		n = strlen(ret->since);
		snprintf(ret->since + n, sizeof(ret->since) - n, " %s", tok);
		s = peek;
	}
	while (*s == ' ' || *s == '\t')
		s++;
	snprintf(ret->info, sizeof(ret->info), "%s", s);
	/* BIRD pads the info column with spaces. */
	n = strlen(ret->info);
	while (n && (ret->info[n - 1] == ' ' || ret->info[n - 1] == '\t'))
		ret->info[--n] = '\0';
	return 0;
}

int bird_parse_protocols(const struct bird_reply *r, struct bird_protocol **ret, size_t *ret_n)
{
	struct bird_protocol *rows = NULL;
	size_t n = 0;

	if (!bird_reply_ok(r))
		return -EIO;
	for (size_t i = 0; i < r->n_lines; i++) {
		struct bird_protocol *grown;
		int e;

		if (r->lines[i].code != BIRD_CODE_PROTOCOL_LIST)
			continue;
		grown = realloc(rows, (n + 1) * sizeof(*rows));
		if (!grown) {
			free(rows);
			return -ENOMEM;
		}
		rows = grown;
		e = parse_protocol_row(r->lines[i].text, &rows[n]);
		if (e < 0) {
			free(rows);
			return e;
		}
		n++;
	}
	*ret = rows;
	*ret_n = n;
	return 0;
}

/* ---- configure ---- */

/* Reads the location BIRD 2 puts in an 8002 message: "FILE:LINE:COL text"
 * (2.0.x) or "FILE, line LINE: text" (older). The file name may contain
 * ':' itself, so the last ":digits:digits " wins. */
static void parse_location(const char *msg, unsigned *ret_line, unsigned *ret_col)
{
	const char *p;
	unsigned line, col;
	int used;

	p = strstr(msg, ", line ");
	if (p && sscanf(p, ", line %u:%n", &line, &used) == 1 && used > 0) {
		*ret_line = line;
		return;
	}
	for (p = strchr(msg, ':'); p; p = strchr(p + 1, ':')) {
		used = 0;
		if (sscanf(p, ":%u:%u%n", &line, &col, &used) == 2 && used > 0 &&
		    (p[used] == ' ' || p[used] == '\0') && isdigit((unsigned char)p[1])) {
			*ret_line = line;
			*ret_col = col;
			return;
		}
	}
}

void bird_parse_configure(const struct bird_reply *r, struct bird_configure_result *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->status = BIRD_CONFIGURE_UNEXPECTED;
	if (!r || !r->n_lines)
		return;
	ret->code = r->code;
	snprintf(ret->message, sizeof(ret->message), "%s", bird_reply_message(r));
	switch (r->code) {
	case BIRD_CODE_CONFIG_OK:
	case BIRD_CODE_RECONFIGURED:
	case BIRD_CODE_RECONFIG_PROGRESS:
	case BIRD_CODE_RECONFIG_QUEUED:
	case BIRD_CODE_RECONFIG_UNQUEUED:
	case BIRD_CODE_RECONFIG_CONFIRMED:
	case BIRD_CODE_NOTHING_TO_DO:
		ret->status = BIRD_CONFIGURE_OK;
		return;
	case BIRD_CODE_RECONFIG_SHUTDOWN:
		ret->status = BIRD_CONFIGURE_REJECTED;
		return;
	default:
		break;
	}
	switch (bird_code_class(r->code)) {
	case BIRD_CLASS_RUNTIME_ERROR:
	case BIRD_CLASS_PARSE_ERROR:
		ret->status = BIRD_CONFIGURE_REJECTED;
		if (r->code == BIRD_CODE_CONFIG_ERROR)
			parse_location(ret->message, &ret->line, &ret->column);
		return;
	default:
		return;
	}
}
