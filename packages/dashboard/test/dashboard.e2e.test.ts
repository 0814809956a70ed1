import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, launchChromium, noChromium, SCREENSHOTS, type Served, serve } from "./harness.js";

const axeSource = (createRequire(import.meta.url)("axe-core") as { source: string }).source;
const skip = noChromium();

describe.skipIf(skip)("dashboard in a real browser (chromium + tollgate serve)", () => {
  let served: Served;
  let browser: Browser;
  const tokens: Record<"admin" | "operator" | "readonly", string> = { admin: "", operator: "", readonly: "" };
  // Anything the browser reports as refused by the Content-Security-Policy, or a script error.
  const pageProblems: string[] = [];
  const watch = (page: Page) => {
    page.on("console", (message) => {
      if (/Content.Security.Policy|Refused to/i.test(message.text())) pageProblems.push(message.text());
    });
    page.on("pageerror", (error) => pageProblems.push(error.message));
    return page;
  };

  beforeAll(async () => {
    // Three failed sign-ins per 8 s window, so the 429 test waits seconds, not a minute.
    served = await serve({ TOLLGATE__auth__failedAttempts__limit: "3", TOLLGATE__auth__failedAttempts__window: "8s" });
    tokens.admin = served.adminToken;
    for (const role of ["operator", "readonly"] as const) {
      const created = await call(served, "POST", "/v1/admin/tokens", served.adminToken, { name: `${role}-e2e`, role });
      expect(created.status).toBe(201);
      tokens[role] = created.body.token;
    }
    browser = await launchChromium();
    mkdirSync(SCREENSHOTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await served?.stop();
  });

  async function signedIn(role: keyof typeof tokens, options: { bypassCSP?: boolean } = {}) {
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, ...options });
    const page = watch(await context.newPage());
    await page.goto(`${served.url}/`);
    await page.getByLabel("Admin token").fill(tokens[role]);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("who").waitFor();
    return { context, page };
  }

  async function noSeriousViolations(page: Page, what: string) {
    await page.addScriptTag({ content: axeSource });
    const violations = (await page.evaluate(async () => {
      // biome-ignore lint/suspicious/noExplicitAny: axe is injected into the page at run time
      const result = await (window as any).axe.run(document, { resultTypes: ["violations"] });
      return result.violations.map((v: { id: string; impact: string; nodes: { target: string[] }[] }) => ({
        id: v.id,
        impact: v.impact,
        targets: v.nodes.map((n) => n.target.join(" ")).slice(0, 3),
      }));
    })) as { id: string; impact: string; targets: string[] }[];
    const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    expect(serious, `${what}: ${JSON.stringify(serious, null, 2)}`).toEqual([]);
  }

  it("happy: each role signs in to an HttpOnly SameSite=Strict session and is offered only what it may do", async () => {
    for (const role of ["admin", "operator", "readonly"] as const) {
      const { context, page } = await signedIn(role);
      const [cookie] = await context.cookies();
      expect(cookie).toMatchObject({ name: "tollgate_session", httpOnly: true, sameSite: "Strict" });
      expect(cookie?.value).not.toContain(tokens[role]);
      await expect(page.getByTestId("who").textContent()).resolves.toContain(role);

      await page.goto(`${served.url}/#/subjects`);
      await page.getByTestId("keys-table").or(page.getByText("No keys match.")).first().waitFor();
      // Every load of the page has answered (the create form waits for the plan list).
      await page.waitForLoadState("networkidle");
      const createForm = page.getByRole("heading", { name: "Create an API key" });
      expect(await createForm.count()).toBe(role === "readonly" ? 0 : 1);

      await page.goto(`${served.url}/#/plans`);
      await page.getByTestId("plan-free").waitFor();
      await page.waitForLoadState("networkidle");
      expect(await page.getByRole("button", { name: "Edit plan free" }).count()).toBe(role === "admin" ? 1 : 0);

      await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByLabel("Admin token").waitFor();
      expect(await context.cookies()).toEqual([]);
      await context.close();
    }
  });

  it("happy: an operator creates a key (secret once), uses it through /v1/check and watches its bar move", async () => {
    const { context, page } = await signedIn("operator");
    await page.goto(`${served.url}/#/subjects`);
    await page.getByLabel("Owner").fill("org:acme");
    await page.getByLabel("Plan").selectOption("free");
    await page.getByLabel("Name (optional)").fill("ci");
    await page.getByRole("button", { name: "Create key" }).click();
    const secret = await page.getByTestId("secret-value").inputValue();
    expect(secret).toMatch(/^tg_live_/);
    await expect(page.getByTestId("secret-once").textContent()).resolves.toContain("only time it is shown");
    // The month bar: the minute window could roll over during the test on a slow machine.
    await page.getByTestId("bar-month-used").waitFor();
    expect(await page.getByTestId("bar-month-used").textContent()).toBe("0 of 1,000 used");

    for (let i = 0; i < 3; i++) {
      const decision = await call(served, "POST", "/v1/check", served.serviceToken, { subject: { apiKey: secret } });
      expect(decision.body.allowed).toBe(true);
    }
    // The detail polls every 3 s: the bar follows the counter without a reload.
    await page.getByTestId("bar-month-used").filter({ hasText: "3 of 1,000 used" }).waitFor({ timeout: 15_000 });
    expect(await page.getByTestId("bar-minute-used").textContent()).toMatch(/^[0-3] of 10 used$/);
    await page.screenshot({ path: join(SCREENSHOTS, "subjects.png"), fullPage: true });
    await page.getByRole("button", { name: "I have saved it" }).click();
    expect(await page.getByTestId("secret-value").count()).toBe(0);
    // Gone for good: the key list and the key itself never carry the secret again.
    expect(JSON.stringify((await call(served, "GET", "/v1/admin/keys", tokens.operator)).body)).not.toContain(secret);

    // Overview: the decisions just made are on the live chart's figures and the top consumers.
    await page.goto(`${served.url}/#/overview`);
    await page
      .getByTestId("rate-now")
      .filter({ hasText: /[1-9]\d* allowed/ })
      .waitFor({ timeout: 15_000 });
    // Top consumers: the key just used (the usage ledger writes it within a second).
    await page
      .getByRole("link", { name: /^key:key_/ })
      .first()
      .waitFor({ timeout: 15_000 });
    await page.waitForTimeout(500); // let uPlot paint before the picture
    await page.screenshot({ path: join(SCREENSHOTS, "overview.png"), fullPage: true });
    await context.close();
  });

  it("happy: an operator sets a key's overrides, resets its counter, rotates and revokes it", async () => {
    const created = await call(served, "POST", "/v1/admin/keys", tokens.admin, { owner: "org:ops", plan: "free" });
    const { id, secret } = created.body as { id: string; secret: string };
    for (let i = 0; i < 2; i++) {
      await call(served, "POST", "/v1/check", served.serviceToken, { subject: { apiKey: secret } });
    }
    const { context, page } = await signedIn("operator");
    page.on("dialog", (dialog) => dialog.accept());
    await page.goto(`${served.url}/#/subjects?s=key:${id}`);
    await page.getByTestId("bar-month-used").filter({ hasText: "2 of 1,000 used" }).waitFor();

    // Override: this key gets 3 a minute instead of its plan's 10.
    await page.getByRole("button", { name: "Edit overrides" }).click();
    await page.getByRole("button", { name: "Add limit" }).click();
    await page.locator("#override-0-name").fill("minute");
    await page.locator("#override-0-per").selectOption("key");
    await page.locator("#override-0-limit").fill("3");
    await page.locator("#override-0-window").fill("1m");
    await page.getByRole("button", { name: "Save" }).click();
    await page
      .getByTestId("bar-minute-used")
      .filter({ hasText: / of 3 used$/ })
      .waitFor({ timeout: 15_000 });

    await page.getByRole("button", { name: "Reset month" }).click();
    await page.getByTestId("bar-month-used").filter({ hasText: "0 of 1,000 used" }).waitFor({ timeout: 15_000 });

    await page.getByRole("button", { name: `Rotate ${id}` }).click();
    const rotated = await page.getByTestId("secret-value").inputValue();
    expect(rotated).not.toBe(secret);
    const old = await call(served, "POST", "/v1/check", served.serviceToken, { subject: { apiKey: secret } });
    expect(old.body.reason).toBe("invalid_key");

    await page.getByRole("button", { name: `Revoke ${id}` }).click();
    await page.getByTestId(`key-row-${id}`).getByText("revoked").waitFor();
    const revoked = await call(served, "POST", "/v1/check", served.serviceToken, { subject: { apiKey: rotated } });
    expect(revoked.body.reason).toBe("invalid_key");
    await context.close();
  });

  it("happy: readonly sees keys and usage but no button that changes anything", async () => {
    const created = await call(served, "POST", "/v1/admin/keys", tokens.admin, { owner: "user:u-7", plan: "basic" });
    const { context, page } = await signedIn("readonly");
    await page.goto(`${served.url}/#/subjects?s=key:${created.body.id}`);
    await page.getByTestId("bar-minute-used").waitFor();
    for (const name of [/^Rotate/, /^Revoke/, /^Reset/, "Create key", "Edit overrides", "Reset all counters"]) {
      expect(await page.getByRole("button", { name }).count(), String(name)).toBe(0);
    }
    await page.goto(`${served.url}/#/plans`);
    await page.getByTestId("plan-free").waitFor();
    expect(await page.getByRole("button", { name: /^Edit/ }).count()).toBe(0);
    // The server agrees: a change with the session cookie is refused with 403 naming the role.
    const status = await page.evaluate(async () => {
      const res = await fetch("/v1/admin/keys", {
        method: "POST",
        headers: { "content-type": "application/json", "x-tollgate-csrf": "1" },
        body: JSON.stringify({ owner: "org:x", plan: "free" }),
      });
      return { status: res.status, body: await res.json() };
    });
    expect(status.status).toBe(403);
    expect(status.body.detail).toContain("operator");
    await context.close();
  });

  it("happy: an admin edits a plan; a bad value is shown beside its field", async () => {
    const { context, page } = await signedIn("admin");
    await page.goto(`${served.url}/#/plans`);
    await page.getByRole("button", { name: "Edit plan basic" }).click();
    await page.locator("#plan-basic-0-window").fill("soon");
    await page.getByRole("button", { name: "Save" }).click();
    const error = page.locator("#plan-basic-0-window-error");
    await error.waitFor();
    expect(await page.locator("#plan-basic-0-window").getAttribute("aria-invalid")).toBe("true");
    await page.screenshot({ path: join(SCREENSHOTS, "plans.png"), fullPage: true });
    await page.locator("#plan-basic-0-window").fill("1m");
    await page.locator("#plan-basic-0-limit").fill("60");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByTestId("plan-basic").getByText("60 requests per 1m").waitFor();
    const plans = await call(served, "GET", "/v1/admin/plans", tokens.admin);
    expect(plans.body.plans.find((p: { name: string }) => p.name === "basic").limits[0].limit).toBe(60);
    await context.close();
  });

  it("happy: a 429 shows the amber countdown, which reaches zero, and the retry succeeds", async () => {
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    const page = watch(await context.newPage());
    await page.goto(`${served.url}/`);
    const input = page.getByLabel("Admin token");
    // Spend this address's failed sign-ins at once (a slow machine must not let the window roll
    // over between attempts), then sign in through the form: the server answers 429.
    await page.evaluate(() =>
      Promise.all(
        Array.from({ length: 4 }, (_, i) =>
          fetch("/v1/session", {
            method: "POST",
            headers: { "content-type": "application/json", "x-tollgate-csrf": "1" },
            body: JSON.stringify({ token: `wrong-token-${i}` }),
          }),
        ),
      ),
    );
    await input.fill("wrong-token-form");
    const answer = page.waitForResponse(
      (res) => res.url().endsWith("/v1/session") && res.request().method() === "POST",
    );
    await page.getByRole("button", { name: "Sign in" }).click();
    expect((await answer).status()).toBe(429);
    await page.getByTestId("limited-panel").waitFor();
    const message = await page.getByTestId("limited-message").textContent();
    expect(message).toMatch(/^Try again in [1-8] seconds?$/);
    await page.screenshot({ path: join(SCREENSHOTS, "rate-limited.png") });
    // Record every text the panel shows, in the page, so no tick is missed by polling from here.
    await page.evaluate(() => {
      const target = document.querySelector('[data-testid="limited-message"]') as HTMLElement;
      const seen = [target.textContent];
      (window as unknown as { seen: unknown }).seen = seen;
      new MutationObserver(() => seen.push(target.textContent)).observe(target, {
        childList: true,
        characterData: true,
        subtree: true,
      });
    });
    await input.fill(tokens.operator);
    await page
      .getByRole("button", { name: "Retry", exact: true })
      .and(page.locator(":enabled"))
      .waitFor({ timeout: 15_000 });
    expect(await page.getByTestId("limited-message").textContent()).toBe("You can try again now.");
    const seen = (await page.evaluate(() => (window as unknown as { seen: string[] }).seen)).filter(
      (text, i, all) => text !== all[i - 1],
    );
    // A countdown, not a jump: the seconds shown only go down (a timer delayed by a loaded machine
    // may skip one, never repeat or climb), then the end.
    expect(seen.at(-1)).toBe("You can try again now.");
    const numbers = seen.slice(0, -1).map((text) => Number(/^Try again in (\d+) seconds?$/.exec(text)?.[1]));
    expect(numbers[0]).toBe(Number(/(\d+)/.exec(message as string)?.[1]));
    expect(numbers.every((n, i) => Number.isInteger(n) && (i === 0 || n < (numbers[i - 1] as number)))).toBe(true);
    if ((numbers[0] as number) > 2) expect(numbers.length).toBeGreaterThan(1);
    await page.getByRole("button", { name: "Retry", exact: true }).click();
    await page.getByTestId("who").waitFor();
    expect(await page.getByTestId("who").textContent()).toContain("operator");
    await context.close();
  });

  it("happy: usage history and alert deliveries render in their documented shapes (routed)", async () => {
    // The usage ledger's history is served by a later server version (this one answers 501), and a
    // real delivery needs a failing webhook receiver: their documented answers are routed in here so
    // the pages that read them are exercised in the browser all the same.
    const { context, page } = await signedIn("readonly");
    const hour = Date.UTC(2026, 10, 29, 10);
    await page.route("**/v1/admin/usage/history?*", (route) =>
      route.fulfill({
        json: {
          subject: "key:key_hist",
          points: [0, 1, 2].flatMap((i) => [
            {
              start: new Date(hour + i * 3_600_000).toISOString(),
              limit: "minute",
              category: null,
              used: 10 * (i + 1),
            },
            { start: new Date(hour + i * 3_600_000).toISOString(), limit: "month", category: null, used: 5 },
          ]),
        },
      }),
    );
    await page.route("**/v1/admin/alerts", (route) =>
      route.fulfill({
        json: {
          sinks: [{ name: "ops", type: "webhook", target: "https://hooks.example", severity: "warning" }],
          routes: [],
          deliveries: [
            {
              id: "dlv_1",
              eventId: "evt_1",
              type: "threshold_crossed",
              subject: "org:acme",
              sink: "ops",
              sinkType: "webhook",
              target: "https://hooks.example",
              status: "dead",
              attempts: 5,
              lastError: "HTTP 500 from the receiver",
              createdAt: new Date(hour).toISOString(),
              updatedAt: new Date(hour).toISOString(),
              event: { subject: "org:acme", category: "llm_call", count: 16, threshold: 15 },
            },
          ],
        },
      }),
    );
    await page.goto(`${served.url}/#/subjects?s=user:hist`);
    const chart = page.getByRole("img", { name: /^Usage history of user:hist/ });
    await chart.waitFor();
    expect(await chart.getAttribute("aria-label")).toBe("Usage history of user:hist: minute 60, month 15 in total.");
    expect(await chart.locator("canvas").count()).toBe(1);
    await page.goto(`${served.url}/#/alerts`);
    const row = page.getByRole("row", { name: /threshold_crossed/ });
    await row.waitFor();
    expect(await row.textContent()).toContain("dead");
    expect(await row.textContent()).toContain("HTTP 500 from the receiver");
    await row.getByText("Show").click();
    expect(await row.locator("pre").textContent()).toContain('"threshold": 15');
    await context.close();
  });

  it("security: the pages ran under their strict Content-Security-Policy without a refusal or script error", () => {
    expect(pageProblems).toEqual([]);
  });

  it("accessibility: axe finds no serious or critical violation on any page", async () => {
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, bypassCSP: true });
    const page = await context.newPage();
    await page.goto(`${served.url}/`);
    await page.getByLabel("Admin token").waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, "sign-in.png") });
    await noSeriousViolations(page, "sign in");
    await page.getByLabel("Admin token").fill(tokens.admin);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("who").waitFor();
    const key = (await call(served, "GET", "/v1/admin/keys", tokens.admin)).body.keys[0].id;
    const pages: [string, string, () => Promise<unknown>][] = [
      ["overview", "#/overview", () => page.getByTestId("rate-now").waitFor()],
      ["subjects", `#/subjects?s=key:${key}`, () => page.getByTestId("bar-minute").waitFor()],
      ["plans", "#/plans", () => page.getByTestId("plan-free").waitFor()],
      ["alerts", "#/alerts", () => page.getByRole("heading", { name: "Alerts" }).waitFor()],
    ];
    for (const [name, hash, ready] of pages) {
      await page.goto(`${served.url}/${hash}`);
      await ready();
      await page.waitForTimeout(300);
      if (name === "alerts") await page.screenshot({ path: join(SCREENSHOTS, "alerts.png"), fullPage: true });
      await noSeriousViolations(page, name);
    }
    // Keyboard: the skip link is the first stop and every nav link is reachable by Tab.
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Overview");
    await context.close();
  });
});
