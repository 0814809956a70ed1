// Shared by the benches: an open-loop (paced) HTTP client.
//
// Requests are released at a steady `rate` (checked every millisecond), round robin over
// `connections` keep-alive sockets, whatever the server's answers do: a slow server makes the
// queue, not the client, wait. Each answer is timed twice: from when its request was DUE (queueing
// in the client and the server counts, so a stall is not hidden by sending less: no coordinated
// omission) and from when it was SENT (the server's own answer time). Not autocannon's
// overallRate, which sends each second's budget in a burst at the start of the second (a burst at
// full speed, not a steady load). Raw sockets because node:http's client saturates first.
import { connect } from "node:net";

export const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

/**
 * Sends POST `path` with `nextBody()` bodies at `rate` per second for `seconds`. Every
 * `intervalMs` (and once at the end) `onInterval` receives that interval's figures:
 * `{ index, seconds, sent, answered, latencies, sendLatencies, errors, outstanding }` (latency
 * arrays sorted, in ms). Resolves with the totals once every request has been answered.
 */
export async function paced({
  url,
  path = "/v1/check",
  headers = {},
  nextBody,
  rate,
  seconds,
  connections = 50,
  intervalMs = seconds * 1000,
  onInterval = () => {},
}) {
  const { hostname, port } = new URL(url);
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("");
  const request = (body) =>
    `POST ${path} HTTP/1.1\r\nhost: ${hostname}:${port}\r\n${extra}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const total = Math.max(1, Math.round(rate * seconds));
  let interval = { latencies: [], sendLatencies: [], sent: 0, errors: 0 };
  let sent = 0;
  let answered = 0;
  let errors = 0;
  let done;
  const allDone = new Promise((resolve) => (done = resolve));
  const sockets = await Promise.all(
    Array.from({ length: connections }, () => {
      const socket = connect({ host: hostname, port: Number(port), noDelay: true });
      const pending = []; // [due, sent] of this socket's requests awaiting an answer, in order
      let buffer = Buffer.alloc(0);
      socket.on("data", (chunk) => {
        buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
        for (;;) {
          const end = buffer.indexOf("\r\n\r\n");
          if (end < 0) return;
          const length = Number(/content-length: *(\d+)/i.exec(buffer.subarray(0, end).toString("latin1"))?.[1] ?? 0);
          if (buffer.length < end + 4 + length) return;
          if (buffer.subarray(9, 12).toString("latin1") !== "200") {
            errors++;
            interval.errors++;
          }
          const [dueAt, sentAt] = pending.shift();
          const now = performance.now();
          interval.latencies.push(now - dueAt);
          interval.sendLatencies.push(now - sentAt);
          buffer = buffer.subarray(end + 4 + length);
          if (++answered === total) done();
        }
      });
      // A dead socket fails its pending requests (and later ones would hang, so stop there).
      socket.on("error", () => {
        errors += total - answered;
        done();
      });
      return new Promise((resolve) => socket.on("connect", () => resolve({ socket, pending })));
    }),
  );

  const start = performance.now();
  let index = 0;
  const report = (end) => {
    const { latencies, sendLatencies } = interval;
    latencies.sort((a, b) => a - b);
    sendLatencies.sort((a, b) => a - b);
    const seconds = (end - (start + index * intervalMs)) / 1000;
    onInterval({
      index: ++index,
      seconds,
      sent: interval.sent,
      answered: latencies.length,
      latencies,
      sendLatencies,
      errors: interval.errors,
      outstanding: sent - answered,
    });
    interval = { latencies: [], sendLatencies: [], sent: 0, errors: 0 };
  };
  const timer = setInterval(() => {
    const now = performance.now();
    const due = Math.min(total, Math.floor(((now - start) * rate) / 1000));
    for (; sent < due; sent++) {
      const { socket, pending } = sockets[sent % sockets.length];
      pending.push([start + (sent * 1000) / rate, now]);
      socket.write(request(nextBody()));
      interval.sent++;
    }
    if (sent >= total) clearInterval(timer);
    else if (now - start >= (index + 1) * intervalMs) report(now);
  }, 1);
  await allDone;
  clearInterval(timer);
  report(performance.now());
  for (const { socket } of sockets) socket.destroy();
  return { sent: total, answered, errors, seconds: (performance.now() - start) / 1000 };
}
