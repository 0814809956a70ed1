import { Writable } from "node:stream";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { LogOutput } from "../src/log-output.js";
import { createLogger, registerLogDropMetric } from "../src/logger.js";

/** A stdout whose reader takes nothing until `read()`: writes pile up in its buffer, as on a full pipe. */
function stalledPipe() {
  const held: (() => void)[] = [];
  const received: string[] = [];
  const stream = new Writable({
    highWaterMark: 1024,
    write(chunk, _encoding, callback) {
      received.push(String(chunk));
      held.push(callback);
    },
  });
  return {
    stream,
    received,
    /** The reader catches up: every held write completes. */
    read() {
      while (held.length > 0) (held.shift() as () => void)();
    },
  };
}

const line = (i: number) => `${JSON.stringify({ msg: `line ${i}`, pad: "x".repeat(80) })}\n`;

describe("LogOutput: stdout through a bounded buffer", () => {
  it("happy: buffers while the reader lags, within the bound", () => {
    const pipe = stalledPipe();
    const output = new LogOutput(pipe.stream, 64 * 1024);
    for (let i = 0; i < 100; i++) output.write(line(i));
    expect(output.dropped).toBe(0);
    pipe.read();
    expect(pipe.received.join("")).toBe(Array.from({ length: 100 }, (_, i) => line(i)).join(""));
  });

  it("edge: past the bound whole lines are dropped and counted, never cut", () => {
    const pipe = stalledPipe();
    const output = new LogOutput(pipe.stream, 10_000);
    for (let i = 0; i < 1000; i++) output.write(line(i));
    expect(output.dropped).toBeGreaterThan(800);
    expect(output.pendingBytes).toBeLessThanOrEqual(10_000);
    pipe.read();
    for (const chunk of pipe.received) expect(() => JSON.parse(chunk)).not.toThrow();
    expect(pipe.received.length + output.dropped).toBe(1000);
  });

  it("edge: after an episode of dropping, writing resumes below half the bound and one line says how many were lost", async () => {
    const pipe = stalledPipe();
    const output = new LogOutput(pipe.stream, 10_000);
    const logger = createLogger("info", output);
    for (let i = 0; i < 500; i++) logger.info({ i, pad: "x".repeat(80) }, "busy");
    const lost = output.dropped;
    expect(lost).toBeGreaterThan(0);
    pipe.read();
    logger.info("reader is back");
    await new Promise((resolve) => setImmediate(resolve));
    pipe.read();
    const after = pipe.received.map((chunk) => JSON.parse(chunk));
    expect(after.at(-2)).toMatchObject({ msg: "reader is back" });
    expect(after.at(-1)).toMatchObject({ level: 40, droppedLines: lost });
    expect(after.filter((entry) => entry.droppedLines !== undefined)).toHaveLength(1);
  });

  it("error: a reader that is gone (EPIPE) makes every later line a counted drop, not a crash", async () => {
    const stream = new Writable({
      write(_chunk, _encoding, callback) {
        callback(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }));
      },
    });
    const output = new LogOutput(stream, 10_000);
    output.write(line(1));
    await new Promise((resolve) => setImmediate(resolve));
    output.write(line(2));
    output.write(line(3));
    expect(output.dropped).toBe(2);
    expect(await output.flush(1000)).toBe(false);
  });

  it("happy: flush resolves true once the reader has taken everything", async () => {
    const pipe = stalledPipe();
    const output = new LogOutput(pipe.stream, 64 * 1024);
    output.write(line(1));
    const flushed = output.flush(10_000);
    setTimeout(() => pipe.read(), 20);
    expect(await flushed).toBe(true);
  });

  it("edge: flush gives up at its deadline when the reader never reads (the caller exits anyway)", async () => {
    const pipe = stalledPipe();
    const output = new LogOutput(pipe.stream, 64 * 1024);
    output.write(line(1));
    expect(await output.flush(50)).toBe(false);
    expect(output.pendingBytes).toBeGreaterThan(0);
  });

  it("happy: tollgate_log_lines_dropped_total counts the dropped lines", async () => {
    const pipe = stalledPipe();
    const output = new LogOutput(pipe.stream, 10_000);
    const registry = new Registry();
    registerLogDropMetric(registry, output);
    for (let i = 0; i < 300; i++) output.write(line(i));
    const first = await registry.getSingleMetricAsString("tollgate_log_lines_dropped_total");
    expect(first).toContain(`tollgate_log_lines_dropped_total ${output.dropped}`);
    for (let i = 0; i < 10; i++) output.write(line(i));
    const second = await registry.getSingleMetricAsString("tollgate_log_lines_dropped_total");
    expect(second).toContain(`tollgate_log_lines_dropped_total ${output.dropped}`);
  });
});
