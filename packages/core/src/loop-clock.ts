/**
 * Time during which this process's event loop was available to run, as opposed to wall time.
 *
 * A store call's timeout must measure the store, not us: when the process is CPU-starved (more
 * busy processes than cores) or runs a long synchronous task, wall time passes while nothing of
 * ours runs, replies wait unread in the socket, and a wall-clock deadline blames the store. This
 * clock ticks every TICK_MS while deadlines are pending; a tick that comes later than
 * TICK_MS + SLACK_MS shows a stall, and the excess is not counted. Stalls shorter than a tick
 * plus the slack (timer jitter) are counted as available time.
 *
 * Cheap: one unref'd timer, running only while some deadline waits, and a small ring of
 * (wall, stalled) samples so a past wall instant (a node's last reply) converts to available time.
 */
const TICK_MS = 10;
const SLACK_MS = 5;
/** Samples kept: 512 ticks, about 5 s, far more than any timeout looks back. */
const SAMPLES = 512;

const wallNow = () => globalThis.performance.now();

export class LoopClock {
  private users = 0;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private lastTick = wallNow();
  /** Wall ms not counted as available so far. */
  private stalled = 0;
  private readonly wall = new Float64Array(SAMPLES);
  private readonly stalledAt = new Float64Array(SAMPLES);
  private count = 0;

  /** A deadline starts waiting: the clock ticks until every user has stopped. */
  hold(): void {
    if (this.users++ > 0) return;
    this.lastTick = wallNow();
    this.record(this.lastTick);
    this.ticker = setInterval(this.tick, TICK_MS);
    (this.ticker as { unref?: () => void }).unref?.();
  }

  release(): void {
    if (--this.users > 0) return;
    this.users = 0;
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.ticker = undefined;
    this.tick();
  }

  /** Available time now (ms, monotonic, same origin as wall time minus the stalls). */
  now(): number {
    const wall = wallNow();
    // A stall in progress (we are running again, but the tick has not come yet) counts too.
    const pending = Math.max(0, wall - this.lastTick - (TICK_MS + SLACK_MS));
    return wall - this.stalled - pending;
  }

  /** Available time at a past wall instant (`performance.now()` ms). */
  at(wall: number): number {
    if (wall >= this.lastTick) return wall - this.stalled;
    // The stall total at the last sample taken at or before `wall`; older than the ring: the oldest.
    const n = Math.min(this.count, SAMPLES);
    let stalled = n > 0 ? (this.stalledAt[(this.count - n) % SAMPLES] as number) : 0;
    let low = 0;
    let high = n - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      const index = (this.count - n + mid) % SAMPLES;
      if ((this.wall[index] as number) <= wall) {
        stalled = this.stalledAt[index] as number;
        low = mid + 1;
      } else high = mid - 1;
    }
    return wall - stalled;
  }

  private readonly tick = () => {
    const wall = wallNow();
    this.stalled += Math.max(0, wall - this.lastTick - (TICK_MS + SLACK_MS));
    this.lastTick = wall;
    this.record(wall);
  };

  private record(wall: number) {
    const index = this.count % SAMPLES;
    this.wall[index] = wall;
    this.stalledAt[index] = this.stalled;
    this.count++;
  }
}

/** The process's loop clock, shared by every deadline. */
export const loopClock = new LoopClock();
