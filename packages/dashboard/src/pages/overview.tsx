import { api } from "../api.js";
import type { Consumer, Role } from "../types.js";
import { Chart } from "../ui/chart.js";
import { formatTime, number } from "../ui/format.js";
import { useLoad } from "../ui/hooks.js";
import { Failure } from "../ui/panels.js";

function ConsumerTable(props: { rows: Consumer[]; caption: string; empty: string }) {
  if (props.rows.length === 0) return <p class="muted">{props.empty}</p>;
  return (
    <table>
      <caption class="sr-only">{props.caption}</caption>
      <thead>
        <tr>
          <th scope="col">Subject</th>
          <th scope="col">Plan</th>
          <th scope="col">Limit</th>
          <th scope="col" class="num">
            Used
          </th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map((row) => (
          <tr key={`${row.subject}-${row.limit}`}>
            <td>
              <a href={`#/subjects?s=${encodeURIComponent(row.subject)}`}>{row.label}</a>
            </td>
            <td>{row.plan ?? "—"}</td>
            <td>{row.limit ?? "—"}</td>
            <td class="num">
              {number.format(row.used)}
              {row.max > 0 ? ` / ${number.format(row.max)} (${Math.round((row.used / row.max) * 100)} %)` : ""}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Decisions per minute (live), store health, top consumers, near-limit subjects and recent alerts. */
export function Overview(props: { role: Role }) {
  const stats = useLoad(() => api.stats(), [], 5000);
  const top = useLoad(() => api.top(), [], 5000);
  const near = useLoad(() => api.nearLimit(0.8), [], 5000);
  const alerts = useLoad(() => api.alerts(), [], 15000);
  const minutes = stats.data?.minutes ?? [];
  const last = minutes[minutes.length - 1];
  const times = minutes.map((m) => Date.parse(m.start) / 1000);
  const series = [
    { label: "allowed", color: "#15803d", values: minutes.map((m) => m.allowed) },
    { label: "denied", color: "#b91c1c", values: minutes.map((m) => m.denied) },
    { label: "monitored", color: "#1d4ed8", values: minutes.map((m) => m.monitored) },
  ];
  const deliveries = alerts.data?.deliveries;

  return (
    <main id="main">
      <h1>Overview</h1>
      {stats.data?.store.degraded && (
        <section class="panel panel-error" role="alert" data-testid="degraded-banner">
          <h2>Counter store degraded</h2>
          <p>
            The {stats.data.store.name} store is failing (circuit breaker {stats.data.store.breaker}). Decisions follow
            each limit's failMode until it recovers.
          </p>
        </section>
      )}
      <section class="card" aria-labelledby="rate-title">
        <h2 id="rate-title">Decisions per minute</h2>
        {stats.error ? (
          <Failure error={stats.error} what="Decision statistics" role={props.role} />
        ) : (
          <>
            <Chart
              times={times}
              series={series}
              summary={`Decisions per minute over the last hour. This minute: ${last?.allowed ?? 0} allowed, ${last?.denied ?? 0} denied, ${last?.monitored ?? 0} over a monitor threshold.`}
            />
            <p class="muted" data-testid="rate-now">
              This minute: {last?.allowed ?? 0} allowed, {last?.denied ?? 0} denied, {last?.monitored ?? 0} monitored
              (this server instance).
            </p>
          </>
        )}
      </section>
      <div class="grid">
        <section class="card" aria-labelledby="top-title">
          <h2 id="top-title">Top consumers this period</h2>
          {top.error ? (
            <Failure error={top.error} what="The top consumers report" role={props.role} />
          ) : (
            <ConsumerTable rows={(top.data ?? []).slice(0, 10)} caption="Top consumers" empty="No usage yet." />
          )}
        </section>
        <section class="card" aria-labelledby="near-title">
          <h2 id="near-title">Near their limit (80 % or more)</h2>
          {near.error ? (
            <Failure error={near.error} what="The near-limit report" role={props.role} />
          ) : (
            <ConsumerTable rows={near.data ?? []} caption="Subjects near their limit" empty="Nobody is near a limit." />
          )}
        </section>
      </div>
      <section class="card" aria-labelledby="alerts-title">
        <h2 id="alerts-title">Recent alerts</h2>
        {alerts.error ? (
          <Failure error={alerts.error} what="The alert delivery log" role={props.role} />
        ) : deliveries === undefined ? (
          alerts.data && <p class="unavailable">The alert delivery log is not available on this server yet.</p>
        ) : deliveries.length === 0 ? (
          <p class="muted">No alerts sent.</p>
        ) : (
          <ul class="plain">
            {deliveries.slice(0, 5).map((d) => (
              <li key={d.id}>
                <span class={`status status-${d.status}`}>{d.status}</span> {d.type ?? "alert"} ·{" "}
                {String(d.subject ?? "")} · {formatTime(d.time ?? (d.createdAt as string | undefined))}
              </li>
            ))}
          </ul>
        )}
        <p>
          <a href="#/alerts">All deliveries</a>
        </p>
      </section>
    </main>
  );
}
