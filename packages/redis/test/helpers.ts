import { randomUUID } from "node:crypto";

/** A key prefix no other store in the run shares. */
export const uniquePrefix = (label = "t") => `tg-${label}-${randomUUID().slice(0, 8)}`;
