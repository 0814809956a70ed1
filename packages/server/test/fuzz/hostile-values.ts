import type { Random } from "./random.js";

/**
 * Values that have broken servers before: wrong types, extremes, NUL and odd Unicode, prototype
 * keys, injection-shaped strings, oversize strings. Field mutations draw from these.
 */
export const HOSTILE_VALUES: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  -0,
  2 ** 53 + 1,
  1e308,
  -1e308,
  Number.MAX_SAFE_INTEGER,
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "\udfff",
  "x\ud83d",
  "😀".repeat(50),
  "\u202e\u0645\u0631\u062d\u0628\u0627",
  "Zalgo\u0301\u0302\u0303\u0304",
  "\ufeffbom",
  "line\nbreak\r\n",
  "'; DROP TABLE api_keys; --",
  "$(reboot)",
  "../../../../etc/passwd",
  "%00",
  "%ff%fe",
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "user:",
  ":",
  "key:",
  "org:acme",
  "1e999",
  "NaN",
  "Infinity",
  "true",
  "null",
  "<script>alert(1)</script>",
  "x".repeat(257),
  "y".repeat(10_000),
  [],
  [null],
  [1, 2, 3],
  ["a", "\u0000"],
  {},
  { user: "u" },
  { __proto__: { polluted: true } },
  { constructor: { prototype: { polluted: true } } },
];

/** One hostile value; sometimes a freshly made oversize or random-codepoint string. */
export function hostileValue(random: Random): unknown {
  const roll = random.int(20);
  if (roll === 0) return randomText(random, 1 + random.int(40));
  if (roll === 1) return "z".repeat(1 + random.int(20_000));
  return random.pick(HOSTILE_VALUES);
}

/** A string of random code units across the whole UTF-16 range (lone surrogates included). */
export function randomText(random: Random, length: number): string {
  let text = "";
  for (let i = 0; i < length; i++) {
    const band = random.int(4);
    const code =
      band === 0
        ? random.int(0x20)
        : band === 1
          ? 0x20 + random.int(0x5f)
          : band === 2
            ? 0xd800 + random.int(0x800)
            : random.int(0x10000);
    text += String.fromCharCode(code);
  }
  return text;
}

/** A JSON text that does not parse, or parses to something no route accepts. */
export const BAD_JSON_TEXTS = [
  "{",
  "}",
  '{"a":}',
  '{"a":1,}',
  "[1,2",
  "{'single':'quotes'}",
  '{"subject":{"user":"u"}} trailing',
  "nul\u0000l",
  "undefined",
  "NaN",
  "1e999",
  '"just a string"',
  "42",
  "null",
  "[]",
  "true",
  '{"__proto__":{"admin":true}}',
  '{"constructor":{"prototype":{"admin":true}}}',
  '{"a":"\\ud800"}',
  '{"a":"\\u0000"}',
  "\ufeff{}",
  `${"[".repeat(5000)}${"]".repeat(5000)}`,
  `{"a":${"1".repeat(400)}}`,
];
