/**
 * The AgentBazaar API as both sides know it: the client (src/marketplace) and the
 * embedded marketplace (src/marketplace-server) import their routes, statuses, request
 * and answer shapes and the wire's time format from here, so they cannot drift.
 */
export * from "./auth.ts";
export * from "./requests.ts";
export * from "./responses.ts";
export * from "./routes.ts";
export * from "./statuses.ts";
export * from "./time.ts";
