import { useState } from "preact/hooks";
import { api } from "../api.js";
import { can } from "../roles.js";
import type { Limit, Plan, Role } from "../types.js";
import { formatTime, number } from "../ui/format.js";
import { useLoad } from "../ui/hooks.js";
import { LimitEditor } from "../ui/limit-editor.js";
import { Failure } from "../ui/panels.js";

/** "1 request", "20 requests", "5 tokens", "10 usd". */
function unitWord(limit: Limit): string {
  const unit = limit.unit ?? "requests";
  return limit.limit === 1 && unit.endsWith("s") ? unit.slice(0, -1) : unit;
}

function describeLimit(limit: Limit): string {
  const span =
    limit.algorithm === "quota" ? `per ${limit.period ?? "month"}` : limit.window ? `per ${limit.window}` : "";
  return [
    `${number.format(limit.limit)} ${unitWord(limit)} ${span}`.trim(),
    limit.burst ? `burst ${number.format(limit.burst)}` : "",
    limit.categories ? `in ${limit.categories.join(", ")}` : "",
  ]
    .filter(Boolean)
    .join(", ");
}

function LimitTable(props: { limits: Limit[] }) {
  if (props.limits.length === 0) return <p class="muted">No limits.</p>;
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Limit</th>
          <th scope="col">Per</th>
          <th scope="col">Algorithm</th>
          <th scope="col">Allowance</th>
          <th scope="col">Mode</th>
        </tr>
      </thead>
      <tbody>
        {props.limits.map((limit) => (
          <tr key={limit.name}>
            <td>{limit.name}</td>
            <td>{limit.per}</td>
            <td>{limit.algorithm}</td>
            <td>{describeLimit(limit)}</td>
            <td>{limit.mode ?? "enforce"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Group(props: {
  kind: "plan" | "category";
  items: Plan[];
  admin: boolean;
  save: (name: string, limits: Limit[]) => Promise<unknown>;
  reload: () => void;
}) {
  const [editing, setEditing] = useState<string>();
  return (
    <>
      {props.items.map((item) => (
        <section
          class="card"
          key={item.name}
          aria-labelledby={`${props.kind}-${item.name}`}
          data-testid={`${props.kind}-${item.name}`}
        >
          <div class="card-head">
            <h3 id={`${props.kind}-${item.name}`}>{item.name}</h3>
            <span class="muted small">updated {formatTime(item.updatedAt)}</span>
            {props.admin && editing !== item.name && (
              <button
                type="button"
                class="secondary"
                onClick={() => setEditing(item.name)}
                aria-label={`Edit ${props.kind} ${item.name}`}
              >
                Edit
              </button>
            )}
          </div>
          {item.requiredScope && <p class="muted">Requires the scope {item.requiredScope}.</p>}
          {editing === item.name ? (
            <LimitEditor
              title={`Limits of ${props.kind} ${item.name}`}
              idPrefix={`${props.kind}-${item.name}`}
              initial={item.limits}
              onCancel={() => setEditing(undefined)}
              onSave={async (limits) => {
                await props.save(item.name, limits);
                setEditing(undefined);
                props.reload();
              }}
            />
          ) : (
            <LimitTable limits={item.limits} />
          )}
        </section>
      ))}
    </>
  );
}

/** Plans and categories: everyone reads; admins edit, with the server's validation beside each field. */
export function Plans(props: { role: Role }) {
  const plans = useLoad(() => api.plans(), []);
  const categories = useLoad(() => api.categories(), []);
  const admin = can(props.role, "admin");
  return (
    <main id="main">
      <h1>Plans and categories</h1>
      {!admin && <p class="muted">Only admins edit plans and categories; you are signed in as {props.role}.</p>}
      <h2>Plans</h2>
      {plans.error ? (
        <Failure error={plans.error} what="Plans" role={props.role} />
      ) : (
        <Group kind="plan" items={plans.data ?? []} admin={admin} save={api.putPlan} reload={plans.reload} />
      )}
      <h2>Categories</h2>
      {categories.error ? (
        <Failure error={categories.error} what="Categories" role={props.role} />
      ) : (
        <Group
          kind="category"
          items={categories.data ?? []}
          admin={admin}
          save={api.putCategory}
          reload={categories.reload}
        />
      )}
    </main>
  );
}
