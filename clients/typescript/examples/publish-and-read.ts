/**
 * An app backend publishes through the API with its service key; the user reads her feed with
 * her own token. Run against a `streamfeed serve`:
 *   node build/examples/publish-and-read.js http://127.0.0.1:8000 <julie's token> <service key>
 * Prints what it read as one JSON object (tests/integration/test_typescript_client.py runs it).
 */
import { streamfeedClient } from "../src/index.js";

const [baseUrl, token, serviceKey] = process.argv.slice(2);
const backend = streamfeedClient(baseUrl, { serviceKey });
const julie = streamfeedClient(baseUrl, { token });

const followed = await backend.POST("/v1/follows", { body: { follower: "julie", followed: "thierry" } });
const published = await backend.POST("/v1/activities", {
  body: { actor: "thierry", verb: "add", object: "pin:42", target: "board:7", to: ["notification:julie"] },
});
const page = await julie.GET("/v1/feeds/{feed}/{user_id}", {
  params: { path: { feed: "normal", user_id: "julie" }, query: { limit: 10 } },
});
const counts = await julie.GET("/v1/feeds/{feed}/{user_id}/counts", {
  params: { path: { feed: "notification", user_id: "julie" } },
});
const refused = await julie.GET("/v1/feeds/{feed}/{user_id}", {
  params: { path: { feed: "normal", user_id: "thierry" } },
});
console.log(
  JSON.stringify({
    followed: followed.response.status,
    published: published.data,
    page: page.data,
    counts: counts.data,
    refused: { status: refused.response.status, problem: refused.error },
  }),
);
