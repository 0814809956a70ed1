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
export async function run(client: Redis | Cluster, s: Script, keys: string[], args: string[]): Promise<unknown> {
  try {
    return await client.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith("NOSCRIPT")) {
      return client.eval(s.source, keys.length, ...keys, ...args);
    }
    throw error;
  }
}
