/** A source of time in milliseconds since the epoch (fractions allowed for sub-millisecond precision). */
export interface Clock {
  now(): number;
}

/**
 * The process clock, in whole milliseconds. Shared stores ignore it and use their own (Redis
 * `TIME`, with microseconds). `Date.now()` rather than `performance.now()`: windows and calendar
 * periods follow wall time anyway, it is several times cheaper on the hot path, and GCRA keeps
 * its sub-millisecond precision in the state (fractional emission intervals), not in the clock.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
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
