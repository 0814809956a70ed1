import type { Denial } from "@tollgate/browser";
import { useCallback, useEffect, useState } from "preact/hooks";
import { type ApiError, api, onApiError } from "./api.js";
import { Alerts } from "./pages/alerts.js";
import { Overview } from "./pages/overview.js";
import { Plans } from "./pages/plans.js";
import { SignIn } from "./pages/signin.js";
import { Subjects } from "./pages/subjects.js";
import type { Session } from "./types.js";
import { LimitedPanel } from "./ui/panels.js";

const PAGES = [
  { path: "overview", title: "Overview" },
  { path: "subjects", title: "Subjects and keys" },
  { path: "plans", title: "Plans and categories" },
  { path: "alerts", title: "Alerts" },
] as const;

type PagePath = (typeof PAGES)[number]["path"];

function readRoute(): { page: PagePath; subject?: string } {
  const [path, search] = location.hash.replace(/^#\/?/, "").split("?");
  const page = (PAGES.find((p) => p.path === path)?.path ?? "overview") as PagePath;
  const subject = new URLSearchParams(search ?? "").get("s") ?? undefined;
  return { page, ...(subject ? { subject } : {}) };
}

export function App() {
  const [session, setSession] = useState<Session | null>();
  const [route, setRoute] = useState(readRoute());
  const [limited, setLimited] = useState<Denial>();
  // Bumped after a 429 wait to reload the page's data.
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    api.session().then(setSession, () => setSession(null));
    const onHash = () => setRoute(readRoute());
    window.addEventListener("hashchange", onHash);
    const off = onApiError((error: ApiError) => {
      if (error.status === 401 && error.problem.field !== "token") setSession(null);
      if (error.status === 429 && error.denial.retryable) setLimited(error.denial);
    });
    return () => {
      window.removeEventListener("hashchange", onHash);
      off();
    };
  }, []);

  useEffect(() => {
    const title = PAGES.find((p) => p.path === route.page)?.title ?? "Overview";
    document.title = session ? `${title} · Tollgate` : "Sign in · Tollgate";
  }, [route.page, session]);

  const retry = useCallback(() => {
    setLimited(undefined);
    setGeneration((g) => g + 1);
  }, []);

  async function signOut() {
    await api.signOut().catch(() => undefined);
    setSession(null);
  }

  if (session === undefined) return <p class="loading">Loading…</p>;
  if (session === null) {
    return (
      <SignIn
        onSignedIn={(s) => {
          setLimited(undefined);
          setSession(s);
        }}
      />
    );
  }

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Tollgate</span>
        <nav aria-label="Dashboard">
          <ul>
            {PAGES.map((page) => (
              <li key={page.path}>
                <a href={`#/${page.path}`} aria-current={route.page === page.path ? "page" : undefined}>
                  {page.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who" data-testid="who">
          {session.name} <span class={`role role-${session.role}`}>{session.role}</span>
        </span>
        <button type="button" class="secondary" onClick={signOut}>
          Sign out
        </button>
      </header>
      {limited && (
        <div class="limited-wrap">
          <LimitedPanel denial={limited} onRetry={retry} autoRetry />
        </div>
      )}
      <div key={`${route.page}-${generation}`}>
        {route.page === "overview" && <Overview role={session.role} />}
        {route.page === "subjects" && (
          <Subjects role={session.role} {...(route.subject ? { initialSubject: route.subject } : {})} />
        )}
        {route.page === "plans" && <Plans role={session.role} />}
        {route.page === "alerts" && <Alerts role={session.role} />}
      </div>
    </>
  );
}
