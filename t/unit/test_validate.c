/* UTF-8, JSON bodies, ids and query strings (shared/validate.c, auth.c). */
#include <stdlib.h>

#include "auth.h"
#include "check.h"
#include "validate.h"

static void test_utf8(void)
{
    CHECK(msg_utf8_valid("", 0));
    CHECK(msg_utf8_valid("Hélène", strlen("Hélène")));
    CHECK(msg_utf8_valid("\xf0\x9f\x98\x80", 4));  /* emoji */
    CHECK(!msg_utf8_valid("\xc3", 1));             /* truncated */
    CHECK(!msg_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    CHECK(!msg_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
    CHECK(!msg_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    CHECK(!msg_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    CHECK(!msg_utf8_valid("\xff", 1));
    CHECK(!msg_utf8_valid("a\x80", 2)); /* lone continuation */
}

static void test_json(void)
{
    struct msg_error e;
    json_object *o = msg_json_parse("{\"a\":1}", 7, &e);
    CHECK(o && json_object_is_type(o, json_type_object));
    json_object_put(o);
    CHECK(msg_json_parse("{\"a\":1} x", 9, &e) == NULL && e.code == MSG_INVALID_REQUEST);
    o = msg_json_parse("{\"a\":1}  \n", 10, &e);
    CHECK(o != NULL);
    json_object_put(o);
    CHECK(msg_json_parse("", 0, &e) == NULL);
    CHECK(msg_json_parse("{\"a\":", 5, &e) == NULL);
    CHECK(msg_json_parse("{'a':1}", 7, &e) == NULL);
    const char *nonjson[] = {"{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":1,}", "[1,2,]",        "{\"a\":1}/*c*/",
                             "{\"a\":\"x}", "{\"a\":01}",       "tru",        "{\"a\":\"\t\"}"};
    for (size_t i = 0; i < sizeof nonjson / sizeof nonjson[0]; i++) {
        json_object *x = msg_json_parse(nonjson[i], strlen(nonjson[i]), &e);
        if (x)
            fprintf(stderr, "accepted non-JSON %s\n", nonjson[i]);
        CHECK(x == NULL);
        json_object_put(x);
    }
    const char *surrogates[] = {"\"\\ud800\"", "\"\\udc00\"", "\"\\ud800x\"", "\"\\ud800\\u0041\""};
    for (size_t i = 0; i < 4; i++)
        CHECK(msg_json_parse(surrogates[i], strlen(surrogates[i]), &e) == NULL);
    json_object *pair = msg_json_parse("\"\\ud83d\\ude00\"", 14, &e);
    CHECK(pair && strcmp(json_object_get_string(pair), "\xf0\x9f\x98\x80") == 0);
    json_object_put(pair);
    e.code = MSG_OK;
    CHECK(msg_json_parse("null", 4, &e) == NULL && e.code == MSG_INVALID_REQUEST);
    json_object *num = msg_json_parse("12", 2, &e);
    CHECK(num && json_object_get_int(num) == 12);
    json_object_put(num);
    CHECK(msg_json_parse("{\"a\":\"\xc3\x28\"}", 10, &e) == NULL);
    /* Deep nesting is refused, not recursed into. */
    char deep[4001];
    for (int i = 0; i < 2000; i++) {
        deep[i] = '[';
        deep[2000 + i] = ']';
    }
    deep[4000] = '\0';
    CHECK(msg_json_parse(deep, 4000, &e) == NULL && e.code == MSG_INVALID_REQUEST);
    /* NUL escaped inside a string: the text accessor refuses it. */
    o = msg_json_parse("{\"c\":\"a\\u0000b\"}", 16, &e);
    CHECK(o != NULL);
    json_object *c = NULL;
    json_object_object_get_ex(o, "c", &c);
    CHECK(msg_json_text(c) == NULL);
    json_object_put(o);
    o = msg_json_parse("{\"c\":\"ok\"}", 10, &e);
    json_object_object_get_ex(o, "c", &c);
    CHECK_STR(msg_json_text(c), "ok");
    json_object_put(o);
}

/* The one depth limit (shared/msg_limits.h), counted as json-c counts:
 * n arrays around a value are n + 1 levels. */
static void test_json_depth(void)
{
    struct msg_error e;
    char s[2 * MSG_JSON_MAX_DEPTH + 8];
    for (int arrays = MSG_JSON_MAX_DEPTH - 2; arrays <= MSG_JSON_MAX_DEPTH; arrays++) {
        size_t o = 0;
        for (int i = 0; i < arrays; i++)
            s[o++] = '[';
        s[o++] = '1';
        for (int i = 0; i < arrays; i++)
            s[o++] = ']';
        json_object *x = msg_json_parse(s, o, &e);
        CHECK((x != NULL) == (arrays + 1 <= MSG_JSON_MAX_DEPTH));
        if (!x)
            CHECK(e.code == MSG_INVALID_REQUEST && strcmp(e.message, "JSON nested too deeply") == 0);
        json_object_put(x);
    }
    /* Lone surrogates in keys too, and after an escaped backslash the
     * scan is not fooled ("\\ud800" is a backslash, then "ud800"). */
    const char *key = "{\"\\ud800\":1}", *escaped = "\"\\\\ud800\"";
    CHECK(msg_json_parse(key, strlen(key), &e) == NULL);
    json_object *o = msg_json_parse(escaped, strlen(escaped), &e);
    CHECK(o && strcmp(json_object_get_string(o), "\\ud800") == 0);
    json_object_put(o);
}

static void test_hex(void)
{
    const char *digits = "0123456789abcdefABCDEF";
    const int values[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 10, 11, 12, 13, 14, 15};
    int wrong = 0;
    for (int i = 0; digits[i]; i++)
        wrong += msg_hex_digit((unsigned char)digits[i]) != values[i];
    CHECK(wrong == 0);
    wrong = 0;
    for (int c = 0; c < 256; c++)
        if (!strchr(digits, c) || c == 0)
            wrong += msg_hex_digit(c) != -1;
    CHECK(wrong == 0); /* every other byte is no digit */
    CHECK(msg_hex_digit(-1) == -1);
    /* Its two users: JSON escapes and percent-decoding. */
    struct msg_error e;
    json_object *o = msg_json_parse("\"\\u00E9\\u00e9\"", 14, &e);
    CHECK(o && strcmp(json_object_get_string(o), "\xc3\xa9\xc3\xa9") == 0);
    json_object_put(o);
    char buf[16];
    CHECK(msg_query_get("q=%C3%a9", "q", buf, sizeof buf) == 1 && strcmp(buf, "\xc3\xa9") == 0);
    CHECK(msg_query_get("q=%g1", "q", buf, sizeof buf) == -1);
    CHECK(msg_query_get("q=%1", "q", buf, sizeof buf) == -1);
}

static void test_ids(void)
{
    int id = 0;
    struct msg_error e;
    const char *good[] = {"1", "42", "2147483647"};
    for (size_t i = 0; i < 3; i++)
        CHECK(msg_parse_id32(good[i], &id));
    CHECK(id == 2147483647);
    const char *bad[] = {"", "0", "-1", "01", "2147483648", "1.5", "abc", " 1", "1 ", "99999999999", "+1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(!msg_parse_id32(bad[i], &id));
    const char *jgood[] = {"12", "\"12\""};
    for (size_t i = 0; i < 2; i++) {
        json_object *v = msg_json_parse(jgood[i], strlen(jgood[i]), &e);
        CHECK(msg_json_id(v, &id) && id == 12);
        json_object_put(v);
    }
    const char *jbad[] = {"0", "-3", "1.5", "\"abc\"", "\"0\"", "2147483648", "true", "null", "[1]", "\"1e3\""};
    for (size_t i = 0; i < sizeof jbad / sizeof jbad[0]; i++) {
        json_object *v = msg_json_parse(jbad[i], strlen(jbad[i]), &e);
        CHECK(!msg_json_id(v, &id));
        json_object_put(v);
    }
}

static void test_query(void)
{
    char buf[64];
    struct msg_error e;
    long v;
    CHECK(msg_query_get("a=1&q=h%C3%A9l%C3%A8ne+d", "q", buf, sizeof buf) == 1);
    CHECK_STR(buf, "hélène d");
    CHECK(msg_query_get("qq=1", "q", buf, sizeof buf) == 0);
    CHECK(msg_query_get("q", "q", buf, sizeof buf) == 1 && buf[0] == '\0');
    CHECK(msg_query_get("q=%zz", "q", buf, sizeof buf) == -1);
    CHECK(msg_query_get("q=%2", "q", buf, sizeof buf) == -1);
    CHECK(msg_query_get("q=a%00b", "q", buf, sizeof buf) == -1); /* NUL */
    CHECK(msg_query_get("q=%C3", "q", buf, sizeof buf) == -1);   /* bad UTF-8 */
    CHECK(msg_query_long("", "limit", 50, 1, 100, &v, &e) == 0 && v == 50);
    CHECK(msg_query_long("limit=100", "limit", 50, 1, 100, &v, &e) == 0 && v == 100);
    CHECK(msg_query_long("limit=101", "limit", 50, 1, 100, &v, &e) == -1 && e.code == MSG_INVALID_REQUEST);
    CHECK(msg_query_long("limit=0", "limit", 50, 1, 100, &v, &e) == -1);
    CHECK(msg_query_long("limit=-1", "limit", 50, 1, 100, &v, &e) == -1);
    CHECK(msg_query_long("limit=abc", "limit", 50, 1, 100, &v, &e) == -1);
    CHECK(msg_query_long("limit=", "limit", 50, 1, 100, &v, &e) == -1);
    CHECK(msg_query_long("limit=99999999999999999999999", "limit", 50, 1, 100, &v, &e) == -1);
    CHECK(strstr(e.message, "limit") != NULL);
}

static void test_bearer(void)
{
    char buf[64];
    CHECK_STR(msg_auth_bearer("Bearer abc.def.ghi", buf, sizeof buf), "abc.def.ghi");
    CHECK_STR(msg_auth_bearer("bearer   tok  ", buf, sizeof buf), "tok");
    CHECK(msg_auth_bearer("Bearer", buf, sizeof buf) == NULL);
    CHECK(msg_auth_bearer("Bearer ", buf, sizeof buf) == NULL);
    CHECK(msg_auth_bearer("Basic abc", buf, sizeof buf) == NULL);
    CHECK(msg_auth_bearer("Bearer a b", buf, sizeof buf) == NULL);
    CHECK(msg_auth_bearer(NULL, buf, sizeof buf) == NULL);
    char big[100];
    memset(big, 'a', sizeof big - 1);
    big[99] = '\0';
    char hdr[120];
    snprintf(hdr, sizeof hdr, "Bearer %s", big);
    CHECK(msg_auth_bearer(hdr, buf, sizeof buf) == NULL); /* longer than the buffer */
}

static void test_error_json(void)
{
    char buf[256];
    struct msg_error e = msg_error_make(MSG_CONFLICT, "quote \" and \\ and \n");
    int n = msg_error_json(&e, buf, sizeof buf);
    CHECK(n > 0);
    CHECK_STR(buf, "{\"error\":{\"code\":\"conflict\",\"message\":\"quote \\\" and \\\\ and \\n\"}}");
    CHECK(msg_code_status(MSG_UNSUPPORTED_MEDIA) == 415);
    CHECK(msg_code_from_status(404) == MSG_NOT_FOUND);
    char tiny[8];
    CHECK(msg_error_json(&e, tiny, sizeof tiny) == -1);
}

int main(void)
{
    test_utf8();
    test_json();
    test_json_depth();
    test_hex();
    test_ids();
    test_query();
    test_bearer();
    test_error_json();
    /* Base64 digits, both alphabets. */
    CHECK(msg_b64_digit('A', true) == 0 && msg_b64_digit('z', false) == 51 && msg_b64_digit('9', true) == 61);
    CHECK(msg_b64_digit('-', true) == 62 && msg_b64_digit('_', true) == 63);
    CHECK(msg_b64_digit('+', false) == 62 && msg_b64_digit('/', false) == 63);
    CHECK(msg_b64_digit('+', true) == -1 && msg_b64_digit('_', false) == -1 && msg_b64_digit('=', true) == -1);
    CHECK(msg_b64_digit(0xC3, false) == -1 && msg_b64_digit(-1, true) == -1);
    return check_report("validate");
}
