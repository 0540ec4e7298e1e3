/* b64url.c — see b64url.h. Table driven; decoders are strict (RFC 4648 §3.5:
 * canonical encoding) so that a token has exactly one spelling. */
#include "jose/b64url.h"

static const char url_alpha[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char std_alpha[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 0..63, or 0xff for a byte outside the alphabet. */
#define X 0xff
static const uint8_t url_rev[256] = {
	X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
	X,X,X,X,X,X,X,X,X,X,X,X,X,62,X,X, 52,53,54,55,56,57,58,59,60,61,X,X,X,X,X,X,
	X,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14, 15,16,17,18,19,20,21,22,23,24,25,X,X,X,X,63,
	X,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40, 41,42,43,44,45,46,47,48,49,50,51,X,X,X,X,X,
	X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
	X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
	X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
	X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
};
static const uint8_t std_rev[256] = {
	X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
	X,X,X,X,X,X,X,X,X,X,X,62,X,X,X,63, 52,53,54,55,56,57,58,59,60,61,X,X,X,X,X,X,
	X,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14, 15,16,17,18,19,20,21,22,23,24,25,X,X,X,X,X,
	X,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40, 41,42,43,44,45,46,47,48,49,50,51,X,X,X,X,X,
	X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
	X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
	X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
	X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
};
#undef X

size_t
b64url_encoded_len(size_t n)
{
	return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

/* Encodes whole groups and the tail; pad adds '=' for the standard form. */
static size_t
encode(const char *alpha, int pad, const uint8_t *in, size_t n, char *out)
{
	size_t i = 0, o = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = alpha[v >> 18];
		out[o++] = alpha[(v >> 12) & 63];
		out[o++] = alpha[(v >> 6) & 63];
		out[o++] = alpha[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = alpha[v >> 18];
		out[o++] = alpha[(v >> 12) & 63];
		if (pad) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = alpha[v >> 18];
		out[o++] = alpha[(v >> 12) & 63];
		out[o++] = alpha[(v >> 6) & 63];
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

size_t
b64url_encode(const uint8_t *in, size_t n, char *out)
{
	return encode(url_alpha, 0, in, n, out);
}

size_t
b64std_encode(const uint8_t *in, size_t n, char *out)
{
	return encode(std_alpha, 1, in, n, out);
}

/*
 * Decodes len characters (no padding) with rev. A final group of 2 or 3
 * characters carries 4 or 2 unused bits that must be zero (RFC 4648 §3.5),
 * and a final group of 1 character cannot occur.
 */
static int
decode(const uint8_t *rev, const char *in, size_t len, uint8_t *out,
    size_t cap, size_t *outlen)
{
	size_t i = 0, o = 0, rem = len % 4;
	size_t need = len / 4 * 3 + (rem == 0 ? 0 : rem - 1);

	if (rem == 1 || need > cap)
		return -1;
	for (; i + 4 <= len; i += 4) {
		uint8_t a = rev[(uint8_t)in[i]], b = rev[(uint8_t)in[i + 1]];
		uint8_t c = rev[(uint8_t)in[i + 2]], d = rev[(uint8_t)in[i + 3]];
		if ((a | b | c | d) & 0xc0)
			return -1;
		uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
		out[o++] = (uint8_t)(v >> 16);
		out[o++] = (uint8_t)(v >> 8);
		out[o++] = (uint8_t)v;
	}
	if (rem == 2) {
		uint8_t a = rev[(uint8_t)in[i]], b = rev[(uint8_t)in[i + 1]];
		if ((a | b) & 0xc0 || (b & 0x0f) != 0)
			return -1;
		out[o++] = (uint8_t)(a << 2 | b >> 4);
	} else if (rem == 3) {
		uint8_t a = rev[(uint8_t)in[i]], b = rev[(uint8_t)in[i + 1]];
		uint8_t c = rev[(uint8_t)in[i + 2]];
		if ((a | b | c) & 0xc0 || (c & 0x03) != 0)
			return -1;
		out[o++] = (uint8_t)(a << 2 | b >> 4);
		out[o++] = (uint8_t)(b << 4 | c >> 2);
	}
	*outlen = o;
	return 0;
}

int
b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap,
    size_t *outlen)
{
	if (in == NULL && len != 0)
		return -1;
	return decode(url_rev, in, len, out, cap, outlen);
}

/* Padding is required: the length is a multiple of 4 and at most two '='
 * end the input; the characters before them decode as unpadded base64. */
int
b64std_decode(const char *in, size_t len, uint8_t *out, size_t cap,
    size_t *outlen)
{
	size_t pad = 0;

	if ((in == NULL && len != 0) || len % 4 != 0)
		return -1;
	if (len > 0 && in[len - 1] == '=')
		pad++;
	if (len > 1 && in[len - 2] == '=')
		pad++;
	return decode(std_rev, in, len - pad, out, cap, outlen);
}
