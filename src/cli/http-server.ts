// The binary's HTTP side (node:http only): the status page at /, /status as JSON,
// /metrics for Prometheus, and the probes /healthz and /readyz. WebSocket upgrades (/ws)
// are left to the client signalling, which listens to the same server's 'upgrade' events
// (and checks its own tokens).
import { createHash, timingSafeEqual } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface HttpRoutes {
  /** Prometheus text and its content type. */
  metrics: () => Promise<{ contentType: string, body: string }>
  /** JSON-able status (it may be gathered over the swarm first). */
  status: () => unknown
  /** The status page (a complete HTML document; it holds no data, so it needs no token). */
  page: string
  /**
   * /healthz and /readyz: 200 when `ok`, 503 otherwise, with the report as JSON. No token:
   * orchestrators' probes usually cannot send one, and the reports hold no peer id,
   * address or producer, only check names, counts and short texts.
   */
  health: () => ProbeReport
  readiness: () => ProbeReport
  /** Bearer token /status and /metrics ask for (`Authorization: Bearer <token>`); undefined: none. */
  token?: string
}

/** What a probe answers (SwarmNode.health() and readiness() are such reports). */
export interface ProbeReport {
  ok: boolean
  failed: string[]
  checks: Record<string, { ok: boolean, detail: string }>
}

/** Compares digests, so the time taken says nothing about the token. */
function tokenMatches (header: string | undefined, token: string): boolean {
  const given = /^Bearer +(\S+)\s*$/i.exec(header ?? '')?.[1]
  if (given === undefined) return false
  const digest = (v: string): Buffer => createHash('sha256').update(v).digest()
  return timingSafeEqual(digest(given), digest(token))
}

/** The page is self-contained: it may run its inline script and fetch /status, nothing else. */
const PAGE_POLICY = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:"

export function createHttpServer (routes: HttpRoutes): http.Server {
  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end()
      return
    }
    const send = (status: number, type: string, body: string, headers: http.OutgoingHttpHeaders = {}): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers })
      res.end(req.method === 'HEAD' ? undefined : body)
    }
    if ((path === '/status' || path === '/metrics') && routes.token !== undefined && !tokenMatches(req.headers.authorization, routes.token)) {
      send(401, 'text/plain', 'a bearer token is needed: Authorization: Bearer <token>\n', { 'www-authenticate': 'Bearer' })
      return
    }
    switch (path) {
      case '/':
        send(200, 'text/html; charset=utf-8', routes.page, { 'content-security-policy': PAGE_POLICY })
        return
      case '/status':
        Promise.resolve().then(routes.status).then(
          (status) => send(200, 'application/json', JSON.stringify(status, null, 2)),
          (err: Error) => send(500, 'text/plain', `status failed: ${err.message}\n`))
        return
      case '/healthz':
      case '/readyz': {
        const report = path === '/healthz' ? routes.health() : routes.readiness()
        send(report.ok ? 200 : 503, 'application/json', `${JSON.stringify({ status: report.ok ? 'ok' : 'fail', ...report })}\n`)
        return
      }
      case '/metrics':
        routes.metrics().then(
          ({ contentType, body }) => send(200, contentType, body),
          (err: Error) => send(500, 'text/plain', `metrics failed: ${err.message}\n`))
        return
      default:
        send(404, 'text/plain', 'not found: try /, /status, /metrics, /healthz or /readyz\n')
    }
  })
}

/** Listens; resolves with the base URL (no trailing slash), rejects with the socket error. */
export async function listen (server: http.Server, host: string, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err)
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
}
