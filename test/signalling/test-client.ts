// A raw WebSocket client of the client signalling for tests, and assertions on its replies.
import assert from 'node:assert/strict'
import { WebSocket } from 'ws'
import type { ClientMethod, ErrorReply, Notification, Reply, RequestDataMap, SignallingErrorName } from '../../src/signalling/index.js'

export type NotificationData = { [N in Notification as N['notification']]: N['data'] }

/** A raw WebSocket client speaking the protocol, for tests that send anything at all. */
export class TestClient {
  private nextId = 1
  private readonly waiting = new Map<number | string | null, (reply: Reply) => void>()
  readonly notifications: Notification[] = []
  readonly closed: Promise<{ code: number, reason: string }>

  private constructor (readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as Reply | Notification
      if ('notification' in message) {
        this.notifications.push(message)
        return
      }
      const resolve = this.waiting.get(message.id)
      this.waiting.delete(message.id)
      resolve?.(message)
    })
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  }

  /** Resolves once open, or rejects with the close code and reason if the server refuses. */
  static async open (url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<TestClient> {
    const ws = new WebSocket(url, options)
    const client = new TestClient(ws)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => {
        // A refusal arrives as a close right after the upgrade: give it a moment to show.
        setTimeout(() => ws.readyState === WebSocket.OPEN ? resolve() : reject(new Error('closed')), 50)
      })
      ws.once('error', reject)
      void client.closed.then(({ code, reason }) => reject(Object.assign(new Error(`closed ${code} ${reason}`), { code, reason })))
    })
    return client
  }

  /** Sends a raw text frame and waits for the reply with `id` (null for unreadable ids). */
  async raw (text: string | Buffer, id: number | string | null = null): Promise<Reply> {
    const reply = new Promise<Reply>((resolve) => this.waiting.set(id, resolve))
    this.ws.send(text)
    return await reply
  }

  async request<M extends ClientMethod> (method: M, data: RequestDataMap[M] | Record<string, unknown>): Promise<Reply> {
    const id = this.nextId++
    return await this.raw(JSON.stringify({ id, method, data }), id)
  }

  /** request() that must succeed; returns its data. */
  async ok (method: ClientMethod, data: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const reply = await this.request(method, data)
    if (!reply.ok) throw new Error(`${method} failed: ${reply.error.name}: ${reply.error.message}`)
    return reply.data as unknown as Record<string, unknown>
  }

  /** Resolves with the next notification named `name` not taken before (waits up to `timeoutMs`). */
  async next<N extends keyof NotificationData> (name: N, timeoutMs = 5000): Promise<NotificationData[N]> {
    await until(() => this.notifications.some((n) => n.notification === name), timeoutMs)
    const index = this.notifications.findIndex((n) => n.notification === name)
    return this.notifications.splice(index, 1)[0]!.data as NotificationData[N]
  }

  close (): void {
    this.ws.close()
  }
}

export function assertError (reply: Reply, name: SignallingErrorName): ErrorReply {
  assert.equal(reply.ok, false, `expected ${name}, got ok: ${JSON.stringify(reply)}`)
  assert.equal((reply as ErrorReply).error.name, name, (reply as ErrorReply).error.message)
  assert.equal(typeof (reply as ErrorReply).error.message, 'string')
  return reply as ErrorReply
}

export async function until (condition: () => boolean | Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

