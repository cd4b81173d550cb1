/* Socket.IO v5 packet codec: see sio_codec.h. */
#include "sio_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg_limits.h"
#include "validate.h"

const sio_limits sio_default_limits = {
    .max_len = MSG_WS_MAX_PAYLOAD_DEFAULT,
    .max_attachments = MSG_SIO_ATTACHMENTS_DEFAULT,
    .max_nsp_len = MSG_SIO_NSP_MAX,
};

static const char *const reserved_events[] = {
    "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener", NULL,
};

static int is_digit(char c) { return c >= '0' && c <= '9'; }

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

    if (!json_object_is_type(v, json_type_object) || !json_object_object_get_ex(v, "_placeholder", &ph) ||
        !json_object_is_type(ph, json_type_boolean) || !json_object_get_boolean(ph))
        return 0;
    if (!json_object_object_get_ex(v, "num", &n) || !json_object_is_type(n, json_type_int) ||
        json_object_get_int64(n) < 0 || json_object_get_int64(n) > 0xffffffffll)
        return -1; /* a placeholder without a usable index */
    *num = (unsigned)json_object_get_int64(n);
    return 1;
}

/* Every placeholder must name an attachment that exists. The JSON depth is
 * bounded by the parser (MSG_JSON_MAX_DEPTH), so the recursion is too. */
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
            if (!placeholders_ok(json_object_array_get_idx(v, i), attachments))
                return 0;
        return 1;
    default:
        return 1;
    }
}

/* The data part: parsed by the project's one JSON parser (shared/validate.c),
 * with its rules for every input from outside: strict JSON, UTF-8, the one
 * depth limit, escaped lone surrogates refused (json-c would turn them into
 * U+FFFD silently). Whatever it refuses makes the packet undecodable. */
static json_object *parse_json(const char *s, size_t len)
{
    struct msg_error err;

    return msg_json_parse(s, len, &err);
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
        return d && (json_object_is_type(d, json_type_object) || json_object_is_type(d, json_type_string));
    case SIO_EVENT:
    case SIO_BINARY_EVENT:
        if (!d || !json_object_is_type(d, json_type_array) || json_object_array_length(d) < 1)
            return 0;
        first = json_object_array_get_idx(d, 0);
        if (json_object_is_type(first, json_type_int) || json_object_is_type(first, json_type_double))
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

int sio_packet_decode(const char *s, size_t len, const sio_limits *lim, sio_packet *out)
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
    /* the transports validate UTF-8 too; the codec does not rely on it:
	 * the header here, the data in parse_json() */
    if (!msg_utf8_valid(s, i))
        return SIO_EBADPACKET;
    if (i < len) {
        out->data = parse_json(s + i, len - i);
        if (!out->data)
            return SIO_EBADPACKET;
    }
    if (!payload_ok(out->type, out->data) ||
        ((out->type == SIO_ACK || out->type == SIO_BINARY_ACK) && out->id == SIO_NO_ACK) ||
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

char *sio_packet_encode(int type, const char *nsp, int64_t id, unsigned attachments, json_object *data, size_t *len)
{
    const char *js = NULL;
    size_t jl = 0;

    if (data)
        js = json_object_to_json_string_length(data, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &jl);
    if (data && !js)
        return NULL;
    return sio_packet_encode_text(type, nsp, id, attachments, js, jl, len);
}

char *sio_packet_encode_text(int type, const char *nsp, int64_t id, unsigned attachments, const char *js, size_t jl,
                             size_t *len)
{
    size_t nl = 0, o;
    char head[64], *out;
    int hl;

    if (nsp && strcmp(nsp, "/"))
        nl = strlen(nsp);

    hl = snprintf(head, sizeof(head), "%d", type);
    if (type == SIO_BINARY_EVENT || type == SIO_BINARY_ACK)
        hl += snprintf(head + hl, sizeof(head) - (size_t)hl, "%u-", attachments);
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
