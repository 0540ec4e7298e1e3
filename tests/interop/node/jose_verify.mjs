// Verifies a gatehouse access token with Node's `jose` (panva/jose), which
// nobody here wrote: fetches the JWKS, checks the signature, issuer,
// audience and RFC 9068 typ. Prints the verified header and claims as JSON;
// exits 1 with the library's error code when it refuses the token.
import { createRemoteJWKSet, jwtVerify } from "jose";

const { BASE, TOKEN, ALG } = process.env;
const jwks = createRemoteJWKSet(new URL(BASE + "/.well-known/jwks.json"));
try {
	const { payload, protectedHeader } = await jwtVerify(TOKEN, jwks, {
		issuer: BASE,
		audience: BASE,
		algorithms: [ALG],
		typ: "at+jwt",
		requiredClaims: ["exp", "iat", "nbf", "sub", "jti", "client_id"],
	});
	console.log(JSON.stringify({ ok: true, header: protectedHeader, claims: payload }));
} catch (e) {
	console.log(JSON.stringify({ ok: false, code: e.code, message: e.message }));
	process.exit(1);
}
