/* Unit tests of the Engine.IO packet and payload codecs: valid, truncated,
 * oversized and hostile input. */
#include <stdlib.h>
#include <string.h>

#include "engineio/eio_codec.h"
#include "tap.h"

#define S(x) (const uint8_t *)(x), sizeof(x) - 1

static void test_utf8(void)
{
	CHECK(eio_utf8_valid(S("hello")));
	CHECK(eio_utf8_valid(S("")));
	CHECK(eio_utf8_valid(S("\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")));
	CHECK(eio_utf8_valid(S("\xf4\x8f\xbf\xbf"))); /* U+10FFFF */
	CHECK(!eio_utf8_valid(S("\xc0\x80")));	 /* overlong NUL */
	CHECK(!eio_utf8_valid(S("\xe0\x80\x80"))); /* overlong */
	CHECK(!eio_utf8_valid(S("\xf0\x80\x80\x80")));
	CHECK(!eio_utf8_valid(S("\xed\xa0\x80"))); /* surrogate */
	CHECK(!eio_utf8_valid(S("\xf4\x90\x80\x80"))); /* > U+10FFFF */
	CHECK(!eio_utf8_valid(S("\xe2\x82")));	 /* truncated */
	CHECK(!eio_utf8_valid(S("\x80")));	 /* lone continuation */
	CHECK(!eio_utf8_valid(S("\xf5\x80\x80\x80")));
	CHECK(!eio_utf8_valid(S("\xff")));
	CHECK(!eio_utf8_valid(S("ok\xc3")));
}

static void test_base64(void)
{
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==",
					   "Zm9vYmE=", "Zm9vYmFy" };
	char out[32];
	uint8_t dec[32];

	for (int i = 0; i < 7; i++) {
		size_t n = eio_base64_encode((const uint8_t *)plain[i], strlen(plain[i]), out);

		CHECK(n == strlen(enc[i]) && !memcmp(out, enc[i], n));
		CHECK(eio_base64_encoded_len(strlen(plain[i])) == strlen(enc[i]));
		CHECK(eio_base64_decode(enc[i], strlen(enc[i]), dec) == (long)strlen(plain[i]));
		CHECK(!memcmp(dec, plain[i], strlen(plain[i])));
	}
	CHECK(eio_base64_decode("Zg=", 3, dec) < 0);	  /* truncated */
	CHECK(eio_base64_decode("Zg", 2, dec) < 0);
	CHECK(eio_base64_decode("Z===", 4, dec) < 0);
	CHECK(eio_base64_decode("Zg=a", 4, dec) < 0);	  /* data after pad */
	CHECK(eio_base64_decode("Zg==Zg==", 8, dec) < 0); /* pad in the middle */
	CHECK(eio_base64_decode("Zh==", 4, dec) < 0);	  /* non-canonical */
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
	CHECK(eio_packet_decode(S("\x01\x02\x03"), 1, 100, &p) == EIO_OK && p.binary &&
	      p.type == EIO_MESSAGE && p.len == 3);
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
	char b1[] = "4hello\x1e" "bAQIDBA==\x1e" "2";

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

	char empty_rec[] = "4a\x1e\x1e" "4b";
	CHECK(eio_payload_decode((uint8_t *)empty_rec, strlen(empty_rec), 1000, 10, &pk, &n) ==
	      EIO_EBADPACKET && pk == NULL);
	char trailing[] = "4a\x1e";
	CHECK(eio_payload_decode((uint8_t *)trailing, strlen(trailing), 1000, 10, &pk, &n) ==
	      EIO_EBADPACKET);
	char empty[] = "";
	CHECK(eio_payload_decode((uint8_t *)empty, 0, 1000, 10, &pk, &n) == EIO_EBADPACKET);
	char abc[] = "abc";
	CHECK(eio_payload_decode((uint8_t *)abc, 3, 1000, 10, &pk, &n) == EIO_EBADPACKET);
	char badb64[] = "4ok\x1e" "bAQI";
	CHECK(eio_payload_decode((uint8_t *)badb64, strlen(badb64), 1000, 10, &pk, &n) ==
	      EIO_EBADPACKET);
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
	const uint8_t bin[] = { 0, 1, 2, 255 };
	eio_packet in[3] = {
		{ EIO_MESSAGE, 0, (const uint8_t *)"hi \xe2\x82\xac", 6 },
		{ EIO_MESSAGE, 1, bin, 4 },
		{ EIO_PING, 0, (const uint8_t *)"", 0 },
	}, *out;
	size_t sz = eio_payload_size(in, 3), n;
	uint8_t *buf = malloc(sz + 1);

	CHECK(eio_payload_write(in, 3, buf) == sz);
	CHECK(sz == strlen("4hi \xe2\x82\xac\x1e" "bAAEC/w==\x1e" "2"));
	CHECK(!memcmp(buf, "4hi \xe2\x82\xac\x1e" "bAAEC/w==\x1e" "2", sz));
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
	test_base64();
	test_packet();
	test_payload();
	test_payload_encode();
	return tap_done("test_eio_codec");
}
