import { missing, type RedisServer, redisServerBinary, startRedis } from "@tollgate/testkit";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeDecideItem } from "../src/batch-codec.js";
import * as wire from "../src/wire.js";
import { DECIDE_ITEM, RecordWriter, type WireRecord } from "../src/wire.js";

const skip = missing(redisServerBinary, "redis-server");

type AnyRecord = WireRecord<Record<string, "u8" | "u16" | "f64" | "char" | "str8" | "str16" | "str32">>;

/** Values of the right type for every field of a record, distinct per field. */
function sample(rec: AnyRecord): Record<string, string | number> {
  const values: Record<string, string | number> = {};
  Object.entries(rec.fields).forEach(([name, type], i) => {
    if (type === "char") values[name] = "q";
    else if (type.startsWith("str")) values[name] = `${name}-é-{}:${i}`;
    else if (type === "f64") values[name] = 1_700_000_000_000.25 + i;
    else values[name] = i + 1;
  });
  return values;
}

const records = Object.entries(wire).filter(([, value]) => value instanceof wire.WireRecord) as [string, AnyRecord][];

describe.skipIf(skip)("wire format: what TypeScript writes, Lua reads under the same names", () => {
  let redis: RedisServer;
  let client: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  it.each(records)("%s round-trips through its Lua unpack line", async (_name, rec) => {
    const values = sample(rec);
    const bytes = new RecordWriter().add(rec, values as never).finish();
    // The script reads the record with the line the scripts use, then answers name=value pairs.
    const names = Object.keys(rec.fields);
    const lua = `local input = ARGV[1]
local pos = 1
${rec.unpack("input")}
if pos ~= #input + 1 then return redis.error_reply('left ' .. (#input + 1 - pos) .. ' bytes') end
local function show(x) if type(x) == 'number' then return string.format('%.17g', x) end return x end
return { ${names.map((name) => `'${name}', show(${name})`).join(", ")} }`;
    const reply = (await client.eval(lua, 0, bytes)) as string[];
    const read: Record<string, string> = {};
    for (let i = 0; i < reply.length; i += 2) read[reply[i] as string] = reply[i + 1] as string;
    const expected: Record<string, string> = {};
    for (const name of names) expected[name] = String(values[name]);
    // every double exactly (printed with 17 significant digits)
    for (const name of names) if (typeof values[name] === "number") read[name] = String(Number(read[name]));
    expect(read).toEqual(expected);
  });

  it("the hot path's unrolled DECIDE_ITEM writer writes what DECIDE_ITEM.write does", () => {
    for (const item of [
      { key: 1, limitIndex: 1, cost: 1, field: "AAAAAAAAAAAAAAAAAAAAAA", lease: "" },
      { key: 65_535, limitIndex: 300, cost: 0.5, field: "x", lease: "lease-é-42" },
    ]) {
      const generic = Buffer.alloc(DECIDE_ITEM.size(item));
      const unrolled = Buffer.alloc(generic.length);
      expect(DECIDE_ITEM.write(generic, 0, item)).toBe(generic.length);
      expect(writeDecideItem(unrolled, 0, item)).toBe(generic.length);
      expect(unrolled.equals(generic)).toBe(true);
    }
  });

  it("a string longer than its length field allows is refused, naming the field", () => {
    const item = { key: 1, limitIndex: 1, cost: 1, field: "f", lease: "x".repeat(70_000) };
    expect(() => new RecordWriter().add(DECIDE_ITEM, item).finish()).toThrow(/lease is too long/);
  });
});
