// The official OpenAI SDK pointed at the Tollgate gateway. Run with a Tollgate API key:
//   TOLLGATE_API_KEY=tg_live_... node client.mjs
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: `${process.env.TOLLGATE_URL ?? "http://127.0.0.1:8080"}/gateway/openai/v1`,
  apiKey: process.env.TOLLGATE_API_KEY,
  maxRetries: 2, // waits Retry-After on a rate limit; an exhausted quota is not retried
});

try {
  const stream = await client.chat.completions.create({
    model: "gpt-4o-mini",
    max_tokens: 200,
    stream: true,
    messages: [{ role: "user", content: "In one sentence: why reserve an LLM call's budget before making it?" }],
  });
  for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta?.content ?? "");
  process.stdout.write("\n");
} catch (error) {
  if (error instanceof OpenAI.RateLimitError) {
    // error.error: { message, type: "rate_limit_exceeded" | "insufficient_quota", code }
    console.error(`budget: ${error.error?.message} (retry after ${error.headers?.get("retry-after") ?? "-"} s)`);
    process.exit(2);
  }
  throw error;
}
