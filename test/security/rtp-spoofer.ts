// Sends UDP datagrams with a forged source address and port, as an attacker on the path
// (or on the same host) could: the only way to get a datagram past a PipeTransport's
// check that media comes from its connected peer, so that what stops it is SRTP. Node has
// no raw sockets; a python3 child writes the IPv4 + UDP headers itself (IP_HDRINCL), so
// it needs root (CAP_NET_RAW). Loopback only.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'

const SENDER = `
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
sys.stdout.write("ready\\n"); sys.stdout.flush()
inp = sys.stdin.buffer
sent = 0
while True:
    head = inp.read(14)
    if len(head) < 14:
        break
    src, sport, dst, dport, n = struct.unpack("!4sH4sHH", head)
    if n == 0:
        sys.stdout.write("sent %d\\n" % sent); sys.stdout.flush()
        continue
    payload = inp.read(n)
    udp = struct.pack("!HHHH", sport, dport, 8 + n, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, socket.IPPROTO_UDP, 0, src, dst)
    s.sendto(ip + udp, (socket.inet_ntoa(dst), 0))
    sent += 1
`

export interface Address { ip: string, port: number }

export interface RtpSpoofer {
  /** Queues one datagram from `from` (forged) to `to`. */
  send: (from: Address, to: Address, payload: Uint8Array) => void
  /** Resolves once every queued datagram was sent; the number sent so far. */
  flush: () => Promise<number>
  close: () => void
}

function ipv4 (ip: string): Buffer {
  const parts = ip.split('.').map(Number)
  if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) throw new TypeError(`not an IPv4 address: ${ip}`)
  return Buffer.from(parts)
}

export async function createRtpSpoofer (): Promise<RtpSpoofer> {
  const child: ChildProcessWithoutNullStreams = spawn('python3', ['-c', SENDER], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  let lines = ''
  const waiting: Array<(line: string) => void> = []
  child.stdout.on('data', (d: Buffer) => {
    lines += d.toString()
    let nl: number
    while ((nl = lines.indexOf('\n')) >= 0) {
      const line = lines.slice(0, nl)
      lines = lines.slice(nl + 1)
      waiting.shift()?.(line)
    }
  })
  const exited = once(child, 'exit').then(() => { throw new Error(`the raw UDP sender exited: ${stderr.trim()}`) })
  exited.catch(() => {})
  const nextLine = async (): Promise<string> => await Promise.race([new Promise<string>((resolve) => waiting.push(resolve)), exited])
  const ready = await nextLine()
  if (ready !== 'ready') throw new Error(`the raw UDP sender did not start: ${ready} ${stderr}`)
  const header = (from: Address, to: Address, length: number): Buffer => {
    const h = Buffer.alloc(14)
    ipv4(from.ip).copy(h, 0)
    h.writeUInt16BE(from.port, 4)
    ipv4(to.ip).copy(h, 6)
    h.writeUInt16BE(to.port, 10)
    h.writeUInt16BE(length, 12)
    return h
  }
  return {
    send: (from, to, payload) => {
      if (payload.length === 0 || payload.length > 1400) throw new RangeError('payload of 1-1400 bytes')
      child.stdin.write(Buffer.concat([header(from, to, payload.length), payload]))
    },
    flush: async () => {
      const answer = nextLine()
      child.stdin.write(header({ ip: '0.0.0.0', port: 0 }, { ip: '0.0.0.0', port: 0 }, 0))
      const line = await answer
      const match = /^sent (\d+)$/.exec(line)
      if (match === null) throw new Error(`the raw UDP sender answered ${line}`)
      return Number(match[1])
    },
    close: () => {
      child.stdin.end()
      child.kill()
    }
  }
}
