/** What `OutageBoard.open` answers: the outage's event id, and whether this call opened it. */
export interface OutageOpened {
  id: string;
  opened: boolean;
}

/**
 * Where instances agree on a counter store's outages, so that `store_degraded` and
 * `store_recovered` fire once per outage across all of them. It cannot be the counter store
 * itself: that is what is down. The server keeps it in its SQL database; the default is this
 * process alone (one pair per outage per process).
 *
 * An outage of a subject (`store:redis`) is open from the first `open` until the first `close`:
 * instances that see it meanwhile join it (same id, no second alert); the first to see the store
 * answer again closes it and announces the recovery; an instance that sees the store fail after
 * that opens a new outage.
 */
export interface OutageBoard {
  /** Opens an outage of `subject` under `id`, or joins the one already open (its id, `opened: false`). */
  open(subject: string, id: string): OutageOpened | Promise<OutageOpened>;
  /** Closes outage `id` of `subject`: true only for the call that closed it. */
  close(subject: string, id: string): boolean | Promise<boolean>;
}

/** The board of this process alone. */
export function localOutageBoard(): OutageBoard {
  const open = new Map<string, string>();
  return {
    open(subject, id) {
      const current = open.get(subject);
      if (current !== undefined) return { id: current, opened: false };
      open.set(subject, id);
      return { id, opened: true };
    },
    close(subject, id) {
      if (open.get(subject) !== id) return false;
      open.delete(subject);
      return true;
    },
  };
}
