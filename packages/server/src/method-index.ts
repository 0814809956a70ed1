/**
 * Which methods serve a path, from the routes as registered: a request with the wrong method
 * on an existing path is answered 405 with `Allow`, not 404.
 */
export class MethodIndex {
  private readonly routes: { pattern: RegExp; methods: Set<string> }[] = [];
  private readonly byUrl = new Map<string, Set<string>>();

  /** Records a route (`/v1/admin/keys/:id`, `/docs/*`) and its methods. */
  add(url: string, methods: string | string[]) {
    let set = this.byUrl.get(url);
    if (!set) {
      set = new Set();
      this.byUrl.set(url, set);
      const source = url
        .split("/")
        .map((segment) =>
          segment === "*" ? ".*" : segment.startsWith(":") ? "[^/]+" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
        )
        .join("/");
      this.routes.push({ pattern: new RegExp(`^${source}$`), methods: set });
    }
    for (const method of Array.isArray(methods) ? methods : [methods]) set.add(method.toUpperCase());
  }

  /** The methods a path accepts, sorted; empty when no route matches it. */
  allowed(path: string): string[] {
    const methods = new Set<string>();
    for (const route of this.routes) if (route.pattern.test(path)) for (const m of route.methods) methods.add(m);
    return [...methods].sort();
  }
}
