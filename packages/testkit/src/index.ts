export { findBinary, freePort, missing } from "./binaries.js";
