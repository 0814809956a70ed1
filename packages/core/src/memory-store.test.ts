import { memoryStore } from "./memory-store.js";
import { describeStoreConformance } from "./testing/index.js";

describeStoreConformance({ name: "memory", create: (clock) => memoryStore({ clock }) });
describeStoreConformance({
  name: "memory with a tiny key cap and eager sweeping",
  // Eviction may only forget counters that a decision does not need right now; with a cap above
  // the scenario's live counters the answers must not change.
  create: (clock) => memoryStore({ clock, maxKeys: 40, sweepPerOperation: 50 }),
  runsScale: 0.2,
});
