import { Counter, Histogram, type Registry } from "prom-client";

/**
 * The gateway's Prometheus metrics. The model label only takes names the configuration knows
 * (priced or allowed models); any other name a caller sends is counted as `other`, so callers
 * cannot grow the label set.
 */
export class GatewayMetrics {
  readonly calls: Counter<"plan" | "model" | "status">;
  readonly tokens: Counter<"plan" | "model" | "kind">;
  readonly costUsd: Counter<"plan" | "model">;
  readonly upstreamLatency: Histogram<"model">;
  readonly overhead: Histogram<"stream">;
  readonly cuts: Counter<"plan" | "model">;
  readonly released: Counter;

  constructor(
    registry: Registry,
    private readonly knownModels: ReadonlySet<string>,
  ) {
    const registers = [registry];
    this.calls = new Counter({
      name: "tollgate_gateway_calls_total",
      help: "Gateway calls by plan, model and HTTP status answered (denials included).",
      labelNames: ["plan", "model", "status"],
      registers,
    });
    this.tokens = new Counter({
      name: "tollgate_gateway_tokens_total",
      help: "Tokens charged by the gateway by plan, model and kind (input, output, cached input).",
      labelNames: ["plan", "model", "kind"],
      registers,
    });
    this.costUsd = new Counter({
      name: "tollgate_gateway_cost_usd_total",
      help: "Money charged by the gateway in USD, from gateway.prices, by plan and model.",
      labelNames: ["plan", "model"],
      registers,
    });
    this.upstreamLatency = new Histogram({
      name: "tollgate_gateway_upstream_duration_seconds",
      help: "Time from sending a call upstream to its response headers (first byte of a stream), by model.",
      labelNames: ["model"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.overhead = new Histogram({
      name: "tollgate_gateway_overhead_seconds",
      help: "Time the gateway adds before a call goes upstream (authentication, limits, reservation).",
      labelNames: ["stream"],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers,
    });
    this.cuts = new Counter({
      name: "tollgate_gateway_stream_cuts_total",
      help: "Streams ended by the gateway because they reached the caller's token or money budget.",
      labelNames: ["plan", "model"],
      registers,
    });
    this.released = new Counter({
      name: "tollgate_gateway_reservations_released_total",
      help: "Reservations never settled (their gateway instance died mid-call) released after reservationTimeout.",
      registers,
    });
  }

  model(name: string): string {
    return this.knownModels.has(name) ? name : "other";
  }
}
