import type { CheckInput } from "@tollgate/core";
import type { GateOptions } from "./gate.js";
import type { RequestFacts } from "./identity.js";
import { isPromiseLike, type Maybe } from "./maybe.js";

/** An option given as a value, or as a function of the request (sync or async). */
export type Resolver<Req, T> = T | ((req: Req, facts: RequestFacts) => T | Promise<T>);

/** A resolver's value: the option itself, or what its function answers for this request. */
export function resolve<Req, T>(
  value: Resolver<Req, T> | undefined,
  req: Req,
  facts: RequestFacts,
): Maybe<T | undefined> {
  return typeof value === "function" ? (value as (req: Req, facts: RequestFacts) => Maybe<T>)(req, facts) : value;
}

/** The request fields resolvers name, in the order they are resolved. */
const RESOLVED_FIELDS = ["category", "plan", "cost"] as const;

function assign(input: CheckInput, field: (typeof RESOLVED_FIELDS)[number], value: string | number | undefined) {
  if (value !== undefined) (input as Pick<CheckInput, typeof field>)[field] = value as never;
}

/**
 * The limiter input of a request: its subject, plus the `category`, `plan` and (for a charge,
 * `fields` 3) `cost` the options name, resolved one after the other and awaited only when pending.
 */
export function resolveInput<Req>(
  options: GateOptions<Req>,
  req: Req,
  facts: RequestFacts,
  input: CheckInput,
  fields: 2 | 3,
  from = 0,
): Maybe<CheckInput> {
  for (let i = from; i < fields; i++) {
    const field = RESOLVED_FIELDS[i] as (typeof RESOLVED_FIELDS)[number];
    const value = resolve<Req, string | number | undefined>(options[field], req, facts);
    if (isPromiseLike(value)) {
      return Promise.resolve(value).then((settled) => {
        assign(input, field, settled);
        return resolveInput(options, req, facts, input, fields, i + 1);
      });
    }
    assign(input, field, value);
  }
  return input;
}
