/**
 * Every server route the dashboard calls. A test checks each against the server's /openapi.json,
 * so a renamed or removed route fails the build's tests instead of a page in production.
 * `optional` routes may be missing on an older server: the page shows "not available" instead.
 */
export const ROUTES = {
  signIn: { method: "post", path: "/v1/session" },
  session: { method: "get", path: "/v1/session" },
  signOut: { method: "delete", path: "/v1/session" },
  stats: { method: "get", path: "/v1/admin/stats/decisions" },
  plans: { method: "get", path: "/v1/admin/plans" },
  putPlan: { method: "put", path: "/v1/admin/plans/{name}" },
  categories: { method: "get", path: "/v1/admin/categories" },
  putCategory: { method: "put", path: "/v1/admin/categories/{name}" },
  keys: { method: "get", path: "/v1/admin/keys" },
  createKey: { method: "post", path: "/v1/admin/keys" },
  revokeKey: { method: "delete", path: "/v1/admin/keys/{id}" },
  rotateKey: { method: "post", path: "/v1/admin/keys/{id}/rotate" },
  keyOverrides: { method: "put", path: "/v1/admin/keys/{id}/overrides" },
  resetCounters: { method: "post", path: "/v1/admin/counters/reset" },
  subjectUsage: { method: "get", path: "/v1/admin/usage/subject" },
  top: { method: "get", path: "/v1/admin/usage/top" },
  nearLimit: { method: "get", path: "/v1/admin/usage/near-limit" },
  history: { method: "get", path: "/v1/admin/usage/history", optional: true },
  alerts: { method: "get", path: "/v1/admin/alerts" },
} as const satisfies Record<string, { method: string; path: string; optional?: boolean }>;

export type RouteName = keyof typeof ROUTES;
