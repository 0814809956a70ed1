import { clientAddress, compileTrust, ipSubject, parseForwarded, parseIp } from "@tollgate/http";
import { describe, expect, it } from "vitest";
import { cachedIpSubject } from "../src/ip-cache.js";

const source = (remoteAddress: string | undefined, headers: Record<string, string> = {}) => ({
  remoteAddress,
  header: (name: string) => headers[name],
});

describe("client address", () => {
  it("ignores forwarding headers without trust", () => {
    expect(clientAddress()(source("203.0.113.1", { "x-forwarded-for": "1.1.1.1" }))).toBe("203.0.113.1");
  });
  it("walks trusted hops from the socket towards the client", () => {
    const resolve = clientAddress(["10.0.0.0/8", "loopback"]);
    expect(resolve(source("10.0.0.2", { "x-forwarded-for": "6.6.6.6, 198.51.100.4, 10.0.0.9" }))).toBe("198.51.100.4");
    expect(resolve(source("203.0.113.1", { "x-forwarded-for": "6.6.6.6" }))).toBe("203.0.113.1");
    expect(clientAddress(1)(source("10.0.0.2", { "x-forwarded-for": "6.6.6.6, 198.51.100.4" }))).toBe("198.51.100.4");
  });
  it("prefers Forwarded (RFC 7239), with quoted IPv6 and ports", () => {
    expect(parseForwarded('for=192.0.2.60;proto=http, for="[2001:db8::1]:4711"')).toEqual([
      "192.0.2.60",
      "[2001:db8::1]:4711",
    ]);
    const resolve = clientAddress(["127.0.0.1"]);
    expect(resolve(source("127.0.0.1", { forwarded: 'for="[2001:db8::1]:4711"' }))).toBe("[2001:db8::1]:4711");
  });
  it("rejects a malformed trust list at start-up", () => {
    expect(() => compileTrust(["10.0.0.0/33"])).toThrow(/trustProxy/);
    expect(() => compileTrust(["proxy.local"])).toThrow(/trustProxy/);
  });
});

describe("ip subjects", () => {
  it("groups IPv6 by /64 and folds IPv4-mapped addresses", () => {
    expect(ipSubject("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(ipSubject("[2001:db8:1:2::1]:443")).toBe("2001:db8:1:2::/64");
    expect(ipSubject("2001:db8::1", 128)).toBe("2001:db8:0:0:0:0:0:1");
    expect(ipSubject("::ffff:198.51.100.7")).toBe("198.51.100.7");
    expect(ipSubject("198.51.100.7:8080")).toBe("198.51.100.7");
    expect(ipSubject("not an ip")).toBeUndefined();
    expect(parseIp("fe80::1%eth0")?.length).toBe(16);
  });

  it("memoises subjects, unparseable addresses included, with the same answers", () => {
    const subjectOf = cachedIpSubject(48);
    for (const address of ["2001:db8:1:2::1", "::ffff:198.51.100.7", "not an ip", "2001:db8:1:2::1", "not an ip"]) {
      expect(subjectOf(address)).toBe(ipSubject(address, 48));
    }
    for (let i = 0; i < 5000; i++) expect(subjectOf(`10.0.${i >> 8}.${i & 255}`)).toBe(`10.0.${i >> 8}.${i & 255}`);
  });
});
