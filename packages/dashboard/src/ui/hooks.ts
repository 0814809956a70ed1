import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { ApiError } from "../api.js";

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  /** When `data` arrived (ms), to count reset times down from. */
  at: number;
  reload: () => void;
}

/** Runs `load` on mount and when `deps` change (and every `pollMs`, if given); keeps the last good data. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], pollMs?: number): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiError>();
  const [loading, setLoading] = useState(true);
  const [at, setAt] = useState(0);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const latest = useRef(0);
  useEffect(() => {
    const run = ++latest.current;
    setLoading(true);
    load().then(
      (value) => {
        if (run !== latest.current) return;
        setData(value);
        setAt(Date.now());
        setError(undefined);
        setLoading(false);
      },
      (failure: ApiError) => {
        if (run !== latest.current) return;
        setError(failure);
        setLoading(false);
      },
    );
  }, [...deps, tick]);
  useEffect(() => {
    if (!pollMs) return;
    const timer = setInterval(reload, pollMs);
    return () => clearInterval(timer);
  }, [pollMs, reload]);
  return { data, error, loading, at, reload };
}

/** The current time, re-read every second (for reset countdowns). */
export function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return now;
}
