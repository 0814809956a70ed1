import { execFile } from "node:child_process";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createServer, loadConfig, type TollgateServer } from "@tollgate/server";
import { type FakeOpenAi, startFakeOpenAi } from "@tollgate/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const here = dirname(fileURLToPath(import.meta.url));
const ADMIN = "example-admin-token-0123456789abcdef";
const run = promisify(execFile);

describe("examples/llm-gateway", () => {
  let upstream: FakeOpenAi;
  let server: TollgateServer;
  let url: string;
  beforeAll(async () => {
    upstream = await startFakeOpenAi();
    const { config } = loadConfig({
      file: join(here, "tollgate.yaml"),
      env: {
        TOLLGATE_ADMIN_TOKEN: ADMIN,
        TOLLGATE_DATA_DIR: "memory://",
        TOLLGATE_LOG_LEVEL: "warn",
        // The example's upstream, swapped for a local fake: no network, no OpenAI key.
        TOLLGATE__gateway__upstreams__openai__baseUrl: upstream.url,
      },
    });
    server = await createServer({ config });
    await server.app.listen({ port: 0, host: "127.0.0.1" });
    url = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await server?.close();
    await upstream?.close();
  });

  it("client.mjs streams an answer through the gateway with a free-plan key, and the spend is counted", async () => {
    const created = await server.app.inject({
      method: "POST",
      url: "/v1/admin/keys",
      headers: { authorization: `Bearer ${ADMIN}` },
      payload: { owner: "org:acme", plan: "free", name: "example" },
    });
    const key = created.json() as { id: string; secret: string };
    const { stdout } = await run(process.execPath, [join(here, "client.mjs")], {
      env: { PATH: process.env.PATH ?? "", TOLLGATE_URL: url, TOLLGATE_API_KEY: key.secret },
    });
    expect(stdout.trim()).toBe("tok ".repeat(200).trim());
    const peek = await server.ctx.limiter.peek({ subject: { key: key.id }, plan: "free", category: "llm_call" });
    const spend = peek.limits.find((l) => l.name === "spend-month");
    expect(spend?.used).toBeGreaterThan(0);
    expect(spend?.unit).toBe("usd");
  });

  it("the free plan may not call gpt-4o", async () => {
    const created = await server.app.inject({
      method: "POST",
      url: "/v1/admin/keys",
      headers: { authorization: `Bearer ${ADMIN}` },
      payload: { owner: "org:acme", plan: "free", name: "example-2" },
    });
    const { secret } = created.json() as { secret: string };
    const response = await fetch(`${url}/gateway/openai/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("model_not_allowed");
  });
});
