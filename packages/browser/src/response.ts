/**
 * Reading an HTTP answer the same way whether it came from `fetch` (a `Response`), from axios
 * (an error whose `response` holds `status`, `headers` and `data`) or was written by hand as
 * `{ status, headers, body }`.
 */

/** Headers as a `Headers` object, axios' `AxiosHeaders`, or a plain record. */
export type HeadersLike =
  | { get(name: string): unknown }
  | Record<string, string | string[] | number | undefined | null>
  | undefined;

/** An answer written by hand (or by any HTTP client): `body` is the parsed JSON or text. */
export interface PlainResponse {
  status: number;
  headers?: HeadersLike;
  body?: unknown;
}

/** The shape of an axios error (or any client error that carries the response). */
export interface AxiosErrorLike {
  response?: { status: number; headers?: HeadersLike; data?: unknown };
}

/** Everything `describeDenial` and `readUsage` accept. */
export type ResponseInput = Response | PlainResponse | AxiosErrorLike;

/** The answer reduced to what the helpers read. */
export interface Answer {
  status: number;
  header(name: string): string | undefined;
  body: unknown;
}

function isFetchResponse(input: unknown): input is Response {
  return (
    typeof input === "object" &&
    input !== null &&
    typeof (input as Response).clone === "function" &&
    typeof (input as Response).text === "function" &&
    typeof (input as Response).status === "number"
  );
}

function headerReader(headers: HeadersLike): (name: string) => string | undefined {
  if (!headers) return () => undefined;
  if (typeof (headers as { get?: unknown }).get === "function") {
    const get = (headers as { get(name: string): unknown }).get.bind(headers);
    return (name) => {
      const value = get(name) ?? get(name.toLowerCase());
      return value === null || value === undefined ? undefined : String(value);
    };
  }
  const record = headers as Record<string, unknown>;
  const lower = new Map(Object.keys(record).map((key) => [key.toLowerCase(), key]));
  return (name) => {
    const key = lower.get(name.toLowerCase());
    const value = key === undefined ? undefined : record[key];
    if (value === undefined || value === null) return undefined;
    return Array.isArray(value) ? value.join(", ") : String(value);
  };
}

function parseBody(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Normalises any accepted input. A fetch `Response` is cloned before its body is read, so the
 * caller can still read it afterwards.
 */
export async function readAnswer(input: ResponseInput): Promise<Answer> {
  if (isFetchResponse(input)) {
    let body: unknown;
    try {
      body = input.bodyUsed ? undefined : parseBody(await input.clone().text());
    } catch {
      body = undefined;
    }
    const headers = input.headers;
    return { status: input.status, header: (name) => headers.get(name) ?? undefined, body };
  }
  const axios = (input as AxiosErrorLike).response;
  if (axios && typeof axios.status === "number") {
    return { status: axios.status, header: headerReader(axios.headers), body: axios.data };
  }
  const plain = input as PlainResponse;
  if (typeof plain?.status !== "number") {
    throw new TypeError("Expected a fetch Response, an axios error with a response, or { status, headers, body }.");
  }
  const body = typeof plain.body === "string" ? parseBody(plain.body) : plain.body;
  return { status: plain.status, header: headerReader(plain.headers), body };
}
