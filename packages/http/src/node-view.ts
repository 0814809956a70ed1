import type { IncomingMessage } from "node:http";
import type { RequestView } from "./gate.js";

/** The request view of a Node `IncomingMessage` (Express and Fastify both sit on one). */
export function nodeView(req: IncomingMessage): RequestView {
  return {
    header(name) {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(", ") : value;
    },
    remoteAddress: req.socket?.remoteAddress,
  };
}
