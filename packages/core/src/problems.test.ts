import { describe, expect, it } from "vitest";
import { PROBLEM_KINDS, PROBLEM_MEMBERS, PROBLEM_TYPE_BASE, PROBLEMS, problemKind, problemOf } from "./problems.js";

describe("problem catalogue", () => {
  it("one type per kind: names and type URIs are unique, URIs sit under the documented base", () => {
    const names = PROBLEM_KINDS.map((k) => k.name);
    expect(new Set(names).size).toBe(names.length);
    for (const kind of PROBLEM_KINDS) {
      expect(kind.type).toBe(`${PROBLEM_TYPE_BASE}${kind.name}`);
      expect(kind.name).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(kind.status).toBeGreaterThanOrEqual(400);
      expect(kind.description.length).toBeGreaterThan(20);
    }
  });

  it("extension members are camelCase and each is defined once", () => {
    for (const member of Object.keys(PROBLEM_MEMBERS)) expect(member).toMatch(/^[a-z][A-Za-z]*$/);
    for (const kind of PROBLEM_KINDS) for (const m of kind.members) expect(PROBLEM_MEMBERS).toHaveProperty(m);
  });

  it("rate and quota denials are told apart by type, not by status", () => {
    expect(PROBLEMS.rateLimited.status).toBe(PROBLEMS.quotaExceeded.status);
    expect(PROBLEMS.rateLimited.type).not.toBe(PROBLEMS.quotaExceeded.type);
  });

  it("problemOf builds the document; problemKind finds a kind by URI or name", () => {
    expect(problemOf(PROBLEMS.notFound, "No key k1.", { field: "id" })).toEqual({
      type: "https://tollgate.dev/problems/not-found",
      title: "Not found",
      status: 404,
      detail: "No key k1.",
      field: "id",
    });
    expect(problemKind(PROBLEMS.conflict.type)).toBe(PROBLEMS.conflict);
    expect(problemKind("conflict")).toBe(PROBLEMS.conflict);
    expect(problemKind("https://example.com/x")).toBeUndefined();
  });
});
