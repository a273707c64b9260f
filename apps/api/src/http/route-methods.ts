/**
 * Which methods the API answers on a concrete path. Fastify's router only says "no route", which would make
 * `PUT /jobs` a 404 as if /jobs did not exist; with this a wrong method is a 405 that names the right ones.
 */
export class RouteMethods {
  private readonly routes = new Map<string, { pattern: RegExp; methods: Set<string> }>();

  add(url: string, method: string | string[]): void {
    // A catch-all (CORS answers OPTIONS on every path) would make every unknown path look like a known one.
    if (url === '*' || url === '/*') return;
    const entry = this.routes.get(url) ?? { pattern: toPattern(url), methods: new Set<string>() };
    for (const m of Array.isArray(method) ? method : [method]) entry.methods.add(m.toUpperCase());
    this.routes.set(url, entry);
  }

  /** The methods some route takes on this path (without its query string); empty when no route matches it. */
  allowed(path: string): string[] {
    const methods = new Set<string>();
    for (const { pattern, methods: own } of this.routes.values())
      if (pattern.test(path)) for (const m of own) methods.add(m);
    return [...methods].sort();
  }
}

/** find-my-way's syntax as our routes use it: `:name` is one segment (possibly empty), `*` the rest. */
function toPattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => {
      if (segment.startsWith(':')) return '[^/]*';
      if (segment === '*') return '.*';
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${source}$`);
}
