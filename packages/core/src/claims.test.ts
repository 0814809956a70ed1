import { describe, expect, it } from "vitest";
import { ClaimTable } from "./claims.js";
import { manualClock } from "./clock.js";
import { memoryStore } from "./memory-store.js";

describe("claims (Store.claimOnce in memory)", () => {
  it("happy: one claim per key until it expires, then it can be claimed again", () => {
    const clock = manualClock(1000);
    const store = memoryStore({ clock });
    expect(store.claimOnce?.("a", 60_000)).toBe(true);
    expect(store.claimOnce?.("a", 60_000)).toBe(false);
    expect(store.claimOnce?.("b", 60_000)).toBe(true);
    clock.advance(59_999);
    expect(store.claimOnce?.("a", 60_000)).toBe(false);
    clock.advance(1);
    expect(store.claimOnce?.("a", 60_000)).toBe(true);
  });

  it("edge: memory stays bounded: expired claims are reclaimed as new ones come, and a cap evicts the oldest", () => {
    const clock = manualClock(0);
    const table = new ClaimTable(clock, 1000);
    for (let i = 0; i < 10_000; i++) {
      table.claim(`k${i}`, 100);
      clock.advance(1);
    }
    // Claims live 100 ms and one arrives per ms: about 100 are live at any time.
    expect(table.size).toBeLessThanOrEqual(102);
    const capped = new ClaimTable(clock, 1000);
    for (let i = 0; i < 5000; i++) capped.claim(`k${i}`, 3_600_000);
    expect(capped.size).toBe(1000);
    expect(capped.claim("k4999", 3_600_000)).toBe(false);
  });
});
