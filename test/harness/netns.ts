// Hosts on one LAN, each a Linux network namespace with an address of its own, for tests
// and benchmarks that need a real network between nodes (root, iproute2):
//
//   root namespace:  bridge mss-<pid>-<r>br ── veth mss-<pid>-<r><i> (one per host)
//   host i:          netns mss-<pid>-<r><i>: lo (127.0.0.1) + eth0 10.77.<k>.<i+1>/24
//
// Cutting a host makes its packets vanish on the way (no RST, no ICMP); its processes and
// sockets live on. Two ways (see CutHow): its port on the bridge stops forwarding (the host
// notices nothing, as behind a failed switch), or its link goes down (a pulled cable).
// Each host has its own veth, so its traffic can be counted there. The bridge has no
// address: the root namespace's routes stay untouched, and the subnets of two runs (two
// bridges) never meet, even when they overlap.
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** Every name starts with this, then the creating process's pid: leftovers are found by it. */
const PREFIX = 'mss-'
/** Linux interface names are at most 15 bytes (IFNAMSIZ - 1). */
const IFNAMSIZ = 15
/** Hosts per network: addresses .1 … .250 of one /24. */
const MAX_HOSTS = 250

export interface NetnsHost {
  index: number
  /** The network namespace: pass it to RemoteNode.spawn({ netns }) or `ip netns exec`. */
  netns: string
  /** The host's address on the LAN. */
  ip: string
  /** The bridge-side end of the host's veth, in the root namespace. */
  link: string
}

/** Traffic of one host's link, as the host sees it (received: toward it). */
export interface LinkStats {
  rxBytes: number
  txBytes: number
  rxPackets: number
  txPackets: number
}

/**
 * `'drop'` (default): the host's bridge port is disabled; its link stays up, and restore()
 * takes effect at once. `'link-down'`: the bridge-side veth goes down, so the host's own
 * end loses its carrier too; after restore() the kernel may take up to ~1 s more (its
 * rate-limited link-state work) before the host's packets flow out again.
 */
export type CutHow = 'drop' | 'link-down'

export interface NetnsNetwork {
  /** Name of the bridge in the root namespace. */
  bridge: string
  /** e.g. `10.77.12.0/24`. */
  subnet: string
  hosts: NetnsHost[]
  /** Partitions the host off the LAN: its packets vanish, nothing is sent back. */
  cut: (host: NetnsHost, how?: CutHow) => Promise<void>
  /** Puts a cut host back on the LAN. */
  restore: (host: NetnsHost) => Promise<void>
  /** Bytes and packets through the host's link since it was created. */
  linkStats: (host: NetnsHost) => Promise<LinkStats>
  /** Removes the namespaces, veths and bridge (idempotent); throws when any of them is left. */
  cleanup: () => Promise<void>
}

export interface NetworkOptions {
  /** Third byte of the subnet 10.77.<k>.0/24. Default: from the pid and a per-process counter. */
  subnetByte?: number
}

let networksCreated = 0

/** Runs an iproute2 tool; its stderr is the error message. */
async function iproute (tool: 'ip' | 'bridge', args: string[]): Promise<string> {
  try {
    return (await run(tool, args, { timeout: 10_000 })).stdout
  } catch (err) {
    const e = err as Error & { stderr?: string }
    throw new Error(`${tool} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`, { cause: err })
  }
}

const ip = async (...args: string[]): Promise<string> => await iproute('ip', args)
const bridgeTool = async (...args: string[]): Promise<string> => await iproute('bridge', args)

/** Throws a clear error when network namespaces cannot be made here (not root, no iproute2). */
export async function assertNetnsUsable (): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error(`network namespaces need root (uid ${String(process.getuid?.())}): run the netns tests as root`)
  for (const tool of ['ip', 'bridge']) {
    try {
      await run(tool, ['-V'], { timeout: 5000 })
    } catch (err) {
      throw new Error(`network namespaces need iproute2's \`${tool}\` on PATH: ${(err as Error).message}`, { cause: err })
    }
  }
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it exists, just not ours.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The pid in a name made here (`mss-<pid>-…`), or undefined for other names. */
function creatorOf (name: string): number | undefined {
  const match = new RegExp(`^${PREFIX}(\\d+)-`).exec(name)
  return match === null ? undefined : Number(match[1])
}

/**
 * Deletes namespaces and links left by earlier runs whose process is gone (a crashed or
 * killed test run: its after hooks never ran). Those of running processes are left alone.
 * Answers the names deleted.
 */
export async function removeStale (): Promise<string[]> {
  const stale = (name: string): boolean => {
    const pid = creatorOf(name)
    return pid !== undefined && pid !== process.pid && !alive(pid)
  }
  const removed = new Set<string>()
  // `name (id: 3)` per line.
  const namespaces = (await ip('netns', 'list')).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n !== '')
  for (const ns of namespaces.filter(stale)) {
    await ip('netns', 'delete', ns).catch(() => {})
    removed.add(ns)
  }
  // `3: name@if2: <…>` per line; a veth whose namespace still lives (a process of the old
  // run kept it) is deleted here with its other end.
  const links = (await ip('-o', 'link', 'show')).split('\n').map((l) => l.split(': ')[1]?.split('@')[0] ?? '').filter((n) => n !== '')
  for (const link of links.filter(stale)) {
    await ip('link', 'delete', link).catch(() => {})
    removed.add(link)
  }
  return [...removed]
}

/**
 * Creates `count` hosts on one bridge. Removes what earlier, dead runs left first, and
 * everything it made when it fails half-way.
 */
export async function createNetwork (count: number, options: NetworkOptions = {}): Promise<NetnsNetwork> {
  if (!Number.isInteger(count) || count < 1 || count > MAX_HOSTS) throw new TypeError(`count must be an integer in 1…${MAX_HOSTS}`)
  await assertNetnsUsable()
  await removeStale()
  const serial = networksCreated++
  // a…z, then aa…: names of one process's networks never clash.
  const tag = serial.toString(26).split('').map((d) => String.fromCharCode(97 + parseInt(d, 26))).join('')
  const base = `${PREFIX}${process.pid}-${tag}`
  const bridge = `${base}br`
  const subnetByte = options.subnetByte ?? (process.pid + serial) % 256
  if (`${base}${count - 1}`.length > IFNAMSIZ || bridge.length > IFNAMSIZ) throw new Error(`interface names like ${base}${count - 1} are longer than ${IFNAMSIZ} bytes`)
  const hosts: NetnsHost[] = Array.from({ length: count }, (_, index) => ({
    index,
    netns: `${base}${index}`,
    ip: `10.77.${subnetByte}.${index + 1}`,
    link: `${base}${index}`
  }))
  const created = { bridge: false, hosts: [] as NetnsHost[] }
  const cuts = new Map<NetnsHost, CutHow>()

  const cleanup = async (): Promise<void> => {
    const errors: string[] = []
    // Deleting a namespace deletes the veth end inside it, and so the pair.
    for (const host of created.hosts) await ip('netns', 'delete', host.netns).catch((err: Error) => errors.push(err.message))
    // A process still inside a namespace keeps it (and the veth) alive after the delete.
    for (const host of created.hosts) await ip('link', 'delete', host.link).catch(() => {})
    if (created.bridge) await ip('link', 'delete', bridge).catch((err: Error) => errors.push(err.message))
    created.hosts = []
    created.bridge = false
    const left = await leftovers(base)
    if (left.length > 0) throw new Error(`network ${base} not fully removed: ${left.join(', ')} (${errors.join('; ')})`)
  }

  try {
    // No STP, no forwarding delay: a port forwards as soon as it is up (restore() is immediate).
    await ip('link', 'add', bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0')
    created.bridge = true
    // No IPv6 link-local addresses: no neighbour discovery chatter in the traffic counts.
    await ip('link', 'set', bridge, 'addrgenmode', 'none')
    await ip('link', 'set', bridge, 'up')
    for (const host of hosts) {
      await ip('netns', 'add', host.netns)
      created.hosts.push(host)
      await ip('link', 'add', host.link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.netns)
      await ip('link', 'set', host.link, 'addrgenmode', 'none')
      await ip('link', 'set', host.link, 'master', bridge, 'up')
      await ip('-n', host.netns, 'link', 'set', 'lo', 'up')
      await ip('-n', host.netns, 'link', 'set', 'eth0', 'addrgenmode', 'none')
      await ip('-n', host.netns, 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0')
      await ip('-n', host.netns, 'link', 'set', 'eth0', 'up')
    }
  } catch (err) {
    await cleanup().catch(() => {})
    throw err
  }

  const own = (host: NetnsHost): NetnsHost => {
    if (hosts[host.index] !== host) throw new TypeError(`host ${host.netns} is not on network ${base}`)
    return host
  }
  const counter = async (link: string, name: string): Promise<number> => Number(await readFile(`/sys/class/net/${link}/statistics/${name}`, 'utf8'))
  return {
    bridge,
    subnet: `10.77.${subnetByte}.0/24`,
    hosts,
    cut: async (host, how = 'drop') => {
      const { link } = own(host)
      if (cuts.has(host)) throw new Error(`host ${host.netns} is cut already`)
      cuts.set(host, how)
      // A disabled port stays disabled without STP (a blocking one would forward again at once).
      if (how === 'drop') await bridgeTool('link', 'set', 'dev', link, 'state', '0')
      else await ip('link', 'set', link, 'down')
    },
    restore: async (host) => {
      const { link } = own(host)
      const how = cuts.get(host)
      if (how === undefined) throw new Error(`host ${host.netns} is not cut`)
      cuts.delete(host)
      // 3: forwarding. A port that comes up again forwards by itself (no STP).
      if (how === 'drop') await bridgeTool('link', 'set', 'dev', link, 'state', '3')
      else await ip('link', 'set', link, 'up')
    },
    linkStats: async (host) => {
      const { link } = own(host)
      // Counted on the bridge side: what it sends goes to the host.
      const [rxBytes, txBytes, rxPackets, txPackets] = await Promise.all(['tx_bytes', 'rx_bytes', 'tx_packets', 'rx_packets'].map(async (n) => await counter(link, n)))
      return { rxBytes: rxBytes!, txBytes: txBytes!, rxPackets: rxPackets!, txPackets: txPackets! }
    },
    cleanup
  }
}

/** Namespaces and links whose names start with `base`. */
async function leftovers (base: string): Promise<string[]> {
  const namespaces = (await ip('netns', 'list')).split('\n').map((l) => l.split(' ')[0]!)
  const links = (await ip('-o', 'link', 'show')).split('\n').map((l) => l.split(': ')[1]?.split('@')[0] ?? '')
  // `base` + digits or `br`: not a longer base (mss-1-a vs mss-1-ab).
  const ours = new RegExp(`^${base}(\\d+|br)$`)
  return [...namespaces, ...links].filter((n) => ours.test(n))
}
