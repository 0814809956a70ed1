/**
 * A value now, or later. The request path stays synchronous while every step answers
 * synchronously (a memory store, plain option values): each `await` would cost a microtask,
 * several per request, whether or not anything was pending.
 */
export type Maybe<T> = T | Promise<T>;

export function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | undefined)?.then === "function";
}

/** `next(value)` now, or once `value` settles. */
export function andThen<T, U>(value: T | PromiseLike<T>, next: (value: T) => Maybe<U>): Maybe<U> {
  return isPromiseLike(value) ? Promise.resolve(value).then(next) : next(value);
}
