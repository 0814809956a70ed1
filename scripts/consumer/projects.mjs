// The consumer projects: each is a fresh npm project outside the workspace that installs the
// packed tarballs the way a user would, plus the framework versions it proves. One project per
// install shape; a project runs every check that fits its shape.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "../packages.mjs";

/** The code blocks of a README whose info string names a file (```ts express.ts). */
export function readmeFiles(path) {
  const files = new Map();
  const fence = /^```\w+ +(\S+)\n([\s\S]*?)^```$/gm;
  for (const [, name, code] of readFileSync(join(root, path), "utf8").matchAll(fence)) files.set(name, code);
  return files;
}

const http = readmeFiles("packages/http/README.md");
const readme = (name) => {
  const code = http.get(name);
  if (!code) throw new Error(`packages/http/README.md has no \`\`\`ts ${name} block`);
  return code;
};

const rootManifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
/** The consumer type-checks with the TypeScript the repository builds with. */
export const typescript = `typescript@${rootManifest.devDependencies.typescript}`;
const nodeTypes = "@types/node@20";

const node16 = {
  compilerOptions: {
    target: "ES2022",
    module: "node16",
    moduleResolution: "node16",
    strict: true,
    skipLibCheck: false,
    rootDir: "src",
    outDir: "dist",
    types: ["node"],
  },
  include: ["src"],
};
const bundler = {
  compilerOptions: {
    target: "ES2022",
    module: "preserve",
    moduleResolution: "bundler",
    strict: true,
    noEmit: true,
    types: ["node"],
  },
  include: ["src"],
};

/**
 * A framework project: the README's examples, type-checked (node16 and bundler), compiled and run.
 * `skipLibCheck` for old framework versions whose own declarations no longer pass today's compiler.
 */
function framework(name, install, examples, { skipLibCheck = false } = {}) {
  const tsconfig = (config, skip = skipLibCheck) =>
    JSON.stringify({ ...config, compilerOptions: { ...config.compilerOptions, skipLibCheck: skip } }, null, 2);
  return {
    name,
    kind: "framework",
    tollgate: ["@tollgate/core", "@tollgate/http"],
    install: [...install, typescript, nodeTypes],
    files: {
      "tsconfig.json": tsconfig(node16),
      // The node16 check reads every declaration file; bundler checks the same imports resolve.
      "tsconfig.bundler.json": tsconfig(bundler, true),
      ...Object.fromEntries(examples.map((file) => [`src/${file}`, readme(file)])),
    },
    examples: examples.map((file) => file.replace(/\.ts$/, ".js")),
  };
}

/**
 * A Next.js app with the README's route handler and, where Next.js runs middleware on Node.js,
 * the README's middleware in front of a plain route; built and started for real. Next.js 16 calls
 * the middleware file `proxy.ts` and always runs it on Node.js (no `runtime` option).
 */
function next(name, install, { middleware } = {}) {
  const middlewareFiles = {
    "middleware.ts": { "middleware.ts": readme("middleware.ts") },
    "proxy.ts": { "proxy.ts": readme("middleware.ts").replace(/, runtime: "nodejs"/, "") },
  }[middleware];
  return {
    middleware: Boolean(middleware),
    name,
    kind: "next",
    tollgate: ["@tollgate/core", "@tollgate/http"],
    install: [...install, typescript, nodeTypes],
    packageType: null,
    files: {
      "app/api/ai/route.ts": readme("app/api/ai/route.ts"),
      ...(middlewareFiles && {
        ...middlewareFiles,
        "app/api/search/route.ts": "export const POST = async () => Response.json({ results: [] });\n",
      }),
      "next.config.mjs": "export default {};\n",
      "tsconfig.json": JSON.stringify(
        {
          compilerOptions: {
            target: "ES2017",
            lib: ["dom", "dom.iterable", "esnext"],
            allowJs: true,
            skipLibCheck: true,
            strict: true,
            noEmit: true,
            esModuleInterop: true,
            module: "esnext",
            moduleResolution: "bundler",
            resolveJsonModule: true,
            isolatedModules: true,
            jsx: "preserve",
            incremental: true,
            plugins: [{ name: "next" }],
          },
          include: ["next-env.d.ts", "**/*.ts", "**/*.tsx", ".next/types/**/*.ts"],
          exclude: ["node_modules"],
        },
        null,
        2,
      ),
    },
  };
}

export const projects = [
  framework("express-4", ["express@4", "@types/express@4"], ["express.ts"]),
  framework("express-5", ["express@5", "@types/express@5"], ["express.ts"]),
  framework("fastify-5", ["fastify@5"], ["fastify.ts"]),
  framework("hono-4", ["hono@4", "@hono/node-server"], ["hono.ts"]),
  // The lowest version of every framework range @tollgate/http declares, in one project, with the
  // @hono/node-server major of Hono 4.0's time. Hono 4.0.0's own declarations fail TypeScript 5.9
  // (duplicate identifier), so libraries are not re-checked here; the latest versions above are.
  framework(
    "peer-floors",
    ["express@4.17.0", "@types/express@4", "fastify@5.0.0", "hono@4.0.0", "@hono/node-server@1"],
    ["express.ts", "fastify.ts", "hono.ts"],
    { skipLibCheck: true },
  ),
  next("next-14", ["next@14", "react@18", "react-dom@18", "@types/react@18"]),
  next("next-15", ["next@15", "react@19", "react-dom@19", "@types/react@19"], { middleware: "middleware.ts" }),
  next("next-16", ["next@16", "react@19", "react-dom@19", "@types/react@19"], { middleware: "proxy.ts" }),
  // Every package and subpath: ESM import, CommonJS require, TypeScript node16 / bundler / CJS.
  { name: "modules", kind: "modules", tollgate: "all", install: [typescript, nodeTypes] },
  // @tollgate/core/testing at both ends of its optional peer ranges (vitest >=2, fast-check >=3).
  {
    name: "conformance-floor",
    kind: "conformance",
    tollgate: ["@tollgate/core"],
    install: ["vitest@2", "fast-check@3"],
  },
  { name: "conformance-latest", kind: "conformance", tollgate: ["@tollgate/core"], install: ["vitest", "fast-check"] },
  // The server alone, as `npm install @tollgate/server && npx tollgate serve`.
  { name: "server", kind: "server", tollgate: ["@tollgate/server"], install: [] },
];
