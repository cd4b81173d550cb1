/* Unit tests of the Engine.IO packet and payload codecs: valid, truncated,
 * oversized and hostile input. */
#include <stdlib.h>
#include <string.h>

#include "engineio/eio_codec.h"
#include "engineio/eio_internal.h"
#include "check.h"

#define S(x) (const uint8_t *)(x), sizeof(x) - 1

/* UTF-8 is checked by shared/validate.c's msg_utf8_valid() (its own unit
 * tests are in t/unit/test_validate.c): here, that the codecs use it. */
static void test_utf8(void)
{
    static const char *const bad[] = {
        "4\xc0\x80",     /* overlong NUL */
        "4\xe0\x80\x80", /* overlong */
        "4\xf0\x80\x80\x80",
        "4\xed\xa0\x80",     /* surrogate */
        "4\xf4\x90\x80\x80", /* > U+10FFFF */
        "4\xe2\x82",         /* truncated */
        "4\x80",             /* lone continuation */
        "4\xf5\x80\x80\x80",
        "4\xff",
        "4ok\xc3",
    };
    eio_packet p, *pk;
    size_t n;
    char buf[16];

    CHECK(eio_packet_decode(S("4\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), 0, 100, &p) == EIO_OK);
    CHECK(eio_packet_decode(S("4\xf4\x8f\xbf\xbf"), 0, 100, &p) == EIO_OK); /* U+10FFFF */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(eio_packet_decode((const uint8_t *)bad[i], strlen(bad[i]), 0, 100, &p) == EIO_EBADPACKET);
        strcpy(buf, bad[i]);
        CHECK(eio_payload_decode((uint8_t *)buf, strlen(buf), 100, 10, &pk, &n) == EIO_EBADPACKET);
    }
    /* binary frames are bytes, not text */
    CHECK(eio_packet_decode(S("\xff\xfe"), 1, 100, &p) == EIO_OK);
}

/* The same-origin rule of eio_http.c (Origin against the Host header). */
static void test_same_origin(void)
{
    CHECK(eio_http_same_origin("http://127.0.0.1:3000", "127.0.0.1:3000"));
    CHECK(eio_http_same_origin("https://chat.example", "chat.example"));
    CHECK(eio_http_same_origin("https://chat.example", "chat.example:443"));
    CHECK(eio_http_same_origin("http://chat.example", "chat.example:80"));
    CHECK(eio_http_same_origin("HTTPS://Chat.Example", "chat.example"));
    CHECK(eio_http_same_origin("http://localhost:8080", "localhost")); /* nginx $host */
    CHECK(eio_http_same_origin("http://[::1]:8080", "[::1]:8080"));
    CHECK(eio_http_same_origin("http://[::1]", "[::1]"));
    CHECK(!eio_http_same_origin("http://localhost:8080", "localhost:5001"));
    CHECK(!eio_http_same_origin("https://chat.example", "chat.example:80"));
    CHECK(!eio_http_same_origin("http://chat.example", "chat.example:443"));
    CHECK(!eio_http_same_origin("http://evil.example", "chat.example"));
    CHECK(!eio_http_same_origin("http://chat.example.evil", "chat.example"));
    CHECK(!eio_http_same_origin("http://chat.exampl", "chat.example"));
    CHECK(!eio_http_same_origin("null", "chat.example"));
    CHECK(!eio_http_same_origin("file://", "chat.example"));
    CHECK(!eio_http_same_origin("ws://chat.example", "chat.example"));
    CHECK(!eio_http_same_origin("http://chat.example/", "chat.example"));
    CHECK(!eio_http_same_origin("http://u@chat.example", "chat.example"));
    CHECK(!eio_http_same_origin("http://", ""));
    CHECK(!eio_http_same_origin("http://:80", ":80"));
    CHECK(!eio_http_same_origin("http://a:1:2", "a:1:2"));
    CHECK(!eio_http_same_origin("http://[::1", "[::1"));
    CHECK(!eio_http_same_origin(NULL, "chat.example"));
    CHECK(!eio_http_same_origin("http://chat.example", NULL));
    char big[600];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "http://", 7);
    CHECK(!eio_http_same_origin(big, big + 7));
}

static void test_base64(void)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    char out[32];
    uint8_t dec[32];

    for (int i = 0; i < 7; i++) {
        size_t n = eio_base64_encode((const uint8_t *)plain[i], strlen(plain[i]), out);

        CHECK(n == strlen(enc[i]) && !memcmp(out, enc[i], n));
        CHECK(eio_base64_encoded_len(strlen(plain[i])) == strlen(enc[i]));
        CHECK(eio_base64_decode(enc[i], strlen(enc[i]), dec) == (long)strlen(plain[i]));
        CHECK(!memcmp(dec, plain[i], strlen(plain[i])));
    }
    CHECK(eio_base64_decode("Zg=", 3, dec) < 0); /* truncated */
    CHECK(eio_base64_decode("Zg", 2, dec) < 0);
    CHECK(eio_base64_decode("Z===", 4, dec) < 0);
    CHECK(eio_base64_decode("Zg=a", 4, dec) < 0);     /* data after pad */
    CHECK(eio_base64_decode("Zg==Zg==", 8, dec) < 0); /* pad in the middle */
    CHECK(eio_base64_decode("Zh==", 4, dec) < 0);     /* non-canonical */
    CHECK(eio_base64_decode("Z!==", 4, dec) < 0);
    CHECK(eio_base64_decode("AQIDBA==", 8, dec) == 4 && dec[0] == 1 && dec[3] == 4);
    /* in place */
    char inplace[] = "AQIDBA==";
    CHECK(eio_base64_decode(inplace, 8, (uint8_t *)inplace) == 4 && inplace[2] == 3);
}

static void test_packet(void)
{
    eio_packet p;

    CHECK(eio_packet_decode(S("4hello"), 0, 100, &p) == EIO_OK);
    CHECK(p.type == EIO_MESSAGE && !p.binary && p.len == 5 && !memcmp(p.data, "hello", 5));
    CHECK(eio_packet_decode(S("2"), 0, 100, &p) == EIO_OK && p.type == EIO_PING && p.len == 0);
    CHECK(eio_packet_decode(S("2probe"), 0, 100, &p) == EIO_OK && p.len == 5);
    CHECK(eio_packet_decode(S("6"), 0, 100, &p) == EIO_OK && p.type == EIO_NOOP);
    CHECK(eio_packet_decode(S("\x01\x02\x03"), 1, 100, &p) == EIO_OK && p.binary && p.type == EIO_MESSAGE &&
          p.len == 3);
    CHECK(eio_packet_decode(S(""), 0, 100, &p) == EIO_EBADPACKET);
    CHECK(eio_packet_decode(S("abc"), 0, 100, &p) == EIO_EBADPACKET);
    CHECK(eio_packet_decode(S("7"), 0, 100, &p) == EIO_EBADPACKET);
    CHECK(eio_packet_decode(S("/4"), 0, 100, &p) == EIO_EBADPACKET);
    CHECK(eio_packet_decode(S("4\xc3\x28"), 0, 100, &p) == EIO_EBADPACKET);
    CHECK(eio_packet_decode(S("4hello"), 0, 5, &p) == EIO_ETOOBIG);
    CHECK(eio_packet_decode(S("\x01\x02"), 1, 1, &p) == EIO_ETOOBIG);
}

static void test_payload(void)
{
    eio_packet *pk;
    size_t n;
    char b1[] = "4hello\x1e"
                "bAQIDBA==\x1e"
                "2";

    CHECK(eio_payload_decode((uint8_t *)b1, strlen(b1), 1000, 10, &pk, &n) == EIO_OK);
    CHECK(n == 3);
    if (n == 3) {
        CHECK(pk[0].type == EIO_MESSAGE && pk[0].len == 5 && !memcmp(pk[0].data, "hello", 5));
        CHECK(pk[1].binary && pk[1].len == 4 && pk[1].data[0] == 1 && pk[1].data[3] == 4);
        CHECK(pk[2].type == EIO_PING);
    }
    free(pk);

    char single[] = "4x";
    CHECK(eio_payload_decode((uint8_t *)single, 2, 1000, 10, &pk, &n) == EIO_OK && n == 1);
    free(pk);

    char empty_rec[] = "4a\x1e\x1e"
                       "4b";
    CHECK(eio_payload_decode((uint8_t *)empty_rec, strlen(empty_rec), 1000, 10, &pk, &n) == EIO_EBADPACKET &&
          pk == NULL);
    char trailing[] = "4a\x1e";
    CHECK(eio_payload_decode((uint8_t *)trailing, strlen(trailing), 1000, 10, &pk, &n) == EIO_EBADPACKET);
    char empty[] = "";
    CHECK(eio_payload_decode((uint8_t *)empty, 0, 1000, 10, &pk, &n) == EIO_EBADPACKET);
    char abc[] = "abc";
    CHECK(eio_payload_decode((uint8_t *)abc, 3, 1000, 10, &pk, &n) == EIO_EBADPACKET);
    char badb64[] = "4ok\x1e"
                    "bAQI";
    CHECK(eio_payload_decode((uint8_t *)badb64, strlen(badb64), 1000, 10, &pk, &n) == EIO_EBADPACKET);
    char badutf[] = "4\xff\xfe";
    CHECK(eio_payload_decode((uint8_t *)badutf, 3, 1000, 10, &pk, &n) == EIO_EBADPACKET);
    char big[] = "4hello";
    CHECK(eio_payload_decode((uint8_t *)big, 6, 5, 10, &pk, &n) == EIO_ETOOBIG);

    /* hostile: a flood of separators is refused before any allocation
	 * proportional to it */
    size_t hl = 200001;
    uint8_t *h = malloc(hl);
    for (size_t i = 0; i < hl; i++)
        h[i] = (i % 2) ? 0x1e : '6';
    CHECK(eio_payload_decode(h, hl, hl, 1000, &pk, &n) == EIO_ETOOBIG);
    CHECK(eio_payload_decode(h, hl, hl, hl, &pk, &n) == EIO_OK && n == 100001);
    free(pk);
    free(h);
}

static void test_payload_encode(void)
{
    const uint8_t bin[] = {0, 1, 2, 255};
    eio_packet in[3] =
        {
            {EIO_MESSAGE, 0, (const uint8_t *)"hi \xe2\x82\xac", 6},
            {EIO_MESSAGE, 1, bin, 4},
            {EIO_PING, 0, (const uint8_t *)"", 0},
        },
               *out;
    size_t sz = eio_payload_size(in, 3), n;
    uint8_t *buf = malloc(sz + 1);

    CHECK(eio_payload_write(in, 3, buf) == sz);
    CHECK(sz == strlen("4hi \xe2\x82\xac\x1e"
                       "bAAEC/w==\x1e"
                       "2"));
    CHECK(!memcmp(buf,
                  "4hi \xe2\x82\xac\x1e"
                  "bAAEC/w==\x1e"
                  "2",
                  sz));
    CHECK(eio_payload_decode(buf, sz, sz, 10, &out, &n) == EIO_OK && n == 3);
    if (n == 3) {
        CHECK(out[0].len == 6 && !memcmp(out[0].data, in[0].data, 6));
        CHECK(out[1].binary && out[1].len == 4 && !memcmp(out[1].data, bin, 4));
        CHECK(out[2].type == EIO_PING);
    }
    free(out);
    free(buf);
    CHECK(eio_payload_size(NULL, 0) == 0);
}

int main(void)
{
    test_utf8();
    test_same_origin();
    test_base64();
    test_packet();
    test_payload();
    test_payload_encode();
    return check_report("eio_codec");
}
