/**
 * Resolves once the current event-loop turn has read all its ready sockets: one setImmediate
 * shared by every caller in the turn.
 *
 * Why: with the memory store a decision is synchronous, so each response was written the
 * moment its request was parsed, one writev per request, each waking the (idle) client
 * separately. The profile put 35 % of the server's CPU in writev, and the memory store ran at
 * about half the Redis store's rate (whose replies arrive in batches). Answering after the
 * turn's reads sends the responses back to back: +50 % req/s on the bench, lower p50 and p99.
 */
let pending: Promise<void> | undefined;

export function endOfTurn(): Promise<void> {
  pending ??= new Promise((resolve) =>
    setImmediate(() => {
      pending = undefined;
      resolve();
    }),
  );
  return pending;
}
