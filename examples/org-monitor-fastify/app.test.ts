import { manualClock } from "@tollgate/core";
import { afterEach, describe, expect, it } from "vitest";
import { createApp, sinksFromEnv } from "./src/app.js";
import { type ReceivedAlert, startAlertReceiver } from "./src/receiver.js";

const START = Date.UTC(2026, 0, 1, 9, 0, 0);
const SECRET = "example-secret-0123456789";
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

describe("use case 2: per-organisation monitoring", () => {
  it("never blocks, and alerts the local receiver once per window at the first crossing", async () => {
    const received: ReceivedAlert[] = [];
    const receiver = await startAlertReceiver(SECRET, (a) => received.push(a), 0);
    closers.push(() => new Promise((resolve) => receiver.close(() => resolve())));
    const { port } = receiver.address() as { port: number };
    const clock = manualClock(START);
    const { app, alerts } = await createApp({
      clock,
      sinks: sinksFromEnv({ ALERT_WEBHOOK_URL: `http://127.0.0.1:${port}/hook`, ALERT_SECRET: SECRET }),
    });
    closers.push(() => app.close());
    const post = (url: string, org = "acme") => app.inject({ method: "POST", url, headers: { "x-org-id": org } });
    for (let i = 0; i < 20; i++) expect((await post("/api/llm")).statusCode).toBe(200);
    for (let i = 0; i < 5; i++) expect((await post("/api/collections")).statusCode).toBe(200);
    for (let i = 0; i < 3; i++) expect((await post("/api/evaluations")).statusCode).toBe(200);
    for (let i = 0; i < 4; i++) await post("/api/collections", "globex");
    await alerts.drain();
    const seen = () =>
      received.map(({ event }) => [event.subject, event.category, event.count, event.threshold, event.type]);
    expect(seen()).toEqual([
      ["org:acme", "llm_call", 16, 15, "threshold_crossed"],
      ["org:acme", "collections", 4, 3, "threshold_crossed"],
      ["org:globex", "collections", 4, 3, "threshold_crossed"],
    ]);
    expect(received.every((a) => a.verified)).toBe(true);
    const res = await post("/api/llm");
    expect(res.headers["retry-after"]).toBeUndefined();
    expect(res.headers.ratelimit).toBeUndefined();
    clock.advance(60_000);
    for (let i = 0; i < 16; i++) await post("/api/llm");
    await alerts.drain();
    expect(seen()).toHaveLength(4);
    expect(seen()[3]).toEqual(["org:acme", "llm_call", 16, 15, "threshold_crossed"]);
  });

  it("chooses Slack and Discord sinks from the environment", () => {
    expect(
      sinksFromEnv({ SLACK_WEBHOOK_URL: "https://hooks.slack.com/services/T/B/X", DISCORD_WEBHOOK_URL: "https://d/x" }),
    ).toEqual({
      slack: { type: "slack", url: "https://hooks.slack.com/services/T/B/X" },
      discord: { type: "discord", url: "https://d/x" },
      ops: { sinks: ["slack", "discord"] },
    });
  });

  it("fails open when the store is down", async () => {
    const fail = () => {
      throw new Error("ECONNREFUSED");
    };
    const { app } = await createApp({
      store: { name: "down", decide: fail, adjust: fail, release: fail, reset: fail },
      sinks: { ops: { type: "log" } },
    });
    closers.push(() => app.close());
    const res = await app.inject({ method: "POST", url: "/api/llm", headers: { "x-org-id": "acme" } });
    expect(res.statusCode).toBe(200);
  });
});
