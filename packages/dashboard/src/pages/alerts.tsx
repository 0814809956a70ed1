import { api } from "../api.js";
import type { Role } from "../types.js";
import { formatTime } from "../ui/format.js";
import { useLoad } from "../ui/hooks.js";
import { Failure } from "../ui/panels.js";

/** The alert delivery log: status, attempts, last error, and the payload (the server redacts secrets). */
export function Alerts(props: { role: Role }) {
  const alerts = useLoad(() => api.alerts(), [], 10000);
  const deliveries = alerts.data?.deliveries;
  return (
    <main id="main">
      <h1>Alerts</h1>
      {alerts.error ? (
        <Failure error={alerts.error} what="The alert delivery log" role={props.role} />
      ) : !alerts.data ? (
        <p class="muted">Loading…</p>
      ) : deliveries === undefined ? (
        <section class="card">
          <p class="unavailable" data-testid="unavailable">
            The alert delivery log is not available on this server yet.
          </p>
          {alerts.data.sinks.length > 0 && <p>Configured alert sinks: {alerts.data.sinks.join(", ")}.</p>}
        </section>
      ) : deliveries.length === 0 ? (
        <section class="card">
          <p class="muted">No alerts have been sent.</p>
          {alerts.data.sinks.length > 0 && <p>Alert sinks: {alerts.data.sinks.join(", ")}.</p>}
        </section>
      ) : (
        <section class="card">
          {alerts.data.sinks.length > 0 && <p>Alert sinks: {alerts.data.sinks.join(", ")}.</p>}
          <table>
            <caption class="sr-only">Alert deliveries, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Event</th>
                <th scope="col">Sink</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">
                  Attempts
                </th>
                <th scope="col">Last error</th>
                <th scope="col">Payload</th>
              </tr>
            </thead>
            <tbody>
              {deliveries.map((d) => (
                <tr key={d.id}>
                  <td>{formatTime(d.time ?? (d.createdAt as string | undefined))}</td>
                  <td>{d.type ?? "—"}</td>
                  <td>{d.sink ?? String(d.alert ?? "—")}</td>
                  <td>
                    <span class={`status status-${d.status}`}>{d.status}</span>
                  </td>
                  <td class="num">{d.attempts ?? "—"}</td>
                  <td>{d.lastError ?? "—"}</td>
                  <td>
                    <details>
                      <summary>Show</summary>
                      <pre>{JSON.stringify(d.payload ?? d.event ?? d, null, 2)}</pre>
                    </details>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </main>
  );
}
