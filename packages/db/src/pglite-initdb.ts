// Child process of initDataDirInChild: creates a PGlite data directory, then exits (and with it,
// the memory initdb grew). argv: dir.
import { createPGlite } from "./pglite.js";

const dir = process.argv[2];
if (dir === undefined) throw new Error("usage: pglite-initdb <dir>");
const pglite = await createPGlite(dir);
await pglite.close();
