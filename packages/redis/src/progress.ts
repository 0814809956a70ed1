import type { Cluster, Redis } from "ioredis";

/** A node's last sign of life, `performance.now()` ms. */
interface Mark {
  at: number;
}

const NEVER = Number.NEGATIVE_INFINITY;

/**
 * When each Redis node last sent us bytes (any reply), read off the sockets. The limiter's
 * deadline asks it before failing a call: a node that keeps replying is alive and working through
 * our requests (a queue, a call's second round trip), so only a silent node times out.
 *
 * One listener per connection, added on every (re)connect; the mark is a field write per socket
 * read, not per command. Keys: `host:port` as in the cluster's slot map; a single-node store has
 * one mark for everything.
 */
export class ReplyClock {
  private readonly marks = new Map<string, Mark>();
  private readonly single: Mark = { at: NEVER };

  constructor(
    client: Redis | Cluster,
    private readonly cluster: boolean,
  ) {
    if (!cluster) {
      this.watch(client as Redis, this.single);
      return;
    }
    const nodes = client as Cluster;
    for (const node of nodes.nodes("all")) this.watchNode(node);
    nodes.on("+node", (node: Redis) => this.watchNode(node));
  }

  /** When `node` last replied; the store's name or "cluster" (no slot map yet): the latest of all. */
  lastReplyAt(node: string): number {
    if (!this.cluster) return this.single.at;
    const mark = this.marks.get(node);
    if (mark !== undefined) return mark.at;
    let latest = NEVER;
    for (const m of this.marks.values()) latest = Math.max(latest, m.at);
    return latest;
  }

  private watchNode(node: Redis) {
    const key = `${node.options.host}:${node.options.port}`;
    let mark = this.marks.get(key);
    if (mark === undefined) {
      mark = { at: NEVER };
      this.marks.set(key, mark);
    }
    this.watch(node, mark);
  }

  private watch(redis: Redis, mark: Mark) {
    let watched: NodeJS.EventEmitter | undefined;
    const listen = () => {
      const stream = (redis as unknown as { stream?: NodeJS.EventEmitter }).stream;
      if (stream === undefined || stream === watched) return;
      watched = stream;
      stream.on("data", () => {
        mark.at = performance.now();
      });
    };
    // The socket is replaced on every reconnect: listen on each new one.
    listen();
    redis.on("connect", listen);
  }
}
