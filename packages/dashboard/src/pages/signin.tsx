import type { Denial } from "@tollgate/browser";
import { useState } from "preact/hooks";
import { ApiError, api } from "../api.js";
import type { Session } from "../types.js";
import { LimitedPanel } from "../ui/panels.js";

/** Sign in with an admin-API token of any role; the server answers an HttpOnly session cookie. */
export function SignIn(props: { onSignedIn: (session: Session) => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string>();
  const [limited, setLimited] = useState<Denial>();
  const [busy, setBusy] = useState(false);

  async function submit(event?: Event) {
    event?.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const session = await api.signIn(token.trim());
      setToken("");
      setLimited(undefined);
      props.onSignedIn(session);
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 429) setLimited(failure.denial);
      else setError(failure instanceof ApiError ? (failure.problem.detail ?? failure.message) : String(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" class="signin">
      <h1>Tollgate</h1>
      <p>
        Sign in with an admin-API token (admin, operator or readonly). It is exchanged for a session cookie and not kept
        in this page.
      </p>
      {limited && <LimitedPanel denial={limited} onRetry={() => submit()} />}
      <form onSubmit={submit} class="card">
        <label for="token">Admin token</label>
        <input
          id="token"
          class="signin-input"
          type="password"
          autocomplete="current-password"
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
          required
          aria-describedby={error ? "token-error" : undefined}
          aria-invalid={error ? true : undefined}
        />
        {error && (
          <p id="token-error" class="field-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || limited !== undefined || token.trim() === ""}>
          Sign in
        </button>
      </form>
    </main>
  );
}
