import { manualClock } from "@tollgate/core";
import { describe, expect, it } from "vitest";
import { createApp, type RateAlert } from "./src/app.js";

const START = Date.UTC(2026, 0, 1, 9, 0, 0);

describe("use case 2: per-organisation monitoring", () => {
  it("never blocks, and alerts once per window at the first crossing", async () => {
    const clock = manualClock(START);
    const alerts: RateAlert[] = [];
    const app = await createApp({ clock, alert: (a) => alerts.push(a) });
    const post = (url: string, org = "acme") => app.inject({ method: "POST", url, headers: { "x-org-id": org } });
    for (let i = 0; i < 20; i++) expect((await post("/api/llm")).statusCode).toBe(200);
    for (let i = 0; i < 5; i++) expect((await post("/api/collections")).statusCode).toBe(200);
    for (let i = 0; i < 3; i++) expect((await post("/api/evaluations")).statusCode).toBe(200);
    for (let i = 0; i < 4; i++) await post("/api/collections", "globex");
    expect(alerts).toEqual([
      { org: "acme", category: "llm_call", count: 16, threshold: 15 },
      { org: "acme", category: "collections", count: 4, threshold: 3 },
      { org: "globex", category: "collections", count: 4, threshold: 3 },
    ]);
    const res = await post("/api/llm");
    expect(res.headers["retry-after"]).toBeUndefined();
    expect(res.headers.ratelimit).toBeUndefined();
    clock.advance(60_000);
    for (let i = 0; i < 16; i++) await post("/api/llm");
    expect(alerts).toHaveLength(4);
    expect(alerts[3]).toEqual({ org: "acme", category: "llm_call", count: 16, threshold: 15 });
  });

  it("fails open when the store is down", async () => {
    const fail = () => {
      throw new Error("ECONNREFUSED");
    };
    const app = await createApp({ store: { name: "down", decide: fail, adjust: fail, release: fail, reset: fail } });
    const res = await app.inject({ method: "POST", url: "/api/llm", headers: { "x-org-id": "acme" } });
    expect(res.statusCode).toBe(200);
  });
});
