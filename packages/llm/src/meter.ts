import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import { BodyMeter, type MeterResult } from "./body-meter.js";

export type { MeterResult } from "./body-meter.js";

/** Receives what a metered response came to, once. */
type Finish = (result: MeterResult) => void;

/**
 * Wraps a Web `Response` so its body is metered as the client reads it: settled with the real
 * usage at the end, or with what was produced if the client cancels mid-stream. Content type and
 * encoding come from the response's own headers; the bytes pass through untouched.
 *
 * @example
 * return meterWebResponse(await handler(request), promptTokens(body), finishOnce(limiter, decision));
 */
export function meterWebResponse(response: Response, prompt: number, finish: Finish): Response {
  const meter = new BodyMeter(
    prompt,
    response.headers.get("content-type") ?? undefined,
    response.headers.get("content-encoding") ?? undefined,
  );
  const { status } = response;
  const done = () => finish({ tokens: meter.tokens(), reported: meter.reported, status });
  if (!response.body) {
    meter.end();
    done();
    return response;
  }
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (error) {
        done();
        controller.error(error);
        return;
      }
      if (chunk.done) {
        meter.end();
        done();
        controller.close();
        return;
      }
      meter.write(chunk.value);
      controller.enqueue(chunk.value);
    },
    async cancel(reason) {
      // The client went away: charge what the model produced so far, then stop the upstream.
      done();
      await reader.cancel(reason);
    },
  });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/** A header's value from `writeHead`'s headers, in any of the shapes Node accepts. */
function headerFrom(headers: unknown, name: string): string | undefined {
  if (headers === null || typeof headers !== "object") return undefined;
  if (Array.isArray(headers)) {
    // [[name, value], ...] or the raw [name, value, name, value, ...]
    if (Array.isArray(headers[0])) {
      const pair = (headers as [string, unknown][]).find(([key]) => String(key).toLowerCase() === name);
      return pair === undefined ? undefined : String(pair[1]);
    }
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === name) return String(headers[i + 1]);
    }
    return undefined;
  }
  for (const [key, value] of Object.entries(headers as OutgoingHttpHeaders)) {
    if (key.toLowerCase() === name && value !== undefined)
      return Array.isArray(value) ? value.join(", ") : String(value);
  }
  return undefined;
}

/**
 * Meters a Node response (Express `res`, Fastify `reply.raw`) by watching `writeHead`, `write` and
 * `end`: content type and encoding are read from whatever the handler sent (`setHeader` or
 * `writeHead`). A `close` before `end` (client disconnect) settles with what was written so far.
 */
export function meterNodeResponse(res: ServerResponse, prompt: number, finish: Finish): void {
  let meter: BodyMeter | undefined;
  let headType: string | undefined;
  let headEncoding: string | undefined;
  const headerOf = (name: string) => {
    const value = res.getHeader(name);
    return value === undefined ? undefined : Array.isArray(value) ? value.join(", ") : String(value);
  };
  const meterOf = () => {
    meter ??= new BodyMeter(prompt, headType ?? headerOf("content-type"), headEncoding ?? headerOf("content-encoding"));
    return meter;
  };
  const done = () => {
    const m = meterOf();
    finish({ tokens: m.tokens(), reported: m.reported, status: res.statusCode });
  };
  const observe = (chunk: unknown) => {
    if (typeof chunk === "string" || chunk instanceof Uint8Array) meterOf().write(chunk);
  };
  const writeHead = res.writeHead;
  const write = res.write;
  const end = res.end;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    // writeHead(status, headers) or writeHead(status, message, headers)
    const headers = typeof args[1] === "string" ? args[2] : args[1];
    headType = headerFrom(headers, "content-type") ?? headType;
    headEncoding = headerFrom(headers, "content-encoding") ?? headEncoding;
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse["writeHead"];
  res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    observe(chunk);
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as ServerResponse["write"];
  res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    if (typeof chunk !== "function") observe(chunk);
    // Headers not sent yet (a plain `res.end(body)`) are final now.
    meterOf().end();
    done();
    return (end as (...args: unknown[]) => ServerResponse).call(this, chunk, ...rest);
  } as ServerResponse["end"];
  res.once("close", done);
}
