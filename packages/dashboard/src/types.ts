/** Shapes of the server's answers the dashboard reads (see /openapi.json). */

export type Role = "admin" | "operator" | "readonly";

export interface Session {
  name: string;
  role: Role;
  expiresAt: string;
}

export interface Limit {
  name: string;
  per: string;
  algorithm: string;
  limit: number;
  window?: string | number;
  period?: string;
  burst?: number;
  unit?: string;
  mode?: string;
  failMode?: string;
  categories?: string[];
  [field: string]: unknown;
}

export interface Plan {
  name: string;
  limits: Limit[];
  updatedAt: string;
  requiredScope?: string | null;
}

export interface ApiKey {
  id: string;
  name: string | null;
  prefix: string;
  owner: string;
  plan: string;
  scopes: string[];
  status: "active" | "revoked" | "expired";
  expiresAt: string | null;
  overrides: Limit[];
  createdAt: string;
}

export interface CreatedKey extends ApiKey {
  secret: string;
}

export interface LimitUsage {
  name: string;
  used: number;
  limit: number;
  remaining: number;
  reset: number;
}

export interface SubjectUsage {
  subject: string;
  limits: LimitUsage[];
}

export interface MinuteStats {
  start: string;
  allowed: number;
  denied: number;
  monitored: number;
  degraded: number;
}

export interface DecisionStats {
  minutes: MinuteStats[];
  store: { name: string; breaker: string; degraded: boolean };
}

/** One consumer in the top / near-limit reports, whatever report shape the server answers. */
export interface Consumer {
  subject: string;
  label: string;
  plan?: string;
  limit?: string;
  used: number;
  max: number;
}

export interface HistoryPoint {
  start: string;
  limit: string;
  category?: string | null;
  used: number;
}

/** A webhook / chat delivery of an alert event. */
export interface AlertDelivery {
  id: string;
  type?: string;
  sink?: string;
  status: string;
  attempts?: number;
  lastError?: string | null;
  time?: string;
  payload?: unknown;
  [field: string]: unknown;
}

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  field?: string;
  needed?: string;
  role?: string;
  issues?: { path: string; message: string }[];
}
