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

/**
 * The newest `capacity` deliveries in memory (by creation), records kept as written. Eviction
 * follows a FIFO of ids: deleting the oldest through a Map iterator would walk every hole left by
 * earlier deletions, which grows with traffic.
 */
export function memoryDeliveryLog(capacity = 1000): DeliveryLog {
  const records = new Map<string, DeliveryRecord>();
  let order: string[] = [];
  let head = 0;
  return {
    record(record) {
      if (!records.has(record.id)) order.push(record.id);
      records.set(record.id, record);
      while (records.size > capacity && head < order.length) {
        records.delete(order[head] as string);
        order[head++] = "";
      }
      if (head > 1024 && head * 2 > order.length) {
        order = order.slice(head);
        head = 0;
      }
    },
    list(query = {}) {
      const out: DeliveryRecord[] = [];
      for (let i = order.length - 1; i >= head && out.length < (query.limit ?? 100); i--) {
        const record = records.get(order[i] as string);
        if (record === undefined) continue;
        if (query.status && record.status !== query.status) continue;
        if (query.type && record.type !== query.type) continue;
        if (query.sink && record.sink !== query.sink) continue;
        out.push(record);
      }
      return out;
    },
  };
}
