/**
 * @tollgate/server: the Tollgate HTTP service (decision API, admin API, operations) and the
 * `tollgate` CLI.
 *
 * @example
 * import { createServer, loadConfig } from "@tollgate/server";
 * const { config } = loadConfig({ file: "tollgate.yaml" });
 * const server = await createServer({ config });
 * await server.app.listen({ port: config.server.port, host: config.server.host });
 */

export { sqlDeliveryLog } from "./alerting.js";
export { type CreateServerOptions, createServer, type TollgateServer } from "./app.js";
export { exampleConfig } from "./config/example.js";
export { ConfigLoadError, type ConfigProblem, type LoadedConfig, type LoadOptions, loadConfig } from "./config/load.js";
export { configSchema, type ServerConfig, type ServerConfigInput } from "./config/schema.js";
