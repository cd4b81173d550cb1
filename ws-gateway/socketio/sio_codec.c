/* Socket.IO v5 packet codec: see sio_codec.h. */
#include "sio_codec.h"

#include "../engineio/eio_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const sio_limits sio_default_limits = {
	.max_len = 1000000,
	.max_depth = 32,
	.max_attachments = 10,
	.max_nsp_len = 256,
};

static const char *const reserved_events[] = {
	"connect", "connect_error", "disconnect", "disconnecting",
	"newListener", "removeListener", NULL,
};

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

json_object *sio_placeholder_new(unsigned num)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "_placeholder", json_object_new_boolean(1));
	json_object_object_add(o, "num", json_object_new_int64(num));
	return o;
}

int sio_is_placeholder(json_object *v, unsigned *num)
{
	json_object *ph, *n;

	if (!json_object_is_type(v, json_type_object) ||
	    !json_object_object_get_ex(v, "_placeholder", &ph) ||
	    !json_object_is_type(ph, json_type_boolean) ||
	    !json_object_get_boolean(ph))
		return 0;
	if (!json_object_object_get_ex(v, "num", &n) ||
	    !json_object_is_type(n, json_type_int) || json_object_get_int64(n) < 0 ||
	    json_object_get_int64(n) > 0xffffffffll)
		return -1; /* a placeholder without a usable index */
	*num = (unsigned)json_object_get_int64(n);
	return 1;
}

/* Every placeholder must name an attachment that exists. The JSON depth is
 * bounded by the tokener, so the recursion is too. */
static int placeholders_ok(json_object *v, unsigned attachments)
{
	unsigned num;
	int r;

	switch (json_object_get_type(v)) {
	case json_type_object:
		r = sio_is_placeholder(v, &num);
		if (r < 0 || (r == 1 && num >= attachments))
			return 0;
		if (r == 1)
			return 1;
		json_object_object_foreach(v, key, val)
		{
			(void)key;
			if (!placeholders_ok(val, attachments))
				return 0;
		}
		return 1;
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(v); i++)
			if (!placeholders_ok(json_object_array_get_idx(v, i),
					     attachments))
				return 0;
		return 1;
	default:
		return 1;
	}
}

static int hex4(const char *s, size_t len, size_t i)
{
	int v = 0;

	if (i + 4 > len)
		return -1;
	for (size_t k = i; k < i + 4; k++) {
		int c = (unsigned char)s[k], d;

		d = c >= '0' && c <= '9' ? c - '0' :
		    c >= 'a' && c <= 'f' ? c - 'a' + 10 :
		    c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/*
 * json-c silently turns an escaped lone surrogate ("\ud800", which no UTF-8
 * text can hold) into U+FFFD. Rewrite each one as "\u0000" instead, so that
 * the application, which refuses NUL in text, refuses it rather than store a
 * replaced character. Returns a new copy (caller frees) or NULL when there
 * is none.
 */
static char *mark_lone_surrogates(const char *s, size_t len)
{
	char *copy = NULL;
	int in_string = 0;

	for (size_t i = 0; i < len; i++) {
		if (!in_string) {
			in_string = s[i] == '"';
			continue;
		}
		if (s[i] == '"') {
			in_string = 0;
			continue;
		}
		if (s[i] != '\\' || i + 1 >= len)
			continue;
		if (s[i + 1] != 'u') {
			i++;
			continue;
		}
		int cp = hex4(s, len, i + 2), lone = 0;

		if (cp >= 0xdc00 && cp <= 0xdfff)
			lone = 1;
		else if (cp >= 0xd800 && cp <= 0xdbff) {
			int lo = i + 7 < len && s[i + 6] == '\\' && s[i + 7] == 'u' ?
				 hex4(s, len, i + 8) : -1;

			if (lo >= 0xdc00 && lo <= 0xdfff)
				i += 6;
			else
				lone = 1;
		}
		if (lone) {
			if (!copy) {
				copy = malloc(len + 1);
				if (!copy)
					return NULL;
				memcpy(copy, s, len);
				copy[len] = '\0';
			}
			memcpy(copy + i + 2, "0000", 4);
		}
		i += 5;
	}
	return copy;
}

static json_object *parse_json(const char *s, size_t len, int depth)
{
	json_tokener *tok;
	json_object *o;
	char *marked;

	if (len > 0x7fffffff)
		return NULL;
	marked = mark_lone_surrogates(s, len);
	if (marked)
		s = marked;
	tok = json_tokener_new_ex(depth);
	if (!tok)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, s, (int)len);
	/* incomplete input, an error, or anything left over: invalid */
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	free(marked);
	return o;
}

static int payload_ok(int type, json_object *d)
{
	json_object *first;

	switch (type) {
	case SIO_CONNECT:
		return !d || json_object_is_type(d, json_type_object);
	case SIO_DISCONNECT:
		return !d;
	case SIO_CONNECT_ERROR:
		return d && (json_object_is_type(d, json_type_object) ||
			     json_object_is_type(d, json_type_string));
	case SIO_EVENT:
	case SIO_BINARY_EVENT:
		if (!d || !json_object_is_type(d, json_type_array) ||
		    json_object_array_length(d) < 1)
			return 0;
		first = json_object_array_get_idx(d, 0);
		if (json_object_is_type(first, json_type_int) ||
		    json_object_is_type(first, json_type_double))
			return 1;
		if (!json_object_is_type(first, json_type_string))
			return 0;
		for (const char *const *r = reserved_events; *r; r++)
			if (!strcmp(json_object_get_string(first), *r))
				return 0;
		return 1;
	case SIO_ACK:
	case SIO_BINARY_ACK:
		return d && json_object_is_type(d, json_type_array);
	default:
		return 0;
	}
}

int sio_packet_decode(const char *s, size_t len, const sio_limits *lim,
		      sio_packet *out)
{
	size_t i = 1;

	if (!lim)
		lim = &sio_default_limits;
	memset(out, 0, sizeof(*out));
	out->id = SIO_NO_ACK;
	out->nsp = "/";
	out->nsp_len = 1;
	if (len > lim->max_len)
		return SIO_ETOOBIG;
	if (len < 1 || s[0] < '0' || s[0] > '6')
		return SIO_EBADPACKET;
	/* the transports validate UTF-8 too; the codec does not rely on it
	 * (json-c lets encoded surrogates through) */
	if (!eio_utf8_valid((const uint8_t *)s, len))
		return SIO_EBADPACKET;
	out->type = s[0] - '0';

	if (out->type == SIO_BINARY_EVENT || out->type == SIO_BINARY_ACK) {
		size_t start = i;
		uint64_t n = 0;

		while (i < len && is_digit(s[i]) && i - start < 10)
			n = n * 10 + (uint64_t)(s[i++] - '0');
		if (i == start || i >= len || s[i] != '-')
			return SIO_EBADPACKET;
		if (n > lim->max_attachments)
			return SIO_ETOOBIG;
		out->attachments = (unsigned)n;
		i++;
	}
	if (i < len && s[i] == '/') {
		size_t start = i;

		while (i < len && s[i] != ',')
			i++;
		if (i - start > lim->max_nsp_len)
			return SIO_ETOOBIG;
		out->nsp = s + start;
		out->nsp_len = i - start;
		if (i < len)
			i++; /* the comma */
	}
	if (i < len && is_digit(s[i])) {
		size_t start = i;
		int64_t id = 0;

		while (i < len && is_digit(s[i])) {
			if (i - start >= SIO_ACK_ID_MAX_DIGITS)
				return SIO_EBADPACKET;
			id = id * 10 + (s[i++] - '0');
		}
		out->id = id;
	}
	if (i < len) {
		out->data = parse_json(s + i, len - i, lim->max_depth);
		if (!out->data)
			return SIO_EBADPACKET;
	}
	if (!payload_ok(out->type, out->data) ||
	    ((out->type == SIO_ACK || out->type == SIO_BINARY_ACK) &&
	     out->id == SIO_NO_ACK) ||
	    ((out->type == SIO_BINARY_EVENT || out->type == SIO_BINARY_ACK) &&
	     !placeholders_ok(out->data, out->attachments))) {
		sio_packet_clear(out);
		return SIO_EBADPACKET;
	}
	return SIO_OK;
}

void sio_packet_clear(sio_packet *p)
{
	json_object_put(p->data);
	p->data = NULL;
}

char *sio_packet_encode(int type, const char *nsp, int64_t id,
			unsigned attachments, json_object *data, size_t *len)
{
	const char *js = NULL;
	size_t jl = 0;

	if (data)
		js = json_object_to_json_string_length(
			data, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
			&jl);
	if (data && !js)
		return NULL;
	return sio_packet_encode_text(type, nsp, id, attachments, js, jl, len);
}

char *sio_packet_encode_text(int type, const char *nsp, int64_t id,
			     unsigned attachments, const char *js, size_t jl,
			     size_t *len)
{
	size_t nl = 0, o;
	char head[64], *out;
	int hl;

	if (nsp && strcmp(nsp, "/"))
		nl = strlen(nsp);

	hl = snprintf(head, sizeof(head), "%d", type);
	if (type == SIO_BINARY_EVENT || type == SIO_BINARY_ACK)
		hl += snprintf(head + hl, sizeof(head) - (size_t)hl, "%u-",
			       attachments);
	out = malloc((size_t)hl + nl + 1 + 24 + jl + 1);
	if (!out)
		return NULL;
	memcpy(out, head, (size_t)hl);
	o = (size_t)hl;
	if (nl) {
		memcpy(out + o, nsp, nl);
		o += nl;
		out[o++] = ',';
	}
	if (id >= 0)
		o += (size_t)sprintf(out + o, "%lld", (long long)id);
	if (jl)
		memcpy(out + o, js, jl);
	o += jl;
	out[o] = '\0';
	*len = o;
	return out;
}
