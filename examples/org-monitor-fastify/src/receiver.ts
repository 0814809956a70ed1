// A local alert receiver: verifies each webhook's signature and prints the alert. Stands in for
// your alerting endpoint while you try the example (`npm run receiver`).
import { createServer, type Server } from "node:http";
import { type AlertEvent, verifySignature } from "@tollgate/alerts";

export interface ReceivedAlert {
  delivery: string;
  verified: boolean;
  event: AlertEvent;
}

/** Listens on `port` (0: any free one) and calls `onAlert` for each delivery; answers 401 to a bad signature. */
export function startAlertReceiver(
  secret: string,
  onAlert: (alert: ReceivedAlert) => void,
  port = 9099,
): Promise<Server> {
  const server = createServer((request, response) => {
    let raw = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => {
      raw += chunk;
    });
    request.on("end", () => {
      // Verify against the raw body, before parsing it.
      const verified = verifySignature(secret, raw, String(request.headers["x-tollgate-signature"] ?? ""));
      if (verified) {
        onAlert({ delivery: String(request.headers["x-tollgate-delivery"]), verified, event: JSON.parse(raw) });
      }
      response.statusCode = verified ? 204 : 401;
      response.end();
    });
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}
