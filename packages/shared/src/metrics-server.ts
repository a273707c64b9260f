import { createServer, type Server } from 'node:http';

/** What a Prometheus registry offers (prom-client's Registry fits), so this package needs no prom-client. */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

/**
 * GET /metrics on a listener of its own: the API's public port never exposes it, and each
 * process is scraped where it runs. Loopback by default; a scraper elsewhere needs the host set.
 */
export function serveMetrics(source: MetricsSource, port: number, host = '127.0.0.1'): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    source
      .metrics()
      .then((body) => res.writeHead(200, { 'content-type': source.contentType }).end(body))
      .catch(() => res.writeHead(500).end());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
