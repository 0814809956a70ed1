import type { Store } from "@tollgate/core";
import { memoryStore } from "@tollgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, SERVICE, startTestServer, type TestServer } from "./helpers.js";

// A counter store that can be switched off, to see the dashboard's degraded banner data.
let failing = false;
const inner = memoryStore();
const flaky: Store = {
  name: "flaky",
  decide: (request) => (failing ? Promise.reject(new Error("store down")) : inner.decide(request)),
  adjust: (items) => inner.adjust(items),
  release: (items) => inner.release(items),
  reset: (items) => inner.reset(items),
};

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ store: flaky });
});
afterAll(() => server.close());

describe("GET /v1/admin/stats/decisions", () => {
  it("edge: decisions made without the store mark it degraded, and count by outcome", async () => {
    const healthy = await server.call("GET", "/v1/admin/stats/decisions", ADMIN);
    expect(healthy.body.store).toMatchObject({ name: "flaky", degraded: false });
    failing = true;
    const decision = await server.call("POST", "/v1/check", SERVICE, {
      subject: { user: "x" },
      category: "ops_triage",
    });
    expect(decision.body).toMatchObject({ allowed: true, degraded: true });
    failing = false;
    const after = await server.call("GET", "/v1/admin/stats/decisions", ADMIN);
    expect(after.body.store.degraded).toBe(true);
    expect(after.body.minutes.at(-1)).toMatchObject({ allowed: 1, degraded: 1 });
  });

  it("edge: the window slides: a minute older than an hour drops out", async () => {
    await server.call("POST", "/v1/check", SERVICE, { subject: { user: "y" }, category: "ops_triage" });
    const clock = server.clock as unknown as { advance(ms: number): void };
    clock.advance(6 * 60_000);
    const later = await server.call("GET", "/v1/admin/stats/decisions", ADMIN);
    // Degraded decisions more than 5 minutes ago no longer raise the banner.
    expect(later.body.store.degraded).toBe(false);
    clock.advance(60 * 60_000);
    const hourLater = await server.call("GET", "/v1/admin/stats/decisions", ADMIN);
    expect(hourLater.body.minutes.every((m: { allowed: number }) => m.allowed === 0)).toBe(true);
    expect(hourLater.body.minutes).toHaveLength(60);
  });

  it("security: needs an admin-API token", async () => {
    expect((await server.call("GET", "/v1/admin/stats/decisions")).status).toBe(401);
    expect((await server.call("GET", "/v1/admin/stats/decisions", SERVICE)).status).toBe(403);
  });
});
