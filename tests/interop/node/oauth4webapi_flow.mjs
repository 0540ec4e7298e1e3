// Drives gatehouse with panva's oauth4webapi, which nobody here wrote and
// which checks the RFCs strictly: RFC 8414 discovery (the metadata's issuer
// must be the URL it was fetched from), the client credentials grant with
// client_secret_basic and client_secret_post (RFC 6749 §4.4), RFC 9068
// validation of the JWT access token, RFC 7662 introspection and RFC 7009
// revocation. Each step's outcome goes into one JSON object on stdout, so
// the test sees which step failed and why: {step: {ok, value} | {ok: false,
// name, code, message}}. Steps after a failed one that needs its result are
// left out. Environment: ISSUER (the server's issuer), CLIENT_ID, SECRET,
// SCOPE, RESOURCE (RFC 8707: asked for, and the audience validated; else
// the issuer), STEPS (comma separated; all when unset), INSECURE=1 for a
// plain-HTTP issuer.
import * as oauth from "oauth4webapi";

const env = process.env;
const issuer = new URL(env.ISSUER);
const client = { client_id: env.CLIENT_ID };
const opts = env.INSECURE === "1" ? { [oauth.allowInsecureRequests]: true } : {};
const want = env.STEPS ? env.STEPS.split(",") : null;
const out = {};

async function step(name, fn) {
	if (want && !want.includes(name))
		return undefined;
	try {
		const value = await fn();
		out[name] = { ok: true, value: value === undefined ? null : value };
		return value;
	} catch (e) {
		out[name] = { ok: false, name: e.name, code: e.code, message: e.message,
			error: e.error, status: e.status,
			challenges: e instanceof oauth.WWWAuthenticateChallengeError ? e.cause : undefined };
		return undefined;
	}
}

const auth = (method, secret = env.SECRET) => method === "post" ?
	oauth.ClientSecretPost(secret) : oauth.ClientSecretBasic(secret);

const as = await step("discovery", async () => {
	const r = await oauth.discoveryRequest(issuer, { ...opts, algorithm: "oauth2" });
	return oauth.processDiscoveryResponse(issuer, r);
});
if (as !== undefined) {
	const params = {};
	if (env.SCOPE)
		params.scope = env.SCOPE;
	if (env.RESOURCE)
		params.resource = env.RESOURCE;
	const grant = async (m, secret) => {
		const r = await oauth.clientCredentialsGrantRequest(as, client, auth(m, secret), params, opts);
		return oauth.processClientCredentialsResponse(as, client, r);
	};
	/* A wrong secret first: how the library reports invalid_client. */
	for (const m of ["basic", "post"])
		await step("token_wrong_" + m, () => grant(m, "wrong"));
	const tokens = {};
	for (const m of ["basic", "post"])
		tokens[m] = await step("token_" + m, () => grant(m));
	const at = (tokens.basic || tokens.post || {}).access_token;
	if (at !== undefined) {
		await step("validate", () => oauth.validateJwtAccessToken(as,
			new Request("https://api.example/v1/x", { headers: { authorization: "Bearer " + at } }),
			env.RESOURCE || env.ISSUER, opts));
		for (const m of ["basic", "post"])
			await step("introspect_" + m, async () => {
				const r = await oauth.introspectionRequest(as, client, auth(m), at, opts);
				return oauth.processIntrospectionResponse(as, client, r);
			});
		await step("revoke", async () => {
			const r = await oauth.revocationRequest(as, client, auth("basic"), at, opts);
			return oauth.processRevocationResponse(r);
		});
		await step("introspect_revoked", async () => {
			const r = await oauth.introspectionRequest(as, client, auth("post"), at, opts);
			return oauth.processIntrospectionResponse(as, client, r);
		});
	}
}
console.log(JSON.stringify(out));
