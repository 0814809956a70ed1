import type { LimitUsage } from "../types.js";
import { number, words } from "./format.js";

/** One limit as a bar: used vs limit, colour by how full, and a live reset countdown. */
export function UsageBar(props: { usage: LimitUsage; loadedAt: number; now: number }) {
  const { usage } = props;
  const ratio = usage.limit > 0 ? Math.min(1, usage.used / usage.limit) : 0;
  const left = Math.max(0, usage.reset - Math.floor((props.now - props.loadedAt) / 1000));
  const level = ratio >= 1 ? "full" : ratio >= 0.8 ? "high" : "ok";
  return (
    <div class="bar" data-testid={`bar-${usage.name}`}>
      <div class="bar-head">
        <span class="bar-name">{usage.name}</span>
        <span class="bar-figures" data-testid={`bar-${usage.name}-used`}>
          {number.format(usage.used)} of {number.format(usage.limit)} used
        </span>
      </div>
      <div
        class={`bar-track bar-${level}`}
        role="progressbar"
        aria-label={`${usage.name}: ${usage.used} of ${usage.limit} used`}
        aria-valuemin={0}
        aria-valuemax={usage.limit}
        aria-valuenow={usage.used}
      >
        <div class="bar-fill" style={{ width: `${(ratio * 100).toFixed(1)}%` }} />
      </div>
      <div class="bar-reset">{left > 0 ? `Resets in ${words.duration(left)}` : "Resetting now"}</div>
    </div>
  );
}
