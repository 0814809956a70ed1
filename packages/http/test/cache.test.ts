import type { CacheBackend } from "@tollgate/core";
import { manualClock } from "@tollgate/core";
import { cacheKey, memoryCache, resultCache } from "@tollgate/http";
import { describe, expect, it } from "vitest";

describe("result cache", () => {
  it("keys by SHA-256 of the normalised URL", () => {
    expect(cacheKey("https://Example.com:443/a?b=2&a=1#top")).toBe(cacheKey("https://example.com/a?a=1&b=2"));
    expect(cacheKey("https://example.com/a")).toMatch(/^[0-9a-f]{64}$/);
  });

  it("reports hit and age, expires after the TTL, and force-refresh recomputes", async () => {
    const clock = manualClock(0);
    const cache = resultCache({ backend: memoryCache({ clock }), clock });
    let calls = 0;
    const compute = async () => ({ n: ++calls });
    expect(await cache.get("https://a.example/", compute)).toEqual({
      value: { n: 1 },
      cache_hit: false,
      cache_age_seconds: 0,
    });
    clock.advance(90_000);
    expect(await cache.get("https://a.example/", compute)).toEqual({
      value: { n: 1 },
      cache_hit: true,
      cache_age_seconds: 90,
    });
    expect(await cache.get("https://a.example/", compute, { forceRefresh: true })).toMatchObject({
      value: { n: 2 },
      cache_hit: false,
    });
    expect(await cache.lookup("https://a.example/")).toMatchObject({ value: { n: 2 }, cache_age_seconds: 0 });
    clock.advance(3_600_000);
    expect(await cache.lookup("https://a.example/")).toBeUndefined();
  });

  it("runs concurrent misses once (single flight)", async () => {
    const cache = resultCache({ backend: memoryCache() });
    let calls = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const compute = async () => {
      calls++;
      await gate;
      return "page";
    };
    const all = Promise.all(Array.from({ length: 10 }, () => cache.get("https://b.example/", compute)));
    await new Promise((resolve) => setImmediate(resolve));
    release();
    const results = await all;
    expect(calls).toBe(1);
    expect(results.every((r) => r.value === "page")).toBe(true);
  });

  it("passes through when the backend fails or is absent", async () => {
    const errors: string[] = [];
    const down: CacheBackend = {
      get: () => Promise.reject(new Error("down")),
      set: () => Promise.reject(new Error("down")),
      delete: () => Promise.reject(new Error("down")),
    };
    const cache = resultCache({ backend: down, onError: (_e, op) => errors.push(op) });
    expect(await cache.get("x", async () => 1)).toMatchObject({ value: 1, cache_hit: false });
    expect(errors).toEqual(["get", "set"]);
    let calls = 0;
    const none = resultCache();
    await none.get("x", async () => ++calls);
    await none.get("x", async () => ++calls);
    expect(calls).toBe(2);
  });
});
