/**
 * A typed client of the streamfeed HTTP API: every path, parameter and body checked against the
 * API's own OpenAPI document (src/schema.d.ts, generated from pipeline/api/openapi.json by
 * `npm run generate`), through openapi-fetch.
 *
 *   const feeds = streamfeedClient("https://feeds.example.com", { token });
 *   const { data } = await feeds.GET("/v1/feeds/{feed}/{user_id}", {
 *     params: { path: { feed: "normal", user_id: "julie" }, query: { limit: 25 } },
 *   });
 *
 * A user's token (HS256 JWT, `sub` the user id, with `exp`) reads that user's feeds and publishes
 * as that user; an app backend's service key publishes for anyone and notifies other users.
 */
import createClient, { type Client } from "openapi-fetch";

import type { components, paths } from "./schema.js";

export type { components, paths };
export type Page = components["schemas"]["Page"];

export interface Credentials {
  /** A user's bearer token. */
  token?: string;
  /** An app backend's key (X-Service-Key). */
  serviceKey?: string;
}

export function streamfeedClient(baseUrl: string, credentials: Credentials = {}): Client<paths> {
  const headers: Record<string, string> = {};
  if (credentials.token) headers.Authorization = `Bearer ${credentials.token}`;
  if (credentials.serviceKey) headers["X-Service-Key"] = credentials.serviceKey;
  return createClient<paths>({ baseUrl, headers });
}
