// Drives gatehouse with panva's openid-client (v6, over oauth4webapi),
// which nobody here wrote: discovery of our RFC 8414 metadata, the client
// credentials grant, introspection and revocation. gatehouse is an OAuth
// 2.0 server, not an OpenID Provider, so discovery must be asked for
// { algorithm: "oauth2" }: openid-client's default looks only at
// /.well-known/openid-configuration, which we do not serve (OpenID
// Connect Discovery requires members an OAuth-only server cannot give,
// such as authorization_endpoint and id_token_signing_alg_values_supported).
// Prints {step: {ok, value} | {ok: false, ...}} as oauth4webapi_flow.mjs
// does. Environment: ISSUER, CLIENT_ID, SECRET, SCOPE, AUTH (basic or
// post), ALGORITHM (the discovery algorithm; oauth2 unless set),
// INSECURE=1 for a plain-HTTP issuer.
import * as client from "openid-client";

const env = process.env;
const out = {};

async function step(name, fn) {
	try {
		const value = await fn();
		out[name] = { ok: true, value: value === undefined ? null : value };
		return value;
	} catch (e) {
		out[name] = { ok: false, name: e.name, code: e.code, message: e.message,
			error: e.error, status: e.status };
		return undefined;
	}
}

const auth = env.AUTH === "post" ? client.ClientSecretPost(env.SECRET) :
	client.ClientSecretBasic(env.SECRET);
const config = await step("discovery", async () => {
	const c = await client.discovery(new URL(env.ISSUER), env.CLIENT_ID, undefined, auth, {
		algorithm: env.ALGORITHM || "oauth2",
		execute: env.INSECURE === "1" ? [client.allowInsecureRequests] : [],
	});
	return c;
});
if (config !== undefined) {
	out.discovery.value = config.serverMetadata();
	const tok = await step("token", () => client.clientCredentialsGrant(config,
		env.SCOPE ? { scope: env.SCOPE } : undefined));
	if (tok !== undefined) {
		out.token.value = { ...tok, expires_in: tok.expiresIn() };
		await step("introspect", () => client.tokenIntrospection(config, tok.access_token));
		await step("revoke", () => client.tokenRevocation(config, tok.access_token));
		await step("introspect_revoked", () => client.tokenIntrospection(config, tok.access_token));
	}
}
console.log(JSON.stringify(out));
