// The 003 provider's official Node SDK (mangopay2-nodejs-sdk), unchanged,
// with its baseUrl pointed at an nginx that serves gatehouse's token
// endpoint and guards the API with gatehouse's gate. It fetches a token
// (Basic ClientId:ApiKey, form grant_type) and calls Users.get twice (the
// second with its cached token). Prints JSON with what it got.
const mangopay = require("mangopay2-nodejs-sdk");

const api = new mangopay({
	clientId: process.env.CLIENT_ID,
	clientApiKey: process.env.API_KEY,
	baseUrl: process.env.BASE,
	errorHandler: () => {},
});

(async () => {
	try {
		const a = await api.Users.get("u-1");
		const b = await api.Users.get("u-2");
		console.log(JSON.stringify({ ok: true, ids: [a.Id, b.Id], names: [a.FirstName, b.FirstName] }));
	} catch (e) {
		console.log(JSON.stringify({ ok: false, error: e && (e.Type || e.Message || e.message || e) }));
		process.exit(1);
	}
})();
