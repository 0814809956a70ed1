import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDb } from "@tollgate/db";
import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("embedded PGlite: a small single-user database's settings, initdb out of process", () => {
  it("a new data directory is created (by a child process) and reopened with the embedded settings", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "tollgate-pglite-")), "data");
    dirs.push(dir);
    const first = await openDb({ dir });
    expect(existsSync(join(dir, "PG_VERSION"))).toBe(true);
    const shown = await sql<{ shared_buffers: string }>`show shared_buffers`.execute(first.kysely);
    expect(shown.rows[0]?.shared_buffers).toBe("16MB");
    await sql`create table kept (v int)`.execute(first.kysely);
    await sql`insert into kept values (42)`.execute(first.kysely);
    await first.close();
    const again = await openDb({ dir });
    const kept = await sql<{ v: number }>`select v from kept`.execute(again.kysely);
    expect(kept.rows).toEqual([{ v: 42 }]);
    const work = await sql<{ work_mem: string }>`show work_mem`.execute(again.kysely);
    expect(work.rows[0]?.work_mem).toBe("1MB");
    await again.close();
  }, 300_000);
});
