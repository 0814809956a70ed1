import { createProxy } from "./app.js";
import { startFakeUpstream } from "./fake-upstream.js";

// OPENAI_BASE_URL + OPENAI_API_KEY point the proxy at a real upstream; without them it starts the
// local fake, so the demo runs offline.
const port = Number(process.env.PORT ?? 3005);
const upstream = process.env.OPENAI_BASE_URL ?? (await startFakeUpstream()).url;
const { app } = createProxy({ upstream, upstreamKey: process.env.OPENAI_API_KEY ?? "sk-fake-upstream" });
app.listen(port, "127.0.0.1", () => {
  console.log(`OpenAI-compatible proxy on http://127.0.0.1:${port}/v1 (upstream ${upstream})`);
  console.log(`client: new OpenAI({ baseURL: "http://127.0.0.1:${port}/v1", apiKey: "any-caller-key" })`);
});
