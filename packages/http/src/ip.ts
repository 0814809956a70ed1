import { isIP } from "node:net";

/** An address as bytes: 4 for IPv4, 16 for IPv6. IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is folded to IPv4. */
export function parseIp(input: string): Uint8Array | undefined {
  let text = input.trim();
  // `[2001:db8::1]:443` and `203.0.113.7:443` forms appear in Forwarded and some proxies' X-Forwarded-For.
  if (text.startsWith("[")) text = text.slice(1, text.indexOf("]") > 0 ? text.indexOf("]") : undefined);
  else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(text)) text = text.slice(0, text.lastIndexOf(":"));
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  const family = isIP(text);
  if (family === 4) return Uint8Array.from(text.split(".").map(Number));
  if (family !== 6) return undefined;
  const bytes = parseIpv6(text);
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? bytes.slice(12) : bytes;
}

function parseIpv6(text: string): Uint8Array {
  let tail: number[] = [];
  let body = text;
  const dotted = body.lastIndexOf(":");
  if (body.includes(".")) {
    tail = body
      .slice(dotted + 1)
      .split(".")
      .map(Number);
    body = `${body.slice(0, dotted + 1)}0:0`;
  }
  const [head = "", rest] = body.split("::");
  const left = head ? head.split(":") : [];
  const right = rest ? rest.split(":") : [];
  const groups = [...left, ...new Array(8 - left.length - right.length).fill("0"), ...right];
  const bytes = new Uint8Array(16);
  groups.forEach((group, i) => {
    const value = Number.parseInt(group || "0", 16);
    bytes[i * 2] = value >> 8;
    bytes[i * 2 + 1] = value & 0xff;
  });
  if (tail.length === 4) bytes.set(tail, 12);
  return bytes;
}

/** Canonical text of an address: dotted IPv4, or eight zero-padded-free hex groups for IPv6. */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16));
  return groups.join(":");
}

function prefixMatches(address: Uint8Array, network: Uint8Array, bits: number): boolean {
  if (address.length !== network.length) return false;
  for (let i = 0; i < address.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((address[i] as number) & mask) !== ((network[i] as number) & mask)) return false;
  }
  return true;
}

/** Named ranges people write in trust lists, as proxy-addr and Express accept them. */
const NAMED_RANGES: Record<string, string[]> = {
  loopback: ["127.0.0.0/8", "::1/128"],
  linklocal: ["169.254.0.0/16", "fe80::/10"],
  uniquelocal: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
};

/**
 * Compiles a list of trusted proxies (`"10.0.0.0/8"`, `"203.0.113.7"`, `"loopback"`) into a
 * predicate. Throws on an entry that is not an address or CIDR: a typo in a trust list must stop
 * start-up, not silently trust nobody (or everybody).
 *
 * @example
 * const trusted = compileTrust(["loopback", "10.0.0.0/8"]);
 * trusted("10.1.2.3"); // true
 */
export function compileTrust(list: readonly string[]): (address: string) => boolean {
  const ranges: { network: Uint8Array; bits: number }[] = [];
  for (const entry of list.flatMap((item) => NAMED_RANGES[item] ?? [item])) {
    const [ip = "", prefix] = entry.split("/");
    const network = parseIp(ip);
    const max = network?.length === 4 ? 32 : 128;
    const bits = prefix === undefined ? max : Number(prefix);
    if (!network || !Number.isInteger(bits) || bits < 0 || bits > max) {
      throw new TypeError(`trustProxy: ${JSON.stringify(entry)} is not an IP address or CIDR range`);
    }
    ranges.push({ network, bits });
  }
  return (address) => {
    const bytes = parseIp(address);
    return bytes !== undefined && ranges.some((range) => prefixMatches(bytes, range.network, range.bits));
  };
}

/**
 * Groups IPv6 addresses by prefix (default /64: one home or VM usually owns a whole /64, so
 * per-address limits would be trivially escaped). IPv4 is returned as is.
 *
 * @example
 * ipSubject("2001:db8:1:2:aaaa::1"); // "2001:db8:1:2::/64"
 */
export function ipSubject(address: string, ipv6Subnet = 64): string | undefined {
  const bytes = parseIp(address);
  if (!bytes) return undefined;
  if (bytes.length === 4 || ipv6Subnet >= 128) return formatIp(bytes);
  const masked = new Uint8Array(16);
  for (let i = 0, bits = ipv6Subnet; i < 16 && bits > 0; i++, bits -= 8) {
    masked[i] = (bytes[i] as number) & (bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff);
  }
  const groups = formatIp(masked)
    .split(":")
    .slice(0, Math.ceil(ipv6Subnet / 16));
  return `${groups.join(":")}::/${ipv6Subnet}`;
}
