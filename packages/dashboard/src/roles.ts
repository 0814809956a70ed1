import type { Role } from "./types.js";

const RANK: Record<Role, number> = { admin: 3, operator: 2, readonly: 1 };

/** Whether `role` may do what needs `needed` (admin > operator > readonly), as the server decides. */
export const can = (role: Role, needed: Role) => RANK[role] >= RANK[needed];
