/** The clock a countdown reads and schedules on; replace it in tests. */
export interface Timer {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimer: Timer = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
};

export interface Countdown {
  /** Resolves when the wait is over (the last tick, with 0, has been delivered), or when cancelled. */
  done: Promise<void>;
  /** Stops ticking; `done` resolves. */
  cancel(): void;
}

export interface CountdownOptions {
  timer?: Timer;
  /** Cancels the countdown when aborted (a component unmounting). */
  signal?: AbortSignal;
}

/**
 * Calls `onTick` with the whole seconds left, at once and then every second, down to 0; then
 * `done` resolves. Ticks are scheduled against a deadline, not by counting intervals, so a busy or
 * throttled tab never makes the countdown end early or drift late.
 *
 * @example
 * const { done } = countdown(denial.retryAfter, (left) => { panel.textContent = formatter.retryIn(left); });
 * await done;
 * retryButton.disabled = false;
 */
export function countdown(
  seconds: number,
  onTick: (secondsLeft: number) => void,
  options: CountdownOptions = {},
): Countdown {
  const timer = options.timer ?? realTimer;
  const deadline = timer.now() + Math.max(0, Math.ceil(seconds)) * 1000;
  let handle: unknown;
  let finished = false;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = () => {
      if (finished) return;
      finished = true;
      if (handle !== undefined) timer.clearTimeout(handle);
      options.signal?.removeEventListener("abort", finish);
      resolve();
    };
  });
  const tick = () => {
    if (finished) return;
    const leftMs = Math.max(0, deadline - timer.now());
    const left = Math.ceil(leftMs / 1000);
    onTick(left);
    if (left === 0) {
      finish();
      return;
    }
    // Wake just after the next whole-second boundary of the remaining time.
    handle = timer.setTimeout(tick, leftMs - (left - 1) * 1000);
  };
  if (options.signal?.aborted) finish();
  else {
    options.signal?.addEventListener("abort", finish);
    tick();
  }
  return { done, cancel: finish };
}
