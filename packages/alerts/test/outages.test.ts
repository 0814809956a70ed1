import { type AlertEvent, createAlerts, localOutageBoard, type OutageBoard } from "@tollgate/alerts";
import { manualClock } from "@tollgate/core";
import { describe, expect, it } from "vitest";
import { START } from "./helpers.js";

/** `n` alerts instances on one board (the server's is its shared SQL database), events collected in order. */
function instances(n: number, board: OutageBoard) {
  const events: AlertEvent[] = [];
  const warnings: string[] = [];
  const clock = manualClock(START);
  const logger = {
    info() {},
    warn: (o: { alert?: AlertEvent }, message: string) => (o.alert ? events.push(o.alert) : warnings.push(message)),
    error: (o: { alert?: AlertEvent }) => o.alert && events.push(o.alert),
  };
  const all = Array.from({ length: n }, (_, i) =>
    createAlerts({
      clock,
      logger,
      outages: board,
      instance: `i${i}`,
      store: { name: "redis", synchronous: false },
      config: { ops: { type: "log" } },
    }),
  );
  const drain = () => Promise.all(all.map((a) => a.drain()));
  return { all, events, warnings, clock, drain };
}

/** A board answering later, as a database does. */
function slowBoard(board = localOutageBoard()): OutageBoard {
  const later = <T>(value: T | Promise<T>) =>
    new Promise<T>((resolve) => setTimeout(() => resolve(Promise.resolve(value)), 5));
  return {
    open: (subject, id) => later(board.open(subject, id)),
    close: (subject, id) => later(board.close(subject, id)),
  };
}

const short = (e: AlertEvent) => [e.type, e.instance];

describe("store outages: once per outage across instances", () => {
  it("happy: three instances see one outage: one store_degraded, one store_recovered resolving it", async () => {
    const { all, events, drain } = instances(3, slowBoard());
    for (const a of all) a.storeDegraded("connection refused");
    await drain();
    for (const a of all) a.storeRecovered();
    await drain();
    expect(events.map(short)).toEqual([
      ["store_degraded", "i0"],
      ["store_recovered", "i0"],
    ]);
    expect(events[1]?.resolves).toBe(events[0]?.id);
  });

  it("happy: the next outage is reported again, with its own id", async () => {
    const { all, events, drain, clock } = instances(3, localOutageBoard());
    for (const a of all) a.storeDegraded();
    for (const a of all) a.storeRecovered();
    clock.advance(60_000);
    for (const a of [...all].reverse()) a.storeDegraded();
    for (const a of all) a.storeRecovered();
    await drain();
    // Each instance delivers from its own queue: in time order, degraded before recovered.
    events.sort((x, y) => x.time.localeCompare(y.time) || (x.type === "store_degraded" ? -1 : 1));
    expect(events.map(short)).toEqual([
      ["store_degraded", "i0"],
      ["store_recovered", "i0"],
      ["store_degraded", "i2"],
      ["store_recovered", "i0"],
    ]);
    expect(events[2]?.id).not.toBe(events[0]?.id);
    expect(events[3]?.resolves).toBe(events[2]?.id);
  });

  it("edge: recovering before the board has answered the opening still closes that outage", async () => {
    const { all, events, drain } = instances(2, slowBoard());
    const [a, b] = all as [(typeof all)[0], (typeof all)[0]];
    a.storeDegraded();
    b.storeDegraded();
    a.storeRecovered(); // the board has not answered a's opening yet
    b.storeRecovered();
    await drain();
    expect(events.map((e) => e.type)).toEqual(["store_degraded", "store_recovered"]);
    expect(events[1]?.resolves).toBe(events[0]?.id);
  });

  it("sad: a board that cannot be reached: each instance reports its outage alone, with a warning", async () => {
    const failing: OutageBoard = {
      open: () => Promise.reject(new Error("database down")),
      close: () => Promise.reject(new Error("database down")),
    };
    const { all, events, warnings, drain } = instances(2, failing);
    for (const a of all) a.storeDegraded();
    await drain();
    for (const a of all) a.storeRecovered();
    await drain();
    expect(events.map(short).sort()).toEqual([
      ["store_degraded", "i0"],
      ["store_degraded", "i1"],
      ["store_recovered", "i0"],
      ["store_recovered", "i1"],
    ]);
    expect(warnings.some((w) => w.includes("outage board"))).toBe(true);
  });
});
