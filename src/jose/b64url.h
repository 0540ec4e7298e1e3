/*
 * b64url.h — base64url (RFC 4648 §5, no padding, as JWS requires) and the
 * standard alphabet with padding (RFC 4648 §4) for HTTP Basic.
 */
#ifndef GH_B64URL_H
#define GH_B64URL_H

#include <stddef.h>
#include <stdint.h>

/* Encoded length of n bytes without padding (no NUL counted). */
size_t	b64url_encoded_len(size_t n);
/* Encodes n bytes into out (b64url_encoded_len(n) + 1 bytes); NUL-terminates;
 * returns the length written. */
size_t	b64url_encode(const uint8_t *in, size_t n, char *out);
/*
 * Strict decode of in[0..len): rejects padding, characters outside the
 * alphabet, a length of 1 mod 4, and non-zero trailing bits (so each byte
 * string has exactly one encoding). Writes at most cap bytes.
 * Returns 0 and sets *outlen, or -1.
 */
int	b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap,
	    size_t *outlen);
/* Strict decode of standard base64 with required padding. Same contract. */
int	b64std_decode(const char *in, size_t len, uint8_t *out, size_t cap,
	    size_t *outlen);
/* Standard base64 with padding; returns length written, NUL-terminates;
 * out needs 4*((n+2)/3)+1 bytes. */
size_t	b64std_encode(const uint8_t *in, size_t n, char *out);

#endif
