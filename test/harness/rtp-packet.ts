// RTP/RTCP wire details shared by the harness source and sink (RFC 3550, RFC 4585, RFC 5761).

export const RTP_HEADER_LENGTH = 12

export interface RtpHeader {
  marker: boolean
  payloadType: number
  /** 16 bits. */
  sequenceNumber: number
  /** 32 bits. */
  timestamp: number
  ssrc: number
}

/** A packet with version 2, no padding, no header extension and no CSRCs. */
export function writeRtpPacket (header: RtpHeader, payload: Uint8Array): Buffer {
  const packet = Buffer.alloc(RTP_HEADER_LENGTH + payload.length)
  packet[0] = 0x80
  packet[1] = (header.marker ? 0x80 : 0) | (header.payloadType & 0x7f)
  packet.writeUInt16BE(header.sequenceNumber & 0xffff, 2)
  packet.writeUInt32BE(header.timestamp >>> 0, 4)
  packet.writeUInt32BE(header.ssrc >>> 0, 8)
  packet.set(payload, RTP_HEADER_LENGTH)
  return packet
}

/** The fixed header of an RTP packet; undefined for anything that is not RTP version 2. */
export function readRtpHeader (packet: Buffer): RtpHeader | undefined {
  if (packet.length < RTP_HEADER_LENGTH || packet[0]! >> 6 !== 2 || isRtcp(packet)) return undefined
  return {
    marker: (packet[1]! & 0x80) !== 0,
    payloadType: packet[1]! & 0x7f,
    sequenceNumber: packet.readUInt16BE(2),
    timestamp: packet.readUInt32BE(4),
    ssrc: packet.readUInt32BE(8)
  }
}

/**
 * RTCP on a muxed port (RFC 5761): packet types 200–206 (SR, RR, SDES, BYE, APP, RTPFB,
 * PSFB) read as RTP payload types 72–78 in the second byte's low 7 bits.
 */
export function isRtcp (packet: Buffer): boolean {
  if (packet.length < 2) return false
  const pt = packet[1]! & 0x7f
  return pt >= 72 && pt <= 78
}

export const RTCP_PSFB = 206
export const PSFB_FMT_PLI = 1
export const PSFB_FMT_FIR = 4

/** Number of PLI and FIR messages in a (compound) RTCP packet. */
export function countKeyFrameRequests (packet: Buffer): number {
  let count = 0
  let offset = 0
  while (offset + 4 <= packet.length) {
    const first = packet[offset]!
    if (first >> 6 !== 2) break
    const type = packet[offset + 1]!
    const fmt = first & 0x1f
    if (type === RTCP_PSFB && (fmt === PSFB_FMT_PLI || fmt === PSFB_FMT_FIR)) count++
    // The length field counts 32-bit words minus one.
    offset += (packet.readUInt16BE(offset + 2) + 1) * 4
  }
  return count
}

/** Distance from `from` to `to` in 16-bit sequence space: -32768..32767. */
export function sequenceDelta (from: number, to: number): number {
  const delta = (to - from) & 0xffff
  return delta >= 0x8000 ? delta - 0x10000 : delta
}

/**
 * Payloads from createRtpSource() end with this tag and their send time
 * (performance.now(), float64), so a sink in the same process can measure one-way latency.
 */
export const SEND_TIME_TAG = Buffer.from('MSSW')
export const SEND_TIME_TRAILER_LENGTH = SEND_TIME_TAG.length + 8

export function writeSendTime (payload: Buffer, sendTime: number): void {
  const at = payload.length - SEND_TIME_TRAILER_LENGTH
  SEND_TIME_TAG.copy(payload, at)
  payload.writeDoubleBE(sendTime, at + SEND_TIME_TAG.length)
}

/** The send time written by writeSendTime(), if the packet carries one. */
export function readSendTime (packet: Buffer): number | undefined {
  const at = packet.length - SEND_TIME_TRAILER_LENGTH
  if (at < RTP_HEADER_LENGTH || !packet.subarray(at, at + SEND_TIME_TAG.length).equals(SEND_TIME_TAG)) return undefined
  return packet.readDoubleBE(at + SEND_TIME_TAG.length)
}
