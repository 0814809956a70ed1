import type { HealthEvent, Limiter } from "@tollgate/core";
import type { Logger } from "pino";

/**
 * Quiet, useful logs about the counter store: one WARN when a node goes degraded, one INFO when
 * it recovers, and while decisions are degraded one summary line per interval with their count.
 * Never a line (or a stack) per decision: an outage at 10,000 decisions/s would otherwise write
 * gigabytes an hour. The counts themselves live in metrics.
 */
export class StoreHealthLog {
  private degradedSince = 0;
  private degradedTotal = 0;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly limiter: Limiter,
    private readonly log: Logger,
    intervalMs: number,
  ) {
    this.unsubscribe = limiter.onHealthChange((event) => this.changed(event));
    this.timer = setInterval(() => this.summarise(intervalMs), intervalMs);
    this.timer.unref();
  }

  /** The limiter's onDecision hook calls this for each degraded decision. */
  degraded(): void {
    this.degradedSince++;
    this.degradedTotal++;
  }

  stop(): void {
    clearInterval(this.timer);
    this.unsubscribe();
  }

  private changed(event: HealthEvent) {
    const { store, partition } = event;
    if (event.type === "store_degraded") {
      this.log.warn(
        { event: event.type, store, node: partition, error: event.error },
        `counter store ${store} node ${partition} unavailable: decisions touching it follow failMode until it recovers`,
      );
    } else {
      this.log.info(
        { event: event.type, store, node: partition, durationMs: event.durationMs, failedCalls: event.failedCalls },
        `counter store ${store} node ${partition} recovered after ${event.durationMs} ms`,
      );
    }
  }

  private summarise(intervalMs: number) {
    const count = this.degradedSince;
    if (count === 0) return;
    this.degradedSince = 0;
    const health = this.limiter.health();
    this.log.warn(
      {
        event: "store_degraded_summary",
        degradedDecisions: count,
        degradedDecisionsTotal: this.degradedTotal,
        intervalMs,
        nodes: health.partitions.filter((p) => p.state !== "closed").map((p) => `${p.partition} ${p.state}`),
      },
      `${count} decisions degraded in the last ${Math.round(intervalMs / 1000)} s (counter store unavailable)`,
    );
  }
}
