#!/usr/bin/env node
// A small WISP relay for tests and benchmarks, on loopback only (`ws` package). Every stream goes
// to 127.0.0.1 whatever host the client names, so a guest can use a normal-looking address; a
// UDP stream to port 53 is answered here as DNS: A queries for the names given get their address,
// every other name NXDOMAIN. Other UDP streams go to 127.0.0.1 too. TCP streams use WISP flow
// control: the relay starts each stream with `buffer` packets and gives them back (CONTINUE) as
// it writes them to the target socket.
//   node scripts/wisp-relay.mjs [--port N] [--name NAME=ADDRESS ...]
// prints `wisp relay on ws://127.0.0.1:PORT/` and runs until killed.
// As a module: startWispRelay(options) -> { url, port, close(), dropConnections(), stats }.
import { createConnection } from 'node:net';
import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';

const CONNECT = 1, DATA = 2, CONTINUE = 3, CLOSE = 4;

function packet(type, stream, payload) {
  const b = Buffer.alloc(5 + payload.length);
  b[0] = type;
  b.writeUInt32LE(stream, 1);
  b.set(payload, 5);
  return b;
}
const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32LE(n, 0); return b; };

/** A DNS answer to `query` (A records for known names, NXDOMAIN otherwise), or undefined. */
export function dnsAnswer(query, names) {
  if (query.length < 17) return undefined;
  const qd = query.readUInt16BE(4);
  if (qd !== 1) return undefined;
  let o = 12;
  const labels = [];
  while (o < query.length && query[o] !== 0) {
    const len = query[o];
    if (len > 63 || o + 1 + len > query.length) return undefined;
    labels.push(query.subarray(o + 1, o + 1 + len).toString('latin1'));
    o += 1 + len;
  }
  o++;
  if (o + 4 > query.length) return undefined;
  const qtype = query.readUInt16BE(o);
  const question = query.subarray(12, o + 4);
  const name = labels.join('.').toLowerCase();
  const addr = names[name];
  const found = addr !== undefined;
  const answer = found && qtype === 1 ? Buffer.concat([Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]), Buffer.from(addr.split('.').map(Number))]) : Buffer.alloc(0);
  const head = Buffer.alloc(12);
  query.copy(head, 0, 0, 2);
  head.writeUInt16BE(0x8180 | (found ? 0 : 3), 2); // response, recursion desired+available, NXDOMAIN when unknown
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(answer.length > 0 ? 1 : 0, 6);
  return Buffer.concat([head, question, answer]);
}

/**
 * options: port (0: any), names ({ name: address }), buffer (CONTINUE count, default 64),
 * cutAfterBytes (drop the WebSocket once this many bytes went to the client on TCP streams).
 */
export async function startWispRelay(options = {}) {
  const names = Object.fromEntries(Object.entries(options.names ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const buffer = options.buffer ?? 64;
  const stats = { connections: 0, streams: 0, tcpBytesToClient: 0, tcpBytesFromClient: 0, dnsQueries: 0, targets: [] };
  const wss = new WebSocketServer({ host: '127.0.0.1', port: options.port ?? 0 });
  await new Promise((resolve, reject) => { wss.once('listening', resolve); wss.once('error', reject); });
  const sockets = new Set();
  wss.on('connection', (ws) => {
    stats.connections++;
    sockets.add(ws);
    const streams = new Map();
    const send = (b) => { if (ws.readyState === 1) ws.send(b); };
    const closeStream = (id, reason) => {
      const s = streams.get(id);
      if (!s) return;
      streams.delete(id);
      s.end();
      send(packet(CLOSE, id, Buffer.from([reason])));
    };
    send(packet(CONTINUE, 0, u32(buffer)));
    ws.on('message', (msg, isBinary) => {
      if (!isBinary || msg.length < 5) return ws.close(1002);
      const type = msg[0], id = msg.readUInt32LE(1), body = msg.subarray(5);
      if (type === CONNECT) {
        const kind = body[0], port = body.readUInt16LE(1), host = body.subarray(3).toString('utf8');
        stats.streams++;
        stats.targets.push(`${kind === 1 ? 'tcp' : 'udp'}:${host}:${port}`);
        if (kind === 2 && port === 53) {
          streams.set(id, { end() {}, data(d) { stats.dnsQueries++; const a = dnsAnswer(Buffer.from(d), names); if (a) send(packet(DATA, id, a)); } });
        } else if (kind === 2) {
          const sock = createSocket('udp4');
          sock.on('message', (d) => send(packet(DATA, id, d)));
          sock.on('error', () => closeStream(id, 0x03));
          streams.set(id, { end() { try { sock.close(); } catch { /* closed */ } }, data(d) { sock.send(d, port, '127.0.0.1'); } });
        } else if (kind === 1) {
          const sock = createConnection({ host: '127.0.0.1', port });
          let used = 0;
          const s = {
            end() { sock.destroy(); },
            data(d) {
              stats.tcpBytesFromClient += d.length;
              used++;
              const flushed = sock.write(d);
              // Give the packets back once half the buffer is used and the socket has taken them.
              if (used >= buffer / 2) {
                const give = () => { used = 0; send(packet(CONTINUE, id, u32(buffer))); };
                used = -Infinity; // until given
                if (flushed) give(); else sock.once('drain', give);
              }
            },
          };
          streams.set(id, s);
          sock.on('data', (d) => {
            stats.tcpBytesToClient += d.length;
            send(packet(DATA, id, d));
            if (options.cutAfterBytes !== undefined && stats.tcpBytesToClient >= options.cutAfterBytes) ws.terminate();
            else if (ws.bufferedAmount > 1 << 20) { sock.pause(); const wait = () => (ws.bufferedAmount > 1 << 18 ? setTimeout(wait, 5) : sock.resume()); wait(); }
          });
          sock.on('error', (e) => closeStream(id, e.code === 'ECONNREFUSED' ? 0x44 : 0x03));
          sock.on('end', () => closeStream(id, 0x02));
        } else {
          send(packet(CLOSE, id, Buffer.from([0x41])));
        }
      } else if (type === DATA) {
        streams.get(id)?.data(body);
      } else if (type === CLOSE) {
        const s = streams.get(id);
        streams.delete(id);
        s?.end();
      }
    });
    ws.on('close', () => {
      sockets.delete(ws);
      for (const s of streams.values()) s.end();
      streams.clear();
    });
  });
  const port = wss.address().port;
  return {
    url: `ws://127.0.0.1:${port}/`,
    port,
    stats,
    /** Drops every client connection at once (like a relay going away). */
    dropConnections() { for (const ws of sockets) ws.terminate(); },
    close() {
      for (const ws of sockets) ws.terminate();
      return new Promise((resolve) => wss.close(() => resolve()));
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const names = {};
  let port = 0;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--port') port = Number(args[++i]);
    else if (args[i] === '--name') { const [n, a] = String(args[++i]).split('='); names[n] = a; }
    else { process.stderr.write(`wisp-relay: unknown argument '${args[i]}'\n`); process.exit(2); }
  }
  const relay = await startWispRelay({ port, names });
  console.log(`wisp relay on ${relay.url}`);
}
