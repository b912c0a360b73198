/**
 * The route patterns of the app and their methods, so that a known path asked with
 * another method is answered 405 with `Allow` (as Starlette does), not 404. Fastify's
 * router answers both with its not-found handler.
 */
export class KnownPaths {
  readonly #routes: { pattern: RegExp; methods: Set<string> }[] = [];
  readonly #byUrl = new Map<string, Set<string>>();

  add(url: string, method: string | string[]): void {
    let methods = this.#byUrl.get(url);
    if (!methods) {
      methods = new Set();
      this.#byUrl.set(url, methods);
      this.#routes.push({ pattern: patternOf(url), methods });
    }
    for (const m of Array.isArray(method) ? method : [method]) methods.add(m.toUpperCase());
  }

  /** The methods served at this request URL (query and trailing slash ignored); [] if none. */
  methodsOf(requestUrl: string): string[] {
    let path = requestUrl.split("?")[0] ?? "";
    if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
    const found = new Set<string>();
    for (const route of this.#routes) {
      if (route.pattern.test(path)) for (const m of route.methods) found.add(m);
    }
    return [...found].sort();
  }
}

/** `/api/jobs/:job_id` → a regular expression of the paths it serves. */
function patternOf(url: string): RegExp {
  const parts = url.split("/").map((segment) => {
    if (segment === "*") return ".*";
    if (segment.startsWith(":")) return "[^/]+";
    return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  });
  return new RegExp(`^${parts.join("/")}$`);
}
