import { createAlerts, silentLogger, verifySignature } from "@tollgate/alerts";
import { createLimiter, type LimitSpec, manualClock, memoryStore } from "@tollgate/core";
import { afterEach, describe, expect, it } from "vitest";
import { type Receiver, startReceiver } from "./receiver.js";

const SECRET = "whsec_test_0123456789abcdef";
const START = Date.UTC(2026, 2, 10, 12, 0, 0);

/** Case 2's setup: monitor limits per organisation per category per minute, alerting `ops`. */
const monitor = (limit: number): { limits: LimitSpec[] } => ({
  limits: [
    { name: "org-minute", per: "org", algorithm: "fixed-window", limit, window: "1m", mode: "monitor", alert: "ops" },
  ],
});

let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

async function setup() {
  receiver = await startReceiver();
  const clock = manualClock(START);
  const store = memoryStore({ clock });
  const alerts = createAlerts({
    store,
    clock,
    logger: silentLogger,
    config: { ops: { type: "webhook", url: `${receiver.url}/hook`, secret: SECRET } },
  });
  const limiter = createLimiter({
    store,
    clock,
    categories: { llm_call: monitor(15), collections: monitor(3), evaluations: monitor(3) },
    hooks: alerts.hooks,
  });
  return { clock, alerts, limiter, receiver };
}

describe("case 2: per-organisation monitoring alerts once per window", () => {
  it("happy: 100 requests in one minute over threshold 15 give exactly one alert with org, category, count 16, threshold 15", async () => {
    const { alerts, limiter, receiver } = await setup();
    for (let i = 0; i < 100; i++) {
      const decision = await limiter.check({ subject: { org: "acme" }, category: "llm_call" });
      expect(decision.allowed).toBe(true); // monitor only: never blocks
    }
    await alerts.drain();
    expect(receiver.requests).toHaveLength(1);
    const [request] = receiver.requests;
    expect(request?.path).toBe("/hook");
    expect(request?.body).toMatchObject({
      type: "threshold_crossed",
      subject: "org:acme",
      category: "llm_call",
      limit: "org-minute",
      count: 16,
      threshold: 15,
      time: new Date(START).toISOString(),
      window: { start: new Date(START).toISOString(), end: new Date(START + 60_000).toISOString() },
    });
    expect(request?.body.id).toMatch(/^evt_/);
    expect(request?.headers["x-tollgate-event"]).toBe("threshold_crossed");
    expect(request?.headers["x-tollgate-delivery"]).toMatch(/^dlv_/);
    expect(verifySignature(SECRET, request?.raw ?? "", String(request?.headers["x-tollgate-signature"]))).toBe(true);
    const [record] = await alerts.deliveries();
    expect(record).toMatchObject({ status: "delivered", attempts: 1, sink: "ops", type: "threshold_crossed" });
    expect(record?.target).toBe(`${receiver.url}/***`);
  });

  it("happy: a second org gets its own alert; the next minute alerts again; each category on its own threshold", async () => {
    const { clock, alerts, limiter, receiver } = await setup();
    const burst = async (org: string, category: string, n: number) => {
      for (let i = 0; i < n; i++) await limiter.check({ subject: { org }, category });
    };
    await burst("acme", "llm_call", 100);
    await burst("globex", "llm_call", 20);
    await burst("acme", "collections", 4); // threshold 3: the 4th crosses
    await burst("acme", "evaluations", 3); // at the threshold, not over: no alert
    await alerts.drain();
    expect(receiver.requests.map((r) => [r.body.subject, r.body.category, r.body.count, r.body.threshold])).toEqual([
      ["org:acme", "llm_call", 16, 15],
      ["org:globex", "llm_call", 16, 15],
      ["org:acme", "collections", 4, 3],
    ]);
    clock.advance(60_000);
    await burst("acme", "llm_call", 15);
    await alerts.drain();
    expect(receiver.requests).toHaveLength(3); // 15 is the threshold, not over it
    await burst("acme", "llm_call", 30);
    await alerts.drain();
    expect(receiver.requests).toHaveLength(4);
    const again = receiver.requests[3]?.body;
    expect(again).toMatchObject({ subject: "org:acme", count: 16, threshold: 15 });
    expect(again.window.start).toBe(new Date(START + 60_000).toISOString());
    expect(again.id).not.toBe(receiver.requests[0]?.body.id);
  });

  it("edge: the alert names the tenant level the counter charged (per project counts alert the project)", async () => {
    receiver = await startReceiver();
    const clock = manualClock(START);
    const store = memoryStore({ clock });
    const alerts = createAlerts({
      store,
      clock,
      logger: silentLogger,
      config: { ops: { type: "webhook", url: receiver.url } },
    });
    const limiter = createLimiter({
      store,
      clock,
      limits: [
        { name: "p", per: "project", algorithm: "fixed-window", limit: 1, window: "1m", mode: "monitor", alert: "ops" },
      ],
      hooks: alerts.hooks,
    });
    await limiter.check({ subject: { org: "acme", project: "p1" } });
    await limiter.check({ subject: { org: "acme", project: "p1" } });
    await alerts.drain();
    expect(receiver.requests.map((r) => r.body.subject)).toEqual(["project:p1"]);
  });
});
