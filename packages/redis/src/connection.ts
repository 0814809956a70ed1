import { Cluster, Redis, type RedisOptions } from "ioredis";

export interface ConnectionOptions {
  client?: Redis | Cluster;
  url?: string;
  nodes?: string[];
  onError?: (error: Error) => void;
}

/**
 * Fail fast, reconnect forever: with no offline queue a command during an outage is rejected at
 * once (core's limiter then applies failMode, the breaker and the fallback) instead of piling up
 * in memory; reconnection retries every 50-500 ms so a restarted Redis is used again within a second.
 */
const FAIL_FAST: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 1_000,
  retryStrategy: (times) => Math.min(50 * times, 500),
};

export interface Connection {
  client: Redis | Cluster;
  cluster: boolean;
  /** We created the client, so we close it. */
  owned: boolean;
  /**
   * Resolves once the client has been ready once (the first commands wait for the handshake);
   * undefined when it has been already, so the hot path skips an await.
   */
  ready(): Promise<void> | undefined;
}

function parseNode(node: string): { host: string; port: number } {
  const at = node.lastIndexOf(":");
  const host = at > 0 ? node.slice(0, at) : node;
  const port = at > 0 ? Number(node.slice(at + 1)) : 6379;
  if (!Number.isInteger(port) || port <= 0 || port > 65_535) {
    throw new TypeError(`redisStore: cluster node must be "host:port" (got ${JSON.stringify(node)})`);
  }
  return { host, port };
}

export function connect(options: ConnectionOptions): Connection {
  let client: Redis | Cluster;
  let owned = true;
  if (options.client) {
    client = options.client;
    owned = false;
  } else if (options.nodes && options.nodes.length > 0) {
    client = new Cluster(options.nodes.map(parseNode), {
      enableOfflineQueue: false,
      redisOptions: FAIL_FAST,
      clusterRetryStrategy: (times) => Math.min(100 * times, 1_000),
      slotsRefreshTimeout: 1_000,
    });
  } else {
    client = new Redis(options.url ?? "redis://127.0.0.1:6379", FAIL_FAST);
  }
  // An 'error' event with no listener is printed by ioredis; errors reach callers as rejections.
  if (owned) client.on("error", options.onError ?? (() => {}));
  const cluster = (client as { isCluster?: boolean }).isCluster === true;

  let wasReady = client.status === "ready";
  let waiting: Promise<void> | undefined;
  return {
    client,
    cluster,
    owned,
    ready() {
      if (wasReady) return undefined;
      if (client.status === "ready") {
        wasReady = true;
        return undefined;
      }
      waiting ??= new Promise<void>((resolve) => {
        client.once("ready", () => {
          wasReady = true;
          resolve();
        });
      });
      return waiting;
    },
  };
}
