import { useState } from "preact/hooks";
import { ApiError, api } from "../api.js";
import { can } from "../roles.js";
import type { ApiKey, CreatedKey, HistoryPoint, Role } from "../types.js";
import { UsageBar } from "../ui/bar.js";
import { Chart } from "../ui/chart.js";
import { useLoad, useNow } from "../ui/hooks.js";
import { LimitEditor } from "../ui/limit-editor.js";
import { ErrorPanel, Failure, Unavailable } from "../ui/panels.js";
import { CreateKey, KeyTable, SecretOnce } from "./keys.js";

const KINDS = ["key", "user", "org", "project", "ip"] as const;
const PALETTE = ["#1d4ed8", "#b45309", "#15803d", "#7c3aed", "#be123c", "#0f766e"];

/** `kind:value` when the text already names a subject. */
function asSubject(text: string): string | undefined {
  const match = /^(key|user|org|project|ip):(.+)$/.exec(text.trim());
  return match ? `${match[1]}:${match[2]}` : undefined;
}

function History(props: { subject: string }) {
  const history = useLoad(() => api.history(props.subject), [props.subject], 60000);
  if (history.error) {
    return history.error.unavailable ? (
      <Unavailable what="Usage history" />
    ) : (
      <Failure error={history.error} what="Usage history" />
    );
  }
  const points: HistoryPoint[] = history.data ?? [];
  if (points.length === 0) return <p class="muted">{history.loading ? "Loading…" : "No recorded usage yet."}</p>;
  const times = [...new Set(points.map((p) => Date.parse(p.start) / 1000))].sort((a, b) => a - b);
  const limits = [...new Set(points.map((p) => p.limit))];
  const series = limits.map((limit, i) => ({
    label: limit,
    color: PALETTE[i % PALETTE.length] as string,
    values: times.map((t) =>
      points.filter((p) => p.limit === limit && Date.parse(p.start) / 1000 === t).reduce((sum, p) => sum + p.used, 0),
    ),
  }));
  return (
    <Chart
      times={times}
      series={series}
      bars
      height={180}
      summary={`Usage history of ${props.subject}: ${series.map((s) => `${s.label} ${s.values.reduce((a, b) => a + b, 0)}`).join(", ")} in total.`}
    />
  );
}

/** One subject: a bar per limit with its reset countdown, history, and what the role may change. */
function SubjectDetail(props: { subject: string; apiKey: ApiKey | undefined; role: Role; onChanged: () => void }) {
  // A key's own limits (plan and overrides) are the server's default for `key:ID`.
  const usage = useLoad(() => api.subjectUsage(props.subject), [props.subject], 3000);
  const now = useNow();
  const [editing, setEditing] = useState(false);
  const [notice, setNotice] = useState<string>();
  const [failure, setFailure] = useState<ApiError>();
  const operator = can(props.role, "operator");

  async function reset(limit?: string) {
    if (!confirm(`Reset ${limit ? `the ${limit} counter` : "every counter"} of ${props.subject}?`)) return;
    try {
      await api.resetCounters(props.subject, limit);
      setNotice(`Counters of ${props.subject} reset.`);
      usage.reload();
    } catch (error) {
      if (error instanceof ApiError) setFailure(error);
    }
  }

  return (
    <section class="card" aria-labelledby="subject-title" data-testid="subject-detail">
      <h2 id="subject-title">{props.subject}</h2>
      {props.apiKey && (
        <p class="muted">
          {props.apiKey.name ?? "unnamed key"} · owner {props.apiKey.owner} · plan {props.apiKey.plan}
        </p>
      )}
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {failure && <Failure error={failure} what="This action" role={props.role} />}
      {usage.error ? (
        <Failure error={usage.error} what="Current usage" role={props.role} />
      ) : usage.data && usage.data.limits.length === 0 ? (
        <p class="muted">No limit applies to this subject (check its plan).</p>
      ) : (
        <div class="bars">
          {(usage.data?.limits ?? []).map((limit) => (
            <div key={limit.name} class="bar-row">
              <UsageBar usage={limit} loadedAt={usage.at} now={now} />
              {operator && (
                <button
                  type="button"
                  class="secondary small"
                  onClick={() => reset(limit.name)}
                  aria-label={`Reset ${limit.name}`}
                >
                  Reset
                </button>
              )}
            </div>
          ))}
        </div>
      )}
      <h3>Usage history</h3>
      <History subject={props.subject} />
      {operator && (
        <div class="buttons">
          <button type="button" class="secondary" onClick={() => reset()}>
            Reset all counters
          </button>
          {props.apiKey && props.apiKey.status === "active" && !editing && (
            <button type="button" class="secondary" onClick={() => setEditing(true)}>
              Edit overrides
            </button>
          )}
        </div>
      )}
      {operator && editing && props.apiKey && (
        <LimitEditor
          title={`Overrides of ${props.apiKey.id} (same name replaces the plan's limit; new names add)`}
          idPrefix="override"
          initial={props.apiKey.overrides}
          onCancel={() => setEditing(false)}
          onSave={async (limits) => {
            await api.setOverrides(props.apiKey?.id ?? "", limits);
            setEditing(false);
            setNotice("Overrides saved.");
            props.onChanged();
          }}
        />
      )}
    </section>
  );
}

/** Subjects and keys: search, per-subject usage, and key management by role. */
export function Subjects(props: { role: Role; initialSubject?: string }) {
  const keys = useLoad(() => api.keys(), []);
  const plans = useLoad(() => api.plans(), []);
  const [query, setQuery] = useState(props.initialSubject ?? "");
  const [kind, setKind] = useState<(typeof KINDS)[number]>("user");
  const [subject, setSubject] = useState<string | undefined>(props.initialSubject);
  const [created, setCreated] = useState<CreatedKey>();
  const [failure, setFailure] = useState<ApiError>();
  const operator = can(props.role, "operator");

  const text = query.trim().toLowerCase();
  const matching = (keys.data ?? []).filter(
    (k) =>
      text === "" ||
      [k.id, k.name ?? "", k.owner, k.prefix, k.plan, `key:${k.id}`].some((field) =>
        field.toLowerCase().includes(text),
      ),
  );
  const selectedKey = subject?.startsWith("key:") ? keys.data?.find((k) => `key:${k.id}` === subject) : undefined;

  function lookUp(event: Event) {
    event.preventDefault();
    const named = asSubject(query);
    if (named) setSubject(named);
    else if (query.trim()) setSubject(`${kind}:${query.trim()}`);
  }

  async function rotate(key: ApiKey) {
    if (!confirm(`Rotate ${key.id}? Its current secret stops working at once.`)) return;
    try {
      setCreated(await api.rotateKey(key.id));
      keys.reload();
    } catch (error) {
      if (error instanceof ApiError) setFailure(error);
    }
  }
  async function revoke(key: ApiKey) {
    if (!confirm(`Revoke ${key.id}? Calls with it are refused from now on.`)) return;
    try {
      await api.revokeKey(key.id);
      keys.reload();
    } catch (error) {
      if (error instanceof ApiError) setFailure(error);
    }
  }

  return (
    <main id="main">
      <h1>Subjects and keys</h1>
      <form class="card search" onSubmit={lookUp} aria-label="Search subjects">
        <div class="field grow">
          <label for="search">Search by key, user, org or IP</label>
          <input
            id="search"
            type="search"
            value={query}
            placeholder="key_…, org:acme, u-42, 203.0.113.7"
            onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
          />
        </div>
        <div class="field">
          <label for="search-kind">Look up as</label>
          <select
            id="search-kind"
            value={kind}
            onChange={(e) => setKind((e.target as HTMLSelectElement).value as never)}
          >
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </div>
        <button type="submit">Show usage</button>
      </form>
      {created && <SecretOnce created={created} onDone={() => setCreated(undefined)} />}
      {failure && <Failure error={failure} what="This action" role={props.role} />}
      {subject && (
        <SubjectDetail key={subject} subject={subject} apiKey={selectedKey} role={props.role} onChanged={keys.reload} />
      )}
      <section class="card" aria-labelledby="keys-title">
        <h2 id="keys-title">API keys</h2>
        {keys.error ? (
          <Failure error={keys.error} what="The key list" role={props.role} />
        ) : (
          <KeyTable
            keys={matching}
            canChange={operator}
            onSelect={(key) => setSubject(`key:${key.id}`)}
            onRotate={rotate}
            onRevoke={revoke}
          />
        )}
      </section>
      {operator &&
        (plans.data ? (
          <CreateKey
            plans={plans.data}
            onCreated={(key) => {
              setCreated(key);
              keys.reload();
              setSubject(`key:${key.id}`);
            }}
          />
        ) : plans.error ? (
          <ErrorPanel error={plans.error} />
        ) : null)}
    </main>
  );
}
