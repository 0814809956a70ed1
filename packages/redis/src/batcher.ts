import type { Outcome } from "@tollgate/core";
import type { Cluster, Redis } from "ioredis";
import { DECIDE } from "./lua/scripts.js";
import { runBuffer, script } from "./script.js";

const decideScript = script(DECIDE);

/** What one slot group of one decision said. */
export interface PartResult {
  now: number;
  charged: boolean;
  outcomes: Outcome[];
  /** With `report`: each item's view before this charge, and its raw state before and after. */
  before?: { used: number; remaining: number; resetMs: number; raw: Buffer; written: Buffer }[];
}

/** One decision's items that share a hash slot, ready for the DECIDE script. */
export interface Part {
  slot: number;
  keys: string[];
  /** DECIDE_ITEM_FIELDS per item. */
  args: string[];
  /** '' = Redis TIME, else the testing clock's ms. */
  now: string;
  charge: boolean;
  report: boolean;
  resolve(result: PartResult): void;
  reject(error: unknown): void;
}

export interface BatchOptions {
  /** Decisions per script call at most (a call blocks Redis while it runs). Default 128. */
  maxDecisions?: number;
  /** false sends every decision on its own. Default true. */
  enabled?: boolean;
}

/**
 * Collects the decisions issued while the event loop is busy and sends them as one DECIDE call per
 * slot, which decides them in order: the per-command cost of the client is paid once per batch.
 * The flush runs on setImmediate, right after the current I/O callbacks (where a burst of replies
 * has just started the next decisions), never on a timer: a lone decision waits for nothing.
 */
export class Batcher {
  private readonly queues = new Map<number, Part[]>();
  private scheduled = false;
  private readonly maxDecisions: number;
  private readonly enabled: boolean;
  /** Script calls made (tests and benches read it). */
  calls = 0;

  constructor(
    private readonly client: Redis | Cluster,
    private readonly pad: string,
    options: BatchOptions = {},
  ) {
    this.maxDecisions = Math.max(1, options.maxDecisions ?? 128);
    this.enabled = options.enabled ?? true;
  }

  submit(part: Part): void {
    if (!this.enabled) {
      this.send([part]);
      return;
    }
    let queue = this.queues.get(part.slot);
    if (queue === undefined) {
      queue = [];
      this.queues.set(part.slot, queue);
    }
    queue.push(part);
    if (queue.length >= this.maxDecisions) {
      this.queues.delete(part.slot);
      this.send(queue);
    } else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = () => {
    this.scheduled = false;
    for (const queue of this.queues.values()) this.send(queue);
    this.queues.clear();
  };

  private send(parts: Part[]): void {
    const keys: string[] = [];
    const args: string[] = [this.pad, String(parts.length)];
    for (const part of parts) {
      args.push(part.now, part.charge ? "1" : "0", part.report ? "1" : "0", String(part.keys.length));
      for (const key of part.keys) keys.push(key);
      for (const arg of part.args) args.push(arg);
    }
    this.calls++;
    runBuffer(this.client, decideScript, keys, args).then(
      (reply) => distribute(parts, reply),
      (error: unknown) => {
        for (const part of parts) part.reject(error);
      },
    );
  }
}

/** -0 reads as 0, as the reference never reports a negative zero. */
const double = (reply: Buffer, at: number) => reply.readDoubleLE(at) + 0;

/**
 * Reads DECIDE's packed answer: per decision `<dB` (now, charged), then per item `<BBdddd` (fits,
 * crossed, used, remaining, resetMs, retryAfterMs) and, for a report, `<dddH` (the uncharged
 * view and the raw state's length), the raw state, `<H` and the state written.
 */
function distribute(parts: Part[], reply: Buffer): void {
  let at = 0;
  for (const part of parts) {
    const now = double(reply, at);
    const charged = reply[at + 8] === 1;
    at += 9;
    const n = part.keys.length;
    const outcomes: Outcome[] = new Array(n);
    const before: PartResult["before"] = part.report ? new Array(n) : undefined;
    for (let i = 0; i < n; i++) {
      const fits = reply[at] === 1;
      outcomes[i] = {
        fits,
        exceeded: !fits,
        crossed: reply[at + 1] === 1,
        used: double(reply, at + 2),
        remaining: double(reply, at + 10),
        resetMs: double(reply, at + 18),
        retryAfterMs: double(reply, at + 26),
      };
      at += 34;
      if (before) {
        const used = double(reply, at);
        const remaining = double(reply, at + 8);
        const resetMs = double(reply, at + 16);
        const rawLength = reply.readUInt16LE(at + 24);
        const raw = Buffer.from(reply.subarray(at + 26, at + 26 + rawLength));
        at += 26 + rawLength;
        const writtenLength = reply.readUInt16LE(at);
        const written = Buffer.from(reply.subarray(at + 2, at + 2 + writtenLength));
        at += 2 + writtenLength;
        before[i] = { used, remaining, resetMs, raw, written };
      }
    }
    part.resolve(before ? { now, charged, outcomes, before } : { now, charged, outcomes });
  }
}
