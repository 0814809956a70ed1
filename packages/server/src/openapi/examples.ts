/** Example values shared by several operations (responses of the decision API). */

const minute = {
  name: "minute",
  subject: "user:u-42",
  mode: "enforce",
  limit: 10,
  used: 7,
  remaining: 3,
  reset: 42,
  window: 60,
  exceeded: false,
};

export const allowedDecision = {
  allowed: true,
  decisionId: "v1.eyJ0IjoxNzczMTQ0MDAwMDAwfQ.c2lnbmF0dXJl",
  category: "ops_triage",
  limits: [minute],
  headers: { "RateLimit-Policy": '"minute";q=10;w=60', RateLimit: '"minute";r=3;t=42' },
};

export const deniedDecision = {
  allowed: false,
  reason: "limit_exceeded",
  retryAfter: 42,
  decisionId: "v1.eyJ0IjoxNzczMTQ0MDAwMDAwfQ.c2lnbmF0dXJl",
  category: "ops_triage",
  limits: [{ ...minute, used: 10, remaining: 0, exceeded: true, retryAfter: 42 }],
  headers: { "RateLimit-Policy": '"minute";q=10;w=60', RateLimit: '"minute";r=0;t=42', "Retry-After": "42" },
};

export const subjectMissingDecision = {
  allowed: false,
  reason: "subject_missing",
  decisionId: "v1.eyJ0IjoxNzczMTQ0MDAwMDAwfQ.c2lnbmF0dXJl",
  limits: [],
  missing: [{ limit: "minute", field: "user" }],
  headers: {},
};

export const limitExample = { name: "minute", per: "user", algorithm: "fixed-window", limit: 10, window: "1m" };
export const monthlyQuotaExample = { name: "month", per: "org", algorithm: "quota", limit: 100000, period: "month" };
