import type { Outcome } from "@tollgate/core";
import type { Cluster, Redis } from "ioredis";
import { num, readOutcome } from "./codec.js";
import { DECIDE, OUTCOME_FIELDS, REPORT_FIELDS } from "./lua/scripts.js";
import { run, script } from "./script.js";

const decideScript = script(DECIDE);

/** What one slot group of one decision said. */
export interface PartResult {
  now: number;
  charged: boolean;
  outcomes: Outcome[];
  /** With `report`: each item's view before this charge, and its raw state before and after. */
  before?: { used: number; remaining: number; resetMs: number; raw: string; written: string }[];
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
    run(this.client, decideScript, keys, args).then(
      (reply) => distribute(parts, reply as unknown[]),
      (error: unknown) => {
        for (const part of parts) part.reject(error);
      },
    );
  }
}

function distribute(parts: Part[], reply: unknown[]): void {
  let at = 0;
  for (const part of parts) {
    const now = num(reply[at]);
    const charged = reply[at + 1] === "1";
    at += 2;
    const n = part.keys.length;
    const outcomes: Outcome[] = new Array(n);
    const before: PartResult["before"] = part.report ? new Array(n) : undefined;
    for (let i = 0; i < n; i++) {
      outcomes[i] = readOutcome(reply, at);
      at += OUTCOME_FIELDS;
      if (before) {
        before[i] = {
          used: num(reply[at]),
          remaining: num(reply[at + 1]),
          resetMs: num(reply[at + 2]),
          raw: String(reply[at + 3]),
          written: String(reply[at + 4]),
        };
        at += REPORT_FIELDS;
      }
    }
    part.resolve(before ? { now, charged, outcomes, before } : { now, charged, outcomes });
  }
}
