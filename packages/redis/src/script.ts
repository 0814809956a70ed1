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
export async function runBuffer(client: Redis | Cluster, s: Script, keys: string[], args: string[]): Promise<Buffer> {
  try {
    return (await client.callBuffer("evalsha", [s.sha, keys.length, ...keys, ...args])) as Buffer;
  } catch (error) {
    if (isNoScript(error))
      return (await client.callBuffer("eval", [s.source, keys.length, ...keys, ...args])) as Buffer;
    throw error;
  }
}

const isNoScript = (error: unknown) => error instanceof Error && error.message.startsWith("NOSCRIPT");
