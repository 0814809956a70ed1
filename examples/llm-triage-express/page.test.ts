import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { chromiumBinary, launchChromium, missing } from "@tollgate/testkit";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "./src/app.js";

const SCREENSHOTS = join(import.meta.dirname, "..", "..", "docs", "screenshots");

describe.skipIf(missing(chromiumBinary, "chromium (/usr/bin/chromium)"))("use case 1's page in a real browser", () => {
  let server: Server;
  let url: string;
  let browser: Browser;

  beforeAll(async () => {
    // Two asks per 3 s window: the countdown is seconds long, as a real one would be minutes.
    const app = createApp({ env: { LLM_RATE_LIMIT_REQUESTS: "2", LLM_RATE_LIMIT_WINDOW: "3" } });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  async function open(user: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 900, height: 600 } });
    await page.goto(url);
    await page.locator("#user").selectOption(user);
    await page.locator("#ask").or(page.locator("#no-ask")).and(page.locator(":visible")).waitFor();
    return page;
  }

  it("happy: an operator asks, is limited with a live amber countdown, and the retry after it succeeds", async () => {
    const page = await open("session-alice");
    const ask = page.getByRole("button", { name: "Ask AI" });
    for (let i = 0; i < 2; i++) {
      await ask.click();
      await page.getByTestId("result-panel").waitFor();
    }
    await ask.click();
    const amber = page.getByTestId("limited-panel");
    await amber.waitFor();
    const first = (await amber.locator("p").textContent()) as string;
    expect(first).toMatch(/^Try again in [1-3] seconds?$/);
    await page.screenshot({ path: join(SCREENSHOTS, "example-triage-429.png") });
    const retry = amber.getByRole("button", { name: "Retry" });
    expect(await retry.isDisabled()).toBe(true);
    await retry.and(page.locator(":enabled")).waitFor({ timeout: 10_000 });
    expect(await amber.locator("p").textContent()).toBe("You can ask again now.");
    await retry.click();
    await page.getByTestId("result-panel").waitFor();
    expect(await page.getByTestId("result-panel").textContent()).toContain("INC-1042");
    await page.close();
  });

  it("happy: readonly users and agent keys get no button; a 403 that still happens is the friendly panel", async () => {
    for (const user of ["session-bob", "key-agent-7"]) {
      const page = await open(user);
      expect(await page.getByRole("button", { name: "Ask AI" }).isVisible()).toBe(false);
      expect(await page.locator("#no-ask").isVisible()).toBe(true);
      // A stale page (or a hand-made call) still reaches the server, which answers 403.
      await page.evaluate(() => (window as unknown as { triage: { ask(): Promise<void> } }).triage.ask());
      const forbidden = page.getByTestId("forbidden-panel");
      await forbidden.waitFor();
      expect(await forbidden.textContent()).toContain("Your role doesn't permit this");
      if (user === "session-bob") await page.screenshot({ path: join(SCREENSHOTS, "example-triage-403.png") });
      await page.close();
    }
  });
});
