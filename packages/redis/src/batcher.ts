import type { Cluster, Redis } from "ioredis";
import { decodeBatch, type EncodedDecision, encodeBatch, type PartResult } from "./batch-codec.js";
import { DECIDE } from "./lua/scripts.js";
import { runBuffer, script } from "./script.js";

export type { PartResult } from "./batch-codec.js";

const decideScript = script(DECIDE);

/** One decision's items that share a hash slot, waiting for its batch. */
export interface Part extends EncodedDecision {
  slot: number;
  resolve(result: PartResult): void;
  reject(error: unknown): void;
}

export interface BatchOptions {
  /** Decisions per script call at most (a call blocks Redis while it runs). Default 128. */
  maxDecisions?: number;
  /**
   * Limits (items) per script call at most. Default 256: past that, larger scripts cost Redis
   * more per item (bigger Lua tables and garbage) and hold it longer, while smaller batches in
   * flight keep Redis and the client working in parallel.
   */
  maxItems?: number;
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
  private readonly queues = new Map<number, { parts: Part[]; items: number }>();
  private scheduled = false;
  private readonly maxDecisions: number;
  private readonly maxItems: number;
  private readonly enabled: boolean;
  /** Script calls made (tests and benches read it). */
  calls = 0;

  constructor(
    private readonly client: Redis | Cluster,
    private readonly pad: number,
    options: BatchOptions = {},
  ) {
    this.maxDecisions = Math.max(1, options.maxDecisions ?? 128);
    // Items name their key by a 16-bit index into the batch's KEYS.
    this.maxItems = Math.min(65_535, Math.max(1, options.maxItems ?? 256));
    this.enabled = options.enabled ?? true;
  }

  submit(part: Part): void {
    if (!this.enabled) {
      this.send([part]);
      return;
    }
    let queue = this.queues.get(part.slot);
    if (queue === undefined) {
      queue = { parts: [], items: 0 };
      this.queues.set(part.slot, queue);
    }
    queue.parts.push(part);
    queue.items += part.items.length;
    if (queue.parts.length >= this.maxDecisions || queue.items >= this.maxItems) {
      this.queues.delete(part.slot);
      this.send(queue.parts);
    } else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = () => {
    this.scheduled = false;
    for (const queue of this.queues.values()) this.send(queue.parts);
    this.queues.clear();
  };

  private send(parts: Part[]): void {
    let encoded: ReturnType<typeof encodeBatch>;
    try {
      encoded = encodeBatch(parts, this.pad);
    } catch (error) {
      for (const part of parts) part.reject(error); // e.g. a lease id over 64 KiB
      return;
    }
    const { keys, bytes } = encoded;
    this.calls++;
    runBuffer(this.client, decideScript, keys, [bytes]).then(
      (reply) => {
        const results = decodeBatch(parts, reply);
        for (let i = 0; i < parts.length; i++) (parts[i] as Part).resolve(results[i] as PartResult);
      },
      (error: unknown) => {
        for (const part of parts) part.reject(error);
      },
    );
  }
}
