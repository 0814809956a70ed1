import { ipSubject } from "./ip.js";

/** Distinct addresses remembered per middleware; the map starts over when full. */
const MAX_ENTRIES = 4096;

/**
 * {@link ipSubject} for one prefix length, memoised. Parsing and grouping an address (Node's
 * `::ffff:127.0.0.1` form especially) costs several microseconds, more than the limiter's whole
 * decision, yet a server sees the same addresses request after request (keep-alive connections,
 * the clients behind a proxy). The cache is bounded, so an address scan costs at most
 * MAX_ENTRIES strings, and a miss is no slower than before.
 *
 * @example
 * const subjectOf = cachedIpSubject(64);
 * subjectOf("2001:db8:1:2:aaaa::1"); // "2001:db8:1:2::/64", parsed once
 */
export function cachedIpSubject(ipv6Subnet: number): (address: string) => string | undefined {
  const cache = new Map<string, string | undefined>();
  return (address) => {
    const hit = cache.get(address);
    if (hit !== undefined || cache.has(address)) return hit;
    if (cache.size >= MAX_ENTRIES) cache.clear();
    const subject = ipSubject(address, ipv6Subnet);
    cache.set(address, subject);
    return subject;
  };
}
