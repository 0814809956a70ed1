import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { chromiumBinary, launchChromium, missing } from "@tollgate/testkit";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "./src/app.js";

const SCREENSHOTS = join(import.meta.dirname, "..", "..", "docs", "screenshots");

describe.skipIf(missing(chromiumBinary, "chromium (/usr/bin/chromium)"))("use case 4's page in a real browser", () => {
  let server: Server;
  let url: string;
  let browser: Browser;

  beforeAll(async () => {
    const app = createApp();
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

  it("happy: the usage counter follows the daily quota; the quota message names the reset day; BYOK still works", async () => {
    const page = await browser.newPage({ viewport: { width: 900, height: 560 }, locale: "en-GB", timezoneId: "UTC" });
    await page.goto(url);
    const usage = page.locator("#usage");
    await usage.filter({ hasText: /^1 of 1 left today · resets in / }).waitFor();

    await page.locator("#url").fill("https://example.com/a");
    await page.getByRole("button", { name: "Summarise" }).click();
    await page.getByTestId("result-panel").waitFor();
    await usage.filter({ hasText: /^0 of 1 left today/ }).waitFor();

    await page.locator("#url").fill("https://example.com/b");
    await page.getByRole("button", { name: "Summarise" }).click();
    const limited = page.getByTestId("limited-panel");
    await limited.waitFor();
    // The daily quota resets at midnight UTC.
    const tomorrow = new Date(Date.now() + 86_400_000);
    const day = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "long", timeZone: "UTC" }).format(tomorrow);
    expect(await limited.textContent()).toBe(`Your daily allowance resets on ${day}`);
    await page.screenshot({ path: join(SCREENSHOTS, "example-generator-usage.png") });

    // Bring your own key: the quota is skipped, the counter does not move.
    await page.locator("#key").fill("sk-test-own-key");
    await page.getByRole("button", { name: "Summarise" }).click();
    await page.getByTestId("result-panel").filter({ hasText: "your key" }).waitFor();
    expect(await usage.textContent()).toMatch(/^0 of 1 left today/);
    await page.close();
  });
});
