/* Unit tests of the Socket.IO packet codec: valid, truncated, oversized and
 * hostile input (deep nesting, attachment counts, invalid UTF-8, ack ids). */
#include <stdlib.h>
#include <string.h>

#include "msg_limits.h"
#include "socketio/sio_codec.h"
#include "check.h"

static int dec(const char *s, sio_packet *p) { return sio_packet_decode(s, strlen(s), NULL, p); }

/* decodes, checks the result code, and frees */
static int rc_of(const char *s)
{
    sio_packet p;
    int r = dec(s, &p);

    if (r == SIO_OK)
        sio_packet_clear(&p);
    return r;
}

static int nsp_is(const sio_packet *p, const char *nsp)
{
    return p->nsp_len == strlen(nsp) && !memcmp(p->nsp, nsp, p->nsp_len);
}

static void test_connect(void)
{
    sio_packet p;

    CHECK(dec("0", &p) == SIO_OK && p.type == SIO_CONNECT && nsp_is(&p, "/") && !p.data && p.id == SIO_NO_ACK);
    CHECK(dec("0/custom,", &p) == SIO_OK && nsp_is(&p, "/custom") && !p.data);
    CHECK(dec("0/custom", &p) == SIO_OK && nsp_is(&p, "/custom"));
    CHECK(dec("0{\"token\":\"123\"}", &p) == SIO_OK && json_object_is_type(p.data, json_type_object));
    sio_packet_clear(&p);
    CHECK(dec("0/custom,{\"token\":\"abc\"}", &p) == SIO_OK && nsp_is(&p, "/custom") && p.data != NULL);
    sio_packet_clear(&p);
    CHECK(rc_of("0[1]") == SIO_EBADPACKET);
    CHECK(rc_of("0\"x\"") == SIO_EBADPACKET);
    CHECK(rc_of("1") == SIO_OK);
    CHECK(rc_of("1/custom,") == SIO_OK);
    CHECK(rc_of("1{}") == SIO_EBADPACKET);
    CHECK(rc_of("4{\"message\":\"x\"}") == SIO_OK);
    CHECK(rc_of("4") == SIO_EBADPACKET);
}

static void test_event(void)
{
    sio_packet p;

    CHECK(dec("2[\"message\",1,\"2\",{\"3\":[true]}]", &p) == SIO_OK && p.type == SIO_EVENT &&
          json_object_array_length(p.data) == 4);
    sio_packet_clear(&p);
    CHECK(dec("2456[\"x\"]", &p) == SIO_OK && p.id == 456);
    sio_packet_clear(&p);
    CHECK(dec("2/nsp,7[\"x\"]", &p) == SIO_OK && p.id == 7 && nsp_is(&p, "/nsp"));
    sio_packet_clear(&p);
    CHECK(rc_of("2[1]") == SIO_OK); /* numeric event names are allowed */
    CHECK(rc_of("2") == SIO_EBADPACKET);
    CHECK(rc_of("2{}") == SIO_EBADPACKET);
    CHECK(rc_of("2[]") == SIO_EBADPACKET);
    CHECK(rc_of("2[null]") == SIO_EBADPACKET);
    CHECK(rc_of("2[\"connect\"]") == SIO_EBADPACKET);
    CHECK(rc_of("2[\"disconnecting\"]") == SIO_EBADPACKET);
    CHECK(rc_of("2abc[\"message-with-ack\",1]") == SIO_EBADPACKET);
    CHECK(rc_of("2[\"x\"]garbage") == SIO_EBADPACKET);
    CHECK(rc_of("2[\"x\"") == SIO_EBADPACKET); /* truncated */
    CHECK(rc_of("2[\"x\",]") == SIO_EBADPACKET);
    CHECK(rc_of("2['x']") == SIO_EBADPACKET);
    CHECK(rc_of("") == SIO_EBADPACKET);
    CHECK(rc_of("7") == SIO_EBADPACKET);
    CHECK(rc_of("abc") == SIO_EBADPACKET);
    CHECK(rc_of("4abc") == SIO_EBADPACKET);
    /* invalid UTF-8 inside a JSON string */
    CHECK(rc_of("2[\"\xc3\x28\"]") == SIO_EBADPACKET);
    CHECK(rc_of("2[\"\xed\xa0\x80\"]") == SIO_EBADPACKET);
    CHECK(rc_of("2[\"caf\xc3\xa9\"]") == SIO_OK);
}

static void test_ack(void)
{
    sio_packet p;

    CHECK(dec("3456[1]", &p) == SIO_OK && p.type == SIO_ACK && p.id == 456);
    sio_packet_clear(&p);
    CHECK(dec("3/custom,9[]", &p) == SIO_OK && p.id == 9);
    sio_packet_clear(&p);
    CHECK(rc_of("3[1]") == SIO_EBADPACKET); /* no id */
    CHECK(rc_of("3456{}") == SIO_EBADPACKET);
    CHECK(rc_of("3456") == SIO_EBADPACKET);
    /* ack ids: up to 15 digits (a safe JavaScript integer) */
    CHECK(rc_of("2999999999999999[\"x\"]") == SIO_OK);
    CHECK(rc_of("29999999999999999[\"x\"]") == SIO_EBADPACKET);
    CHECK(rc_of("399999999999999999999999999[1]") == SIO_EBADPACKET);
}

static void test_binary(void)
{
    sio_packet p;
    unsigned num;

    CHECK(dec("52-[\"message\",{\"_placeholder\":true,\"num\":0},"
              "{\"_placeholder\":true,\"num\":1}]",
              &p) == SIO_OK &&
          p.type == SIO_BINARY_EVENT && p.attachments == 2);
    if (p.data) {
        CHECK(sio_is_placeholder(json_object_array_get_idx(p.data, 2), &num) == 1 && num == 1);
        CHECK(sio_is_placeholder(json_object_array_get_idx(p.data, 0), &num) == 0);
    }
    sio_packet_clear(&p);
    CHECK(dec("62-789[{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]", &p) == SIO_OK &&
          p.type == SIO_BINARY_ACK && p.id == 789 && p.attachments == 2);
    sio_packet_clear(&p);
    CHECK(dec("51-/custom,3[\"m\",{\"_placeholder\":true,\"num\":0}]", &p) == SIO_OK && nsp_is(&p, "/custom") &&
          p.id == 3);
    sio_packet_clear(&p);
    CHECK(rc_of("51-[\"m\",{\"_placeholder\":true,\"num\":1}]") == SIO_EBADPACKET);
    CHECK(rc_of("51-[\"m\",{\"_placeholder\":true,\"num\":-1}]") == SIO_EBADPACKET);
    CHECK(rc_of("51-[\"m\",{\"_placeholder\":true,\"num\":\"0\"}]") == SIO_EBADPACKET);
    CHECK(rc_of("51-[\"m\",{\"_placeholder\":true}]") == SIO_EBADPACKET);
    CHECK(rc_of("51-[\"m\",[[{\"_placeholder\":true,\"num\":7}]]]") == SIO_EBADPACKET);
    CHECK(rc_of("5-[\"m\"]") == SIO_EBADPACKET);
    CHECK(rc_of("5a-[\"m\"]") == SIO_EBADPACKET);
    CHECK(rc_of("52[\"m\"]") == SIO_EBADPACKET);
    CHECK(rc_of("5") == SIO_EBADPACKET);
    CHECK(rc_of("52-") == SIO_EBADPACKET);
    /* hostile attachment counts */
    CHECK(rc_of("511-[\"m\"]") == SIO_ETOOBIG);
    CHECK(rc_of("54294967296-[\"m\"]") == SIO_ETOOBIG);
    CHECK(rc_of("599999999999999999999-[\"m\"]") == SIO_EBADPACKET);
    CHECK(rc_of("50-[\"m\"]") == SIO_OK);
}

static void test_hostile(void)
{
    size_t n = 10000;
    char *deep = malloc(2 * n + 8);
    char *nsp = malloc(400);

    /* deep nesting: refused by the tokener's depth limit */
    strcpy(deep, "2[\"x\",");
    size_t o = strlen(deep);
    for (size_t i = 0; i < n; i++)
        deep[o++] = '[';
    for (size_t i = 0; i < n; i++)
        deep[o++] = ']';
    deep[o++] = ']';
    deep[o] = '\0';
    CHECK(rc_of(deep) == SIO_EBADPACKET);
    strcpy(deep, "2[\"x\",[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
    CHECK(rc_of(deep) == SIO_EBADPACKET);
    strcpy(deep, "2[\"x\",[[[[[[[[1]]]]]]]]]");
    CHECK(rc_of(deep) == SIO_OK);
    free(deep);

    /* over the length limit */
    sio_limits lim = sio_default_limits;
    sio_packet p;
    lim.max_len = 8;
    CHECK(sio_packet_decode("2[\"hello\"]", 10, &lim, &p) == SIO_ETOOBIG);
    /* namespace longer than allowed */
    nsp[0] = '0';
    memset(nsp + 1, 'a', 300);
    nsp[1] = '/';
    nsp[301] = '\0';
    CHECK(rc_of(nsp) == SIO_ETOOBIG);
    free(nsp);
    /* NUL bytes inside the data */
    CHECK(sio_packet_decode("2[\"a\"]\0x", 8, NULL, &p) == SIO_EBADPACKET);
}

/* "2[\"x\",[[...1]]]": an EVENT whose data has `levels` arrays around a
 * number, that is levels + 1 levels as json-c counts. */
static int rc_depth(int levels)
{
    char *s = malloc(2 * (size_t)levels + 16);
    size_t o;
    int r;

    strcpy(s, "2[\"x\",");
    o = strlen(s);
    for (int i = 1; i < levels; i++)
        s[o++] = '[';
    s[o++] = '1';
    for (int i = 1; i < levels; i++)
        s[o++] = ']';
    s[o++] = ']';
    s[o] = '\0';
    r = rc_of(s);
    free(s);
    return r;
}

/* The data goes through shared/validate.c's msg_json_parse(): the REST
 * bodies' rules, one depth limit, lone surrogates refused (no longer
 * rewritten to \u0000 for the application to refuse). */
static void test_one_parser(void)
{
    sio_packet p;

    CHECK(rc_depth(MSG_JSON_MAX_DEPTH - 1) == SIO_OK);
    CHECK(rc_depth(MSG_JSON_MAX_DEPTH) == SIO_EBADPACKET);
    CHECK(rc_of("2[\"x\",\"\\ud800\"]") == SIO_EBADPACKET);
    CHECK(rc_of("2[\"x\",\"\\udc00\"]") == SIO_EBADPACKET);
    CHECK(rc_of("2[\"x\",\"\\ud800\\u0041\"]") == SIO_EBADPACKET);
    CHECK(rc_of("2[\"x\",\"\\ud800x\"]") == SIO_EBADPACKET);
    CHECK(rc_of("2[\"x\",{\"\\udbff\":1}]") == SIO_EBADPACKET);
    CHECK(rc_of("0{\"token\":\"\\ud800\"}") == SIO_EBADPACKET);
    CHECK(rc_of("3/custom,7[\"\\udfff\"]") == SIO_EBADPACKET);
    /* a pair is one character, in UTF-8 after decoding */
    CHECK(dec("2[\"x\",\"\\ud83d\\ude00\"]", &p) == SIO_OK);
    CHECK(!strcmp(json_object_get_string(json_object_array_get_idx(p.data, 1)), "\xf0\x9f\x98\x80"));
    sio_packet_clear(&p);
    /* raw (unescaped) surrogates and bad UTF-8: refused as before */
    CHECK(rc_of("2[\"x\",\"\xed\xa0\x80\"]") == SIO_EBADPACKET);
    CHECK(rc_of("2/\xff,[\"x\"]") == SIO_EBADPACKET);
    /* JSON only: json-c's extensions are not */
    CHECK(rc_of("2[\"x\",'y']") == SIO_EBADPACKET);
    CHECK(rc_of("2[\"x\",NaN]") == SIO_EBADPACKET);
    CHECK(rc_of("2[\"x\",Infinity]") == SIO_EBADPACKET);
    CHECK(rc_of("2[\"x\",1,]") == SIO_EBADPACKET);
    CHECK(rc_of("2[\"x\",\"a\tb\"]") == SIO_EBADPACKET); /* raw control character */
    CHECK(rc_of("2null") == SIO_EBADPACKET);
    /* white space around the data, as JSON.parse allows */
    CHECK(rc_of("2 [\"x\"] ") == SIO_OK);
    CHECK(rc_of("2[\"x\"]\n") == SIO_OK);
}

static void test_encode(void)
{
    size_t len;
    char *s;
    json_object *a = json_object_new_array();

    json_object_array_add(a, json_object_new_string("message-back"));
    json_object_array_add(a, json_object_new_int(1));
    json_object_array_add(a, json_object_new_string("a/b \xe2\x82\xac"));
    s = sio_packet_encode(SIO_EVENT, NULL, SIO_NO_ACK, 0, a, &len);
    CHECK(s && !strcmp(s, "2[\"message-back\",1,\"a/b \xe2\x82\xac\"]") && len == strlen(s));
    free(s);
    s = sio_packet_encode(SIO_EVENT, "/custom", 12, 0, a, &len);
    CHECK(s && !strcmp(s, "2/custom,12[\"message-back\",1,\"a/b \xe2\x82\xac\"]"));
    free(s);
    s = sio_packet_encode(SIO_CONNECT, "/custom", SIO_NO_ACK, 0, NULL, &len);
    CHECK(s && !strcmp(s, "0/custom,"));
    free(s);
    s = sio_packet_encode(SIO_CONNECT, "/", SIO_NO_ACK, 0, NULL, &len);
    CHECK(s && !strcmp(s, "0"));
    free(s);
    json_object_put(a);

    a = json_object_new_array();
    json_object_array_add(a, json_object_new_string("m"));
    json_object_array_add(a, sio_placeholder_new(0));
    json_object_array_add(a, sio_placeholder_new(1));
    s = sio_packet_encode(SIO_BINARY_EVENT, "/custom", 3, 2, a, &len);
    CHECK(s && !strcmp(s, "52-/custom,3[\"m\",{\"_placeholder\":true,\"num\":0},"
                          "{\"_placeholder\":true,\"num\":1}]"));
    /* round trip */
    sio_packet p;
    CHECK(s && sio_packet_decode(s, len, NULL, &p) == SIO_OK && p.attachments == 2 && p.id == 3 &&
          nsp_is(&p, "/custom") && p.type == SIO_BINARY_EVENT);
    sio_packet_clear(&p);
    free(s);
    json_object_put(a);
}

int main(void)
{
    test_connect();
    test_event();
    test_ack();
    test_binary();
    test_hostile();
    test_one_parser();
    test_encode();
    return check_report("sio_codec");
}
