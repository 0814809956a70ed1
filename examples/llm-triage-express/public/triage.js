// Case 1's page: the "Ask AI" button is hidden from roles that may not use it; a 429 becomes an
// amber, recoverable "Try again in X minutes Y seconds" counted down live from Retry-After, and a
// 403 a friendly "your role doesn't permit this" panel. All of it from @tollgate/browser.
import { countdown, createFormatter, describeDenial } from "@tollgate/browser";

const words = createFormatter({ locale: navigator.language || "en-GB" });
const $ = (id) => document.getElementById(id);
let running;

const token = () => $("user").value;
const headers = () => ({ authorization: `Bearer ${token()}`, "content-type": "application/json" });

function panel(kind, title, text) {
  const section = document.createElement("section");
  section.className = `panel ${kind}`;
  section.dataset.testid = `${kind}-panel`;
  const h2 = document.createElement("h2");
  h2.textContent = title;
  const p = document.createElement("p");
  p.textContent = text;
  section.append(h2, p);
  $("answer").replaceChildren(section);
  return { section, p };
}

/** Shows the role's view: the button only for roles that may ask. */
export async function refreshUser() {
  running?.cancel();
  $("answer").replaceChildren();
  const res = await fetch("/api/me", { headers: headers() });
  const me = res.ok ? await res.json() : { canAskAi: false };
  $("ask").hidden = !me.canAskAi;
  $("no-ask").hidden = me.canAskAi;
}

function showLimited(denial) {
  const { section, p } = panel("limited", "Slow down a moment", denial.message);
  const retry = document.createElement("button");
  retry.type = "button";
  retry.disabled = true;
  retry.textContent = "Retry";
  retry.addEventListener("click", () => ask());
  section.append(retry);
  $("ask").disabled = true;
  running?.cancel();
  running = countdown(denial.retryAfter ?? 1, (left) => {
    p.textContent = left > 0 ? words.retryIn(left) : "You can ask again now.";
  });
  running.done.then(() => {
    retry.disabled = false;
    $("ask").disabled = false;
  });
}

/** Asks the AI; any answer that is not a success is described for a person. */
export async function ask() {
  const res = await fetch("/api/ai/triage", {
    method: "POST",
    headers: headers(),
    body: JSON.stringify({ incident: $("incident").value }),
  });
  if (res.ok) {
    const { summary } = await res.json();
    panel("result", "AI triage", summary);
    return;
  }
  const denial = await describeDenial(res, { formatter: words });
  if (denial.kind === "rate_limited" || denial.kind === "quota_exceeded") showLimited(denial);
  else if (denial.kind === "forbidden") {
    panel("forbidden", "Your role doesn't permit this", "Asking the AI needs the operator or admin role.");
  } else panel("error", "The request failed", denial.message);
}

$("user").addEventListener("change", refreshUser);
$("ask").addEventListener("click", ask);
// For tests and the curious: the page's two actions.
window.triage = { ask, refreshUser };
refreshUser();
