/**
 * @tollgate/browser: show people a limit. Turn a 429 or 403 into a sentence and a countdown, and
 * read a usage counter, from a fetch `Response`, an axios error, or `{ status, headers, body }`.
 * No runtime dependencies; works in browsers and in Node 20+.
 */
export { type Countdown, type CountdownOptions, countdown, realTimer, type Timer } from "./countdown.js";
export { type Denial, type DenialKind, type DescribeOptions, describeDenial } from "./describe.js";
export { type FieldItem, type LimitField, parseFieldItems, parseRetryAfter, readLimitFields } from "./fields.js";
export {
  createFormatter,
  defaultFormatter,
  type Formatter,
  type FormatterOptions,
  type QuotaPeriod,
} from "./format.js";
export type { AxiosErrorLike, HeadersLike, PlainResponse, ResponseInput } from "./response.js";
export { readUsage, type Usage } from "./usage.js";
