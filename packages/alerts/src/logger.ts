/** The logging calls alerts make: pino's signature, so a pino logger fits as is. */
export interface AlertLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

/** One JSON line per call on stderr, for apps that embed alerts without a logger. */
export const consoleLogger: AlertLogger = {
  info: (object, message) => process.stderr.write(`${JSON.stringify({ level: "info", msg: message, ...object })}\n`),
  warn: (object, message) => process.stderr.write(`${JSON.stringify({ level: "warn", msg: message, ...object })}\n`),
  error: (object, message) => process.stderr.write(`${JSON.stringify({ level: "error", msg: message, ...object })}\n`),
};

export const silentLogger: AlertLogger = { info() {}, warn() {}, error() {} };
