import { useState } from "preact/hooks";
import { ApiError, api } from "../api.js";
import type { ApiKey, CreatedKey, Plan } from "../types.js";

/** A secret shown exactly once, with a copy button and a warning. */
export function SecretOnce(props: { created: CreatedKey; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <section class="panel panel-secret" role="status" data-testid="secret-once">
      <h2>Copy the secret of {props.created.id} now</h2>
      <p>
        <strong>This is the only time it is shown.</strong> Tollgate stores only its hash; if it is lost, rotate the
        key.
      </p>
      <div class="secret-row">
        <label for="secret-value" class="sr-only">
          Secret
        </label>
        <input
          id="secret-value"
          class="secret-input"
          readOnly
          value={props.created.secret}
          data-testid="secret-value"
        />
        <button
          type="button"
          onClick={async () => {
            await navigator.clipboard?.writeText(props.created.secret).catch(() => undefined);
            setCopied(true);
          }}
        >
          {copied ? "Copied" : "Copy"}
        </button>
      </div>
      <button type="button" class="secondary" onClick={props.onDone}>
        I have saved it
      </button>
    </section>
  );
}

/** Create an API key (operator and admin). */
export function CreateKey(props: { plans: Plan[]; onCreated: (key: CreatedKey) => void }) {
  const [owner, setOwner] = useState("");
  const [plan, setPlan] = useState(props.plans[0]?.name ?? "");
  const [name, setName] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  async function submit(event: Event) {
    event.preventDefault();
    setErrors({});
    try {
      const created = await api.createKey({ owner: owner.trim(), plan, ...(name.trim() ? { name: name.trim() } : {}) });
      setOwner("");
      setName("");
      props.onCreated(created);
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 400) {
        const field = failure.problem.field ?? "form";
        setErrors({ [field]: failure.problem.detail ?? failure.message });
      } else if (failure instanceof ApiError && failure.status !== 429) {
        setErrors({ form: failure.message });
      }
    }
  }
  const err = (field: string) =>
    errors[field] ? (
      <p id={`create-${field}-error`} class="field-error">
        {errors[field]}
      </p>
    ) : null;
  return (
    <form class="card form-inline" onSubmit={submit} aria-labelledby="create-title">
      <h2 id="create-title">Create an API key</h2>
      <div class="field">
        <label for="create-owner">Owner</label>
        <input
          id="create-owner"
          placeholder="org:acme"
          value={owner}
          required
          onInput={(e) => setOwner((e.target as HTMLInputElement).value)}
          aria-invalid={errors.owner ? true : undefined}
          aria-describedby={errors.owner ? "create-owner-error" : undefined}
        />
        {err("owner")}
      </div>
      <div class="field">
        <label for="create-plan">Plan</label>
        <select id="create-plan" value={plan} onChange={(e) => setPlan((e.target as HTMLSelectElement).value)}>
          {props.plans.map((p) => (
            <option key={p.name} value={p.name}>
              {p.name}
            </option>
          ))}
        </select>
        {err("plan")}
      </div>
      <div class="field">
        <label for="create-name">Name (optional)</label>
        <input id="create-name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        {err("name")}
      </div>
      <button type="submit">Create key</button>
      {err("form")}
      {err("body")}
    </form>
  );
}

/** The keys table; mutate buttons only when `canChange`. */
export function KeyTable(props: {
  keys: ApiKey[];
  canChange: boolean;
  onSelect: (key: ApiKey) => void;
  onRotate: (key: ApiKey) => void;
  onRevoke: (key: ApiKey) => void;
}) {
  if (props.keys.length === 0) return <p class="muted">No keys match.</p>;
  return (
    <table data-testid="keys-table">
      <caption class="sr-only">API keys</caption>
      <thead>
        <tr>
          <th scope="col">Key</th>
          <th scope="col">Name</th>
          <th scope="col">Owner</th>
          <th scope="col">Plan</th>
          <th scope="col">Status</th>
          <th scope="col">Actions</th>
        </tr>
      </thead>
      <tbody>
        {props.keys.map((key) => (
          <tr key={key.id} data-testid={`key-row-${key.id}`}>
            <td>
              <code>{key.prefix}</code>
              <div class="muted small">{key.id}</div>
            </td>
            <td>{key.name ?? "—"}</td>
            <td>{key.owner}</td>
            <td>
              {key.plan}
              {key.overrides.length > 0 ? " + overrides" : ""}
            </td>
            <td>
              <span class={`status status-${key.status}`}>{key.status}</span>
            </td>
            <td class="actions">
              <button
                type="button"
                class="secondary"
                onClick={() => props.onSelect(key)}
                aria-label={`Usage of ${key.id}`}
              >
                Usage
              </button>
              {props.canChange && key.status === "active" && (
                <>
                  <button
                    type="button"
                    class="secondary"
                    onClick={() => props.onRotate(key)}
                    aria-label={`Rotate ${key.id}`}
                  >
                    Rotate
                  </button>
                  <button
                    type="button"
                    class="danger"
                    onClick={() => props.onRevoke(key)}
                    aria-label={`Revoke ${key.id}`}
                  >
                    Revoke
                  </button>
                </>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
