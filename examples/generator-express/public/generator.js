// Case 4's front end: a usage counter from GET /api/usage (which never spends anything) and the
// quota message when the day's allowance is used up, both from @tollgate/browser.
import { createFormatter, describeDenial, readUsage } from "@tollgate/browser";

const words = createFormatter({ locale: navigator.language || "en-GB" });
const $ = (id) => document.getElementById(id);

function show(kind, text) {
  const panel = document.createElement("p");
  panel.className = `panel ${kind}`;
  panel.dataset.testid = `${kind}-panel`;
  panel.textContent = text;
  $("answer").replaceChildren(panel);
}

/** "2 of 3 left today · resets in 5 hours 12 minutes" */
export async function refreshUsage() {
  const usage = await readUsage(await fetch("/api/usage"));
  if (!usage) {
    $("usage").textContent = "No daily limit applies.";
    return;
  }
  const left = Math.max(0, usage.limit - usage.used);
  $("usage").textContent = `${left} of ${usage.limit} left today · resets in ${words.duration(usage.reset)}`;
}

async function generate(event) {
  event.preventDefault();
  const key = $("key").value.trim();
  const res = await fetch("/api/generate", {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { "x-openai-key": key } : {}) },
    body: JSON.stringify({ url: $("url").value }),
  });
  if (res.ok) {
    const body = await res.json();
    show("result", body.cache_hit ? `${body.result} (cached ${body.cache_age_seconds} s ago)` : body.result);
  } else {
    const denial = await describeDenial(res, { formatter: words });
    show(denial.retryable ? "limited" : "error", denial.message);
  }
  await refreshUsage();
}

$("form").addEventListener("submit", generate);
refreshUsage();
