import { createHash } from "node:crypto";
import type { Cluster, Redis } from "ioredis";

/** A Lua script kept as a TypeScript string, called by its SHA1. */
export interface Script {
  readonly source: string;
  readonly sha: string;
}

export function script(source: string): Script {
  return { source, sha: createHash("sha1").update(source).digest("hex") };
}

/**
 * EVALSHA, and on NOSCRIPT (a restarted or new node has an empty script cache) one EVAL, which
 * also caches the script there. On a cluster ioredis routes by the first key's slot.
 */
export async function run(
  client: Redis | Cluster,
  s: Script,
  keys: string[],
  args: (string | Buffer)[],
): Promise<unknown> {
  try {
    return await client.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (isNoScript(error)) return client.eval(s.source, keys.length, ...keys, ...args);
    throw error;
  }
}

/** As `run`, for a script answering binary: the reply is a Buffer. */
export async function runBuffer(
  client: Redis | Cluster,
  s: Script,
  keys: string[],
  args: (string | Buffer)[],
): Promise<Buffer> {
  const argv: (string | number | Buffer)[] = [s.sha, keys.length];
  for (const key of keys) argv.push(key);
  for (const arg of args) argv.push(arg);
  try {
    return (await client.callBuffer("evalsha", argv)) as Buffer;
  } catch (error) {
    if (!isNoScript(error)) throw error;
    argv[0] = s.source;
    return (await client.callBuffer("eval", argv)) as Buffer;
  }
}

const isNoScript = (error: unknown) => error instanceof Error && error.message.startsWith("NOSCRIPT");
