import type { ServerResponse } from "node:http";
import { TokenMeter } from "./tokens.js";

type Settle = (tokens: number) => void;

/**
 * Wraps a Web `Response` so its body is metered as the client reads it: settled with the real
 * usage at the end, or with what was produced if the client cancels mid-stream.
 *
 * @example
 * return meterWebResponse(await handler(request), promptTokens(body), settleOnce(limiter, decision));
 */
export function meterWebResponse(response: Response, prompt: number, settle: Settle): Response {
  const meter = new TokenMeter(prompt, response.headers.get("content-type") ?? undefined);
  if (!response.body) {
    settle(meter.tokens());
    return response;
  }
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (error) {
        settle(meter.tokens());
        controller.error(error);
        return;
      }
      if (chunk.done) {
        meter.end();
        settle(meter.tokens());
        controller.close();
        return;
      }
      meter.write(chunk.value);
      controller.enqueue(chunk.value);
    },
    async cancel(reason) {
      // The client went away: charge what the model produced so far, then stop the upstream.
      settle(meter.tokens());
      await reader.cancel(reason);
    },
  });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/**
 * Meters a Node response (Express `res`, Fastify `reply.raw`) by watching `write`/`end`; a
 * `close` before `end` (client disconnect) settles with what was written so far.
 */
export function meterNodeResponse(res: ServerResponse, prompt: number, settle: Settle): void {
  let meter: TokenMeter | undefined;
  const meterOf = () => {
    meter ??= new TokenMeter(prompt, String(res.getHeader("content-type") ?? ""));
    return meter;
  };
  const observe = (chunk: unknown) => {
    if (typeof chunk === "string" || chunk instanceof Uint8Array) meterOf().write(chunk);
  };
  const write = res.write;
  const end = res.end;
  res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    observe(chunk);
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as ServerResponse["write"];
  res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    observe(chunk);
    meterOf().end();
    settle(meterOf().tokens());
    return (end as (...args: unknown[]) => ServerResponse).call(this, chunk, ...rest);
  } as ServerResponse["end"];
  res.once("close", () => settle(meterOf().tokens()));
}
