import { compileTrust } from "./ip.js";

/**
 * Which proxies may tell us the client's address. `false` (the default): none, the socket
 * address is the client. A number: that many hops in front of the app (as on a PaaS). A list:
 * addresses or CIDR ranges of your proxies. `true` trusts every hop, which lets any client
 * spoof its address: use it only when the app is unreachable except through a proxy that
 * overwrites X-Forwarded-For.
 */
export type TrustProxy = boolean | number | readonly string[] | ((address: string, hop: number) => boolean);

/** The headers and socket address needed to find the client. */
export interface AddressSource {
  header(name: string): string | undefined;
  remoteAddress: string | undefined;
}

/** `Forwarded: for=192.0.2.60;proto=http, for="[2001:db8::1]:4711"` (RFC 7239), nearest hop last. */
export function parseForwarded(value: string): string[] {
  const hops: string[] = [];
  for (const element of value.split(",")) {
    for (const pair of element.split(";")) {
      const eq = pair.indexOf("=");
      if (eq < 0 || pair.slice(0, eq).trim().toLowerCase() !== "for") continue;
      hops.push(
        pair
          .slice(eq + 1)
          .trim()
          .replace(/^"|"$/g, ""),
      );
    }
  }
  return hops;
}

/** `X-Forwarded-For: client, proxy1, proxy2`, nearest hop last. */
export function parseXForwardedFor(value: string): string[] {
  return value
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);
}

function trustPredicate(trust: TrustProxy): (address: string, hop: number) => boolean {
  if (typeof trust === "function") return trust;
  if (trust === true) return () => true;
  if (trust === false) return () => false;
  if (typeof trust === "number") {
    if (!Number.isInteger(trust) || trust < 0) throw new TypeError("trustProxy: hop count must be a whole number");
    return (_address, hop) => hop < trust;
  }
  const trusted = compileTrust(trust);
  return (address) => trusted(address);
}

/**
 * Builds the client-address resolver. It walks from the socket towards the client, one hop at a
 * time, while the current hop is a trusted proxy: the first untrusted address is the client.
 * Without trust the forwarding headers are ignored, so a client cannot spoof its address.
 *
 * @example
 * const clientIp = clientAddress(["10.0.0.0/8"]);
 * clientIp({ remoteAddress: "10.0.0.2", header: (n) => (n === "x-forwarded-for" ? "203.0.113.7" : undefined) });
 * // "203.0.113.7"
 */
export function clientAddress(trust: TrustProxy = false): (source: AddressSource) => string | undefined {
  const isTrusted = trustPredicate(trust);
  return (source) => {
    const socket = source.remoteAddress;
    if (trust === false) return socket;
    const forwarded = source.header("forwarded");
    const xff = source.header("x-forwarded-for");
    const hops = forwarded ? parseForwarded(forwarded) : xff ? parseXForwardedFor(xff) : [];
    // Edge runtimes (Next.js) have no socket: the platform's proxy is then the first hop we see.
    const chain = socket === undefined ? hops.reverse() : [socket, ...hops.reverse()];
    let index = 0;
    while (index < chain.length - 1 && isTrusted(chain[index] as string, index)) index++;
    return chain[index];
  };
}
