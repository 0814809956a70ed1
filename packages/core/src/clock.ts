/** A source of time in milliseconds since the epoch (fractions allowed for sub-millisecond precision). */
export interface Clock {
  now(): number;
}

/** The process clock. Shared stores ignore it and use their own (Redis `TIME`). */
// Read once: the `performance.timeOrigin` getter is slow enough to show in a profile.
const timeOrigin = performance.timeOrigin;
export const systemClock: Clock = {
  now: () => timeOrigin + performance.now(),
};

/**
 * A clock tests move by hand, so no test ever sleeps to wait out a window.
 *
 * @example
 * const clock = manualClock(Date.UTC(2026, 0, 1));
 * clock.advance(60_000);
 */
export interface ManualClock extends Clock {
  set(ms: number): void;
  advance(ms: number): void;
}

export function manualClock(start = 0): ManualClock {
  let current = start;
  return {
    now: () => current,
    set: (ms) => {
      current = ms;
    },
    advance: (ms) => {
      current += ms;
    },
  };
}
