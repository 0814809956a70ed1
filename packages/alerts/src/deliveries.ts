import type { AlertEvent, AlertEventType } from "./types.js";

/**
 * pending: queued or being sent; retrying: waiting for its next try; delivered; dead: gave up
 * after the last try or a final refusal (the dead letter); dropped: the queue was full.
 */
export type DeliveryStatus = "pending" | "retrying" | "delivered" | "dead" | "dropped";
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ["pending", "retrying", "delivered", "dead", "dropped"];

/** One event to one sink, across all its tries. Holds no secret: the target is redacted. */
export interface DeliveryRecord {
  /** `X-Tollgate-Delivery`: stable across retries. */
  id: string;
  eventId: string;
  type: AlertEventType;
  subject: string;
  sink: string;
  sinkType: string;
  /** The sink's destination, redacted (scheme and host). */
  target: string;
  status: DeliveryStatus;
  attempts: number;
  lastError?: string;
  /** HTTP status of the last try, when there was an answer. */
  lastStatus?: number;
  createdAt: string;
  updatedAt: string;
  nextAttemptAt?: string;
  event: AlertEvent;
}

export interface DeliveryQuery {
  status?: DeliveryStatus;
  type?: AlertEventType;
  sink?: string;
  /** Newest first; default 100. */
  limit?: number;
}

/**
 * Where delivery records go. The server keeps them in its SQL database (every instance's
 * deliveries in one list); an embedding app gets the bounded in-memory log by default.
 */
export interface DeliveryLog {
  /** Inserts or replaces the record with this id. */
  record(record: DeliveryRecord): void | Promise<void>;
  list(query?: DeliveryQuery): DeliveryRecord[] | Promise<DeliveryRecord[]>;
}

/** The newest `capacity` delivery records in memory. */
export function memoryDeliveryLog(capacity = 1000): DeliveryLog {
  const records = new Map<string, DeliveryRecord>();
  return {
    record(record) {
      records.delete(record.id);
      records.set(record.id, { ...record });
      if (records.size > capacity) records.delete(records.keys().next().value as string);
    },
    list(query = {}) {
      const out: DeliveryRecord[] = [];
      const all = [...records.values()].reverse();
      for (const record of all) {
        if (query.status && record.status !== query.status) continue;
        if (query.type && record.type !== query.type) continue;
        if (query.sink && record.sink !== query.sink) continue;
        out.push(record);
        if (out.length >= (query.limit ?? 100)) break;
      }
      return out;
    },
  };
}
