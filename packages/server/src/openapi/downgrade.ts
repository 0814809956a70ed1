// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is plain JSON walked by key
type Json = any;

/** Keywords whose value is a schema, or a list or map of schemas. */
const SUBSCHEMA = ["items", "additionalProperties", "not"];
const SUBSCHEMA_LISTS = ["anyOf", "oneOf", "allOf"];
const SUBSCHEMA_MAPS = ["properties"];

/** A JSON Schema 2020-12 schema (OpenAPI 3.1) as an OpenAPI 3.0 Schema Object. */
function schema30(input: Json): Json {
  if (!input || typeof input !== "object" || Array.isArray(input)) return input;
  const { $schema: _schema, $id: _id, propertyNames: _names, ...rest } = input;
  const out: Json = { ...rest };
  if ("$ref" in out && Object.keys(out).length > 1) {
    // 3.0 ignores a $ref's siblings: wrap it so a description or default survives.
    const { $ref, ...siblings } = out;
    return schema30({ allOf: [{ $ref }], ...siblings });
  }
  if (Array.isArray(out.type)) {
    const types = out.type.filter((t: string) => t !== "null");
    if (types.length < out.type.length) out.nullable = true;
    if (types.length === 1) out.type = types[0];
    else {
      delete out.type;
      out.anyOf = types.map((type: string) => ({ type }));
    }
  }
  for (const key of SUBSCHEMA_LISTS) {
    if (!Array.isArray(out[key])) continue;
    const nonNull = out[key].filter((s: Json) => s?.type !== "null");
    if (nonNull.length < out[key].length) out.nullable = true;
    if (nonNull.length === 1 && key !== "allOf") {
      delete out[key];
      Object.assign(out, schema30(nonNull[0]));
    } else out[key] = nonNull.map(schema30);
  }
  if ("const" in out) {
    out.enum = [out.const];
    delete out.const;
  }
  for (const bound of ["Minimum", "Maximum"] as const) {
    const exclusive = out[`exclusive${bound}`];
    if (typeof exclusive === "number") {
      out[bound.toLowerCase()] = exclusive;
      out[`exclusive${bound}`] = true;
    }
  }
  if (Array.isArray(out.examples)) {
    if (out.example === undefined && out.examples.length > 0) out.example = out.examples[0];
    delete out.examples;
  }
  for (const key of SUBSCHEMA) if (out[key] && typeof out[key] === "object") out[key] = schema30(out[key]);
  for (const key of SUBSCHEMA_MAPS) {
    if (out[key]) out[key] = Object.fromEntries(Object.entries(out[key]).map(([k, v]) => [k, schema30(v)]));
  }
  return out;
}

/** Rewrites every `schema` under a path item, parameter, media type or header. */
function walk(node: Json): Json {
  if (Array.isArray(node)) return node.map(walk);
  if (!node || typeof node !== "object") return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    // `examples` here is a map of Example Objects (valid in 3.0); only schemas are converted.
    out[key] = key === "schema" ? schema30(value) : walk(value);
  }
  return out;
}

/**
 * The same document as OpenAPI 3.0.3, for client generators that read only 3.0 (Rust's
 * progenitor, Go's oapi-codegen): nullable instead of `type: [.., "null"]`, `enum` for
 * `const`, boolean exclusive bounds, a license URL instead of an SPDX identifier.
 */
export function toOpenApi30(document: Json): Json {
  const { identifier: _identifier, ...license } = document.info?.license ?? {};
  return {
    ...walk(document),
    openapi: "3.0.3",
    info: { ...document.info, license: { ...license, url: "https://opensource.org/licenses/MIT" } },
    components: {
      ...walk(document.components ?? {}),
      schemas: Object.fromEntries(
        Object.entries(document.components?.schemas ?? {}).map(([name, s]) => [name, schema30(s)]),
      ),
    },
  };
}
