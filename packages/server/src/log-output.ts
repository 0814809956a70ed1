import type { Writable } from "node:stream";

/** Bytes of log lines held in memory while stdout's reader lags, before lines are dropped. */
export const DEFAULT_LOG_BUFFER_BYTES = 4 * 1024 * 1024;

/** Streams whose reader is gone (EPIPE), shared by every LogOutput over them. */
const brokenStreams = new WeakSet<Writable>();
/** Streams with our error listener: one per stream, however many servers a process builds. */
const watchedStreams = new WeakSet<Writable>();

/**
 * Where the server's JSON log lines go (stdout by default): an asynchronous destination with a
 * bounded buffer, so a slow or stopped log reader can never stall decisions or shutdown.
 *
 * Policy when the reader does not keep up: lines are **buffered** in memory up to `limitBytes`;
 * past that, new lines are **dropped** whole (never cut), counted in `dropped`
 * (`tollgate_log_lines_dropped_total` on /metrics), and once the buffer has drained to half the
 * limit one WARN line says how many were lost. A reader that is gone (EPIPE) drops everything
 * from then on, counted the same way.
 *
 * Why not pino's own destination (sonic-boom)? Its synchronous mode blocks the event loop on a
 * full pipe (every decision waits, and so does SIGTERM). Its asynchronous mode writes from
 * libuv's thread pool with `fs.write`: on a full pipe that thread blocks inside write(2), and
 * Node's exit joins the thread pool, so the process can never exit. `process.stdout` on a pipe
 * is a non-blocking libuv stream: lines queue in memory (here, bounded) and go out as the reader
 * reads, and exiting never waits on them. On a file or a terminal Node writes stdout
 * synchronously; neither blocks for long.
 */
export class LogOutput {
  #dropped = 0;
  #droppedInEpisode = 0;
  #full = false;
  /** Called (after the line that ended it) with the count of lines an episode of dropping lost. */
  onDropsEnded: (count: number) => void = () => {};

  constructor(
    private readonly stream: Writable = process.stdout,
    readonly limitBytes: number = DEFAULT_LOG_BUFFER_BYTES,
  ) {
    // EPIPE (the reader closed its end) arrives as an error event; unhandled, it would crash the server.
    if (!watchedStreams.has(stream)) {
      watchedStreams.add(stream);
      stream.on("error", () => brokenStreams.add(stream));
    }
  }

  /** Log lines dropped since start (buffer full, or no reader left). */
  get dropped(): number {
    return this.#dropped;
  }

  /** Bytes accepted and not yet taken by the reader. */
  get pendingBytes(): number {
    return this.stream.writableLength;
  }

  /** Queues one line (pino calls this), or drops and counts it; never blocks, never throws. */
  write(line: string): void {
    if (!this.#accept(line)) {
      this.#dropped++;
      this.#droppedInEpisode++;
      return;
    }
    if (this.#droppedInEpisode > 0) {
      const count = this.#droppedInEpisode;
      this.#droppedInEpisode = 0;
      queueMicrotask(() => this.onDropsEnded(count));
    }
  }

  /**
   * Waits until the reader has taken every buffered line, or `timeoutMs` has passed. Resolves
   * true when everything was written; false when lines are still pending (the caller exits anyway).
   */
  flush(timeoutMs: number): Promise<boolean> {
    const drained = () => this.#broken() || this.stream.writableLength === 0;
    if (drained()) return Promise.resolve(!this.#broken());
    return new Promise((resolve) => {
      const deadline = Date.now() + timeoutMs;
      const poll = setInterval(() => {
        if (drained() || Date.now() >= deadline) {
          clearInterval(poll);
          resolve(this.stream.writableLength === 0 && !this.#broken());
        }
      }, 10);
    });
  }

  #broken(): boolean {
    return brokenStreams.has(this.stream);
  }

  /** Hands the line to the stream when the reader has room for it (within the bound). */
  #accept(line: string): boolean {
    if (this.#broken() || this.stream.destroyed) return false;
    const pending = this.stream.writableLength;
    // Once full, wait for the reader to take half before accepting again, so that an episode of
    // dropping is one episode (one notice), not a line let through every time a byte drains.
    if (this.#full && pending > this.limitBytes / 2) return false;
    // Characters, not bytes: close enough for a bound on memory, and free to compute.
    if (pending + line.length > this.limitBytes) {
      this.#full = true;
      return false;
    }
    this.#full = false;
    try {
      this.stream.write(line);
      return true;
    } catch {
      // A stream destroyed between the check and the write.
      return false;
    }
  }
}
