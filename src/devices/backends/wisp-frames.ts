// WISP (version 1) packets: the framing of the multiplexing WebSocket protocol v86 and its relays
// speak. Every WebSocket binary message is one packet: a type byte, a little-endian 32-bit stream
// id, and a payload. CONNECT (client -> relay) opens a stream: stream type (1 TCP, 2 UDP), the
// destination port (16 bits, little-endian) and the host name as UTF-8. DATA carries bytes (one
// datagram on a UDP stream). CONTINUE (relay -> client) says how many more DATA packets the
// relay will buffer for a TCP stream; the one with stream id 0, sent when the WebSocket opens, is
// the starting count for every stream. CLOSE ends a stream with a reason byte. Parsing only
// checks lengths; what a packet means is the client's business (wisp-client.ts).

export const CONNECT = 0x01;
export const DATA = 0x02;
export const CONTINUE = 0x03;
export const CLOSE = 0x04;

export const STREAM_TCP = 0x01;
export const STREAM_UDP = 0x02;

/** CLOSE reasons (either side, then relay-side, then client-side). */
export const CloseReason = {
  unknown: 0x01,
  voluntary: 0x02,
  networkError: 0x03,
  invalidInfo: 0x41,
  unreachable: 0x42,
  timeout: 0x43,
  refused: 0x44,
  tcpTimeout: 0x47,
  blocked: 0x48,
  throttled: 0x49,
  clientError: 0x81,
} as const;

export type WispPacket =
  | { type: typeof CONNECT; stream: number; streamType: number; port: number; host: string }
  | { type: typeof DATA; stream: number; data: Uint8Array }
  | { type: typeof CONTINUE; stream: number; remaining: number }
  | { type: typeof CLOSE; stream: number; reason: number };

function header(type: number, stream: number, payload: number): [Uint8Array, DataView] {
  const b = new Uint8Array(5 + payload);
  const v = new DataView(b.buffer);
  b[0] = type;
  v.setUint32(1, stream, true);
  return [b, v];
}

export function encodeConnect(stream: number, streamType: number, port: number, host: string): Uint8Array {
  const name = new TextEncoder().encode(host);
  const [b, v] = header(CONNECT, stream, 3 + name.length);
  b[5] = streamType;
  v.setUint16(6, port, true);
  b.set(name, 8);
  return b;
}

export function encodeData(stream: number, data: Uint8Array): Uint8Array {
  const [b] = header(DATA, stream, data.length);
  b.set(data, 5);
  return b;
}

export function encodeContinue(stream: number, remaining: number): Uint8Array {
  const [b, v] = header(CONTINUE, stream, 4);
  v.setUint32(5, remaining, true);
  return b;
}

export function encodeClose(stream: number, reason: number): Uint8Array {
  const [b] = header(CLOSE, stream, 1);
  b[5] = reason;
  return b;
}

/** One packet from a WebSocket message, or a one-line reason it is not one. */
export function decodePacket(msg: Uint8Array): WispPacket | string {
  if (msg.length < 5) return `a ${msg.length}-byte message is shorter than a WISP header`;
  const v = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const stream = v.getUint32(1, true);
  switch (msg[0]) {
    case CONNECT:
      if (msg.length < 8) return 'a CONNECT packet without a port';
      return { type: CONNECT, stream, streamType: msg[5], port: v.getUint16(6, true), host: new TextDecoder().decode(msg.subarray(8)) };
    case DATA:
      return { type: DATA, stream, data: msg.subarray(5) };
    case CONTINUE:
      if (msg.length < 9) return 'a CONTINUE packet without a count';
      return { type: CONTINUE, stream, remaining: v.getUint32(5, true) };
    case CLOSE:
      if (msg.length < 6) return 'a CLOSE packet without a reason';
      return { type: CLOSE, stream, reason: msg[5] };
    default:
      return `unknown WISP packet type ${msg[0]}`;
  }
}

/** A word for a CLOSE reason, for messages. */
export function closeReasonText(reason: number): string {
  for (const [name, code] of Object.entries(CloseReason)) if (code === reason) return name;
  return `reason 0x${reason.toString(16)}`;
}
