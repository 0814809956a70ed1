import { readFileSync } from "node:fs";
import { PROBLEM_TYPE_BASE, problemKind } from "@tollgate/core";
import { describe, expect, it } from "vitest";

/**
 * Clients in other languages cannot import core's catalogue; this keeps their copies honest.
 * The Python FastAPI dependency answers denials with (status, type, title) triples.
 */
describe("problem types outside TypeScript use the catalogue", () => {
  it("clients/python tollgate.fastapi: every type is catalogued, with the catalogue's status and title", () => {
    const source = readFileSync(new URL("../../../clients/python/src/tollgate/fastapi.py", import.meta.url), "utf8");
    expect(source).toContain(`_TYPES = "${PROBLEM_TYPE_BASE}"`);
    const triples = [...source.matchAll(/\((\d{3}), _TYPES \+ "([a-z-]+)", "([^"]+)"\)/g)];
    expect(triples.length).toBeGreaterThanOrEqual(8);
    for (const [, status, name, title] of triples) {
      const kind = problemKind(name as string);
      expect(kind, `${name} is not in the catalogue`).toBeDefined();
      expect({ name, status: Number(status), title }).toEqual({ name, status: kind?.status, title: kind?.title });
    }
    expect(source).not.toMatch(/"retry-after"\]|problem\["retry-after"\]|violated-policies/);
  });
});
