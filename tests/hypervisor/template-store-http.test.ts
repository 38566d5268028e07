// Templates as static files: the index, a fetch per key, the layered store that keeps what the
// static files gave in the local store. Served by a real HTTP server on loopback.

import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpTemplateStore, LayeredTemplateStore } from '../../src/hypervisor/template-store-http.js';
import { MemoryTemplateStore } from '../../src/hypervisor/template-store.js';

let server: Server;
let base: string;
const requests: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url!);
    if (req.url === '/t/index.json') return res.end(JSON.stringify({ templates: ['a-1', 'b-2'] }));
    if (req.url === '/t/a-1.tvsnap') return res.end(Buffer.from([1, 2, 3]));
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}/t`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('HttpTemplateStore', () => {
  it('serves the keys of the index, answers undefined for others and for missing files, never throws', async () => {
    const s = new HttpTemplateStore(base);
    expect(await s.keys()).toEqual(['a-1', 'b-2']);
    expect(await s.get('a-1')).toEqual(new Uint8Array([1, 2, 3]));
    expect(await s.get('b-2')).toBeUndefined(); // listed but 404
    const before = requests.length;
    expect(await s.get('c-3')).toBeUndefined(); // not listed: not even fetched
    expect(await s.get('../etc')).toBeUndefined();
    expect(requests.length).toBe(before);
    expect(await new HttpTemplateStore('http://127.0.0.1:1/x/').get('a-1')).toBeUndefined();
  });

  it('VMs that ask for the same template at once share one download, and each gets its own bytes', async () => {
    const s = new HttpTemplateStore(base).prefetch();
    const before = requests.filter((u) => u.endsWith('a-1.tvsnap')).length;
    const [x, y] = await Promise.all([s.get('a-1'), s.get('a-1')]);
    expect(requests.filter((u) => u.endsWith('a-1.tvsnap')).length).toBe(before + 1);
    expect(x).toEqual(new Uint8Array([1, 2, 3]));
    expect(y).toEqual(x);
    expect(x!.buffer).not.toBe(y!.buffer);
  });

  it('LayeredTemplateStore does not wait for its local copy, and a broken local store is a miss', async () => {
    let release!: () => void;
    const slow = new MemoryTemplateStore();
    const put = slow.put.bind(slow);
    slow.put = (key, bytes) => new Promise<void>((r) => (release = r)).then(() => put(key, bytes));
    const s = new LayeredTemplateStore(slow, new HttpTemplateStore(base));
    expect(await s.get('a-1')).toEqual(new Uint8Array([1, 2, 3])); // the write has not finished
    expect(await slow.get('a-1')).toBeUndefined();
    release();
    await s.settled();
    expect(await slow.get('a-1')).toEqual(new Uint8Array([1, 2, 3]));
    const broken = new MemoryTemplateStore();
    broken.get = () => Promise.reject(new Error('quota'));
    expect(await new LayeredTemplateStore(broken, new HttpTemplateStore(base)).get('a-1')).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('LayeredTemplateStore keeps what the static files gave, and writes locally only', async () => {
    const local = new MemoryTemplateStore();
    const s = new LayeredTemplateStore(local, new HttpTemplateStore(base));
    expect(await s.get('a-1')).toEqual(new Uint8Array([1, 2, 3]));
    await s.settled(); // the local copy is written in the background
    expect(await local.get('a-1')).toEqual(new Uint8Array([1, 2, 3]));
    const fetched = requests.filter((u) => u.endsWith('a-1.tvsnap')).length;
    await s.get('a-1');
    expect(requests.filter((u) => u.endsWith('a-1.tvsnap')).length).toBe(fetched);
    await s.put('z-9', new Uint8Array([9]));
    expect((await s.keys()).sort()).toEqual(['a-1', 'b-2', 'z-9']);
  });
});
