import { useState } from "preact/hooks";
import { ApiError } from "../api.js";
import type { Limit } from "../types.js";

const PER = ["user", "key", "org", "project", "ip", "global"];
const ALGORITHMS = ["fixed-window", "sliding-window", "sliding-log", "token-bucket", "quota", "concurrency"];
const PERIODS = ["", "day", "week", "month"];
const UNITS = ["", "requests", "tokens", "usd"];
const MODES = ["", "enforce", "monitor"];
const FAIL_MODES = ["", "open", "closed"];

type Field = "name" | "per" | "algorithm" | "limit" | "window" | "period" | "burst" | "unit" | "mode" | "failMode";

/**
 * Where a server validation issue belongs: `limits.2.window`, `plans.pro.limits[2].window` or
 * `limits[2]` -> row 2, field window. Unplaceable issues are shown above the table.
 */
export function placeIssue(path: string): { row: number; field?: string } | undefined {
  const match = /limits\W+(\d+)\W*(\w+)?/.exec(path);
  if (!match) return undefined;
  return { row: Number(match[1]), ...(match[2] ? { field: match[2] } : {}) };
}

/** Parses an edited row back to a limit, keeping fields the editor does not show. */
function clean(limit: Limit): Limit {
  const out: Limit = { ...limit };
  for (const [key, value] of Object.entries(out)) if (value === "" || value === undefined) delete out[key];
  for (const key of ["limit", "burst"]) {
    const value = out[key];
    if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) out[key] = Number(value);
  }
  if (typeof out.window === "string" && /^\d+$/.test(out.window)) out.window = Number(out.window);
  return out;
}

/**
 * Edits a list of limits row by row; on save the server validates with the library's own rules
 * and each issue is shown beside its field.
 */
export function LimitEditor(props: {
  title: string;
  idPrefix: string;
  initial: Limit[];
  onSave: (limits: Limit[]) => Promise<unknown>;
  onCancel: () => void;
}) {
  const [rows, setRows] = useState<Limit[]>(props.initial.map((l) => ({ ...l })));
  const [issues, setIssues] = useState<{ path: string; message: string }[]>([]);
  const [saving, setSaving] = useState(false);

  const set = (index: number, field: Field, value: string) =>
    setRows((current) => current.map((row, i) => (i === index ? { ...row, [field]: value } : row)));

  const issueFor = (row: number, field: string) =>
    issues.find((issue) => {
      const place = placeIssue(issue.path);
      return place?.row === row && place.field === field;
    });
  const loose = issues.filter((issue) => {
    const place = placeIssue(issue.path);
    return (
      !place?.field ||
      !["name", "per", "algorithm", "limit", "window", "period", "burst", "unit", "mode", "failMode"].includes(
        place.field,
      )
    );
  });

  async function save(event: Event) {
    event.preventDefault();
    setSaving(true);
    setIssues([]);
    try {
      await props.onSave(rows.map(clean));
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 400) {
        setIssues(
          failure.problem.issues ?? [
            { path: failure.problem.field ?? "", message: failure.problem.detail ?? failure.message },
          ],
        );
      } else if (failure instanceof ApiError && failure.status !== 429) {
        setIssues([{ path: "", message: failure.message }]);
      }
    } finally {
      setSaving(false);
    }
  }

  const input = (index: number, field: Field, label: string, type = "text") => {
    const id = `${props.idPrefix}-${index}-${field}`;
    const issue = issueFor(index, field);
    return (
      <td>
        <label for={id} class="sr-only">
          {label} of limit {index + 1}
        </label>
        <input
          id={id}
          type={type}
          value={String(rows[index]?.[field] ?? "")}
          onInput={(e) => set(index, field, (e.target as HTMLInputElement).value)}
          aria-invalid={issue ? true : undefined}
          aria-describedby={issue ? `${id}-error` : undefined}
        />
        {issue && (
          <p id={`${id}-error`} class="field-error">
            {issue.message}
          </p>
        )}
      </td>
    );
  };
  const select = (index: number, field: Field, label: string, options: string[]) => {
    const id = `${props.idPrefix}-${index}-${field}`;
    const issue = issueFor(index, field);
    return (
      <td>
        <label for={id} class="sr-only">
          {label} of limit {index + 1}
        </label>
        <select
          id={id}
          value={String(rows[index]?.[field] ?? "")}
          onChange={(e) => set(index, field, (e.target as HTMLSelectElement).value)}
          aria-invalid={issue ? true : undefined}
          aria-describedby={issue ? `${id}-error` : undefined}
        >
          {options.map((o) => (
            <option key={o} value={o}>
              {o || "default"}
            </option>
          ))}
        </select>
        {issue && (
          <p id={`${id}-error`} class="field-error">
            {issue.message}
          </p>
        )}
      </td>
    );
  };

  return (
    <form class="card editor" onSubmit={save} aria-label={props.title} data-testid="limit-editor">
      <h3>{props.title}</h3>
      {loose.length > 0 && (
        <ul class="field-error" role="alert">
          {loose.map((issue) => (
            <li key={issue.path + issue.message}>
              {issue.path ? `${issue.path}: ` : ""}
              {issue.message}
            </li>
          ))}
        </ul>
      )}
      <div class="table-scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Per</th>
              <th scope="col">Algorithm</th>
              <th scope="col">Limit</th>
              <th scope="col">Window</th>
              <th scope="col">Period</th>
              <th scope="col">Burst</th>
              <th scope="col">Unit</th>
              <th scope="col">Mode</th>
              <th scope="col">Fail mode</th>
              <th scope="col">
                <span class="sr-only">Remove</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((_, index) => (
              <tr key={index}>
                {input(index, "name", "Name")}
                {select(index, "per", "Per", PER)}
                {select(index, "algorithm", "Algorithm", ALGORITHMS)}
                {input(index, "limit", "Limit", "number")}
                {input(index, "window", "Window")}
                {select(index, "period", "Period", PERIODS)}
                {input(index, "burst", "Burst", "number")}
                {select(index, "unit", "Unit", UNITS)}
                {select(index, "mode", "Mode", MODES)}
                {select(index, "failMode", "Fail mode", FAIL_MODES)}
                <td>
                  <button
                    type="button"
                    class="danger small"
                    aria-label={`Remove limit ${index + 1}`}
                    onClick={() => setRows((current) => current.filter((__, i) => i !== index))}
                  >
                    ×
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div class="buttons">
        <button
          type="button"
          class="secondary"
          onClick={() =>
            setRows((current) => [
              ...current,
              { name: "", per: "user", algorithm: "fixed-window", limit: 10, window: "1m" },
            ])
          }
        >
          Add limit
        </button>
        <button type="submit" disabled={saving}>
          Save
        </button>
        <button type="button" class="secondary" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
