// Node names travel in libp2p identify, which runs on every new connection anyway: the
// agent version is `mediasoup-swarm/<protocol version> name=<name>`. No message of our own
// and no extra round trip; a peer's name is known as soon as its connection is identified.
import { createLogger } from '../logger.js'
import { isNodeName } from '../protocol/messages.js'
import type { Libp2p } from '@libp2p/interface'

const log = createLogger('p2p:names')

const AGENT_NAME = /^mediasoup-swarm\/\S+ name=(\S+)$/

/** The identify agent version that tells `name`. */
export function agentVersionOf (name: string, protocolVersion: string): string {
  return `mediasoup-swarm/${protocolVersion} name=${name}`
}

/** The name an agent version tells; undefined for another agent or an invalid name. */
export function nameOfAgent (agentVersion: string | undefined): string | undefined {
  const name = AGENT_NAME.exec(agentVersion ?? '')?.[1]
  return isNodeName(name) ? name : undefined
}

/** Names of the connected peers, from their identify answers; forgotten on disconnect. */
export class PeerNames {
  private readonly names = new Map<string, string>()

  constructor (host: Libp2p) {
    host.addEventListener('peer:identify', (event) => {
      const peerId = event.detail.peerId.toString()
      const name = nameOfAgent(event.detail.agentVersion)
      if (name === undefined) {
        log.debug('%s tells no valid node name (agent %s)', peerId, event.detail.agentVersion?.slice(0, 80))
        this.names.delete(peerId)
      } else {
        this.names.set(peerId, name)
      }
    })
    host.addEventListener('peer:disconnect', (event) => this.names.delete(event.detail.toString()))
  }

  get (peerId: string): string | undefined {
    return this.names.get(peerId)
  }

  all (): Record<string, string> {
    return Object.fromEntries(this.names)
  }
}
