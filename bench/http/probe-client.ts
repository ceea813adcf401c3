// The checks bench.ts runs from the client namespace (the file is read straight from disk, which the
// namespaces share), printing one JSON line:
//   node <compiled>/bench/http/probe-client.js verify URL FILE
//     HEAD, ranges (first octet, suffix, open-ended, across 64 MiB), If-None-Match and a stale
//     If-Range, each compared octet for octet with the file; {"ok":n,"failed":[...]}
//   node <compiled>/bench/http/probe-client.js abort URL COUNT CONCURRENCY
//     COUNT GETs, each closed by the client once 256 KiB of the body arrived; {"aborted":n,"failed":n}
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** Every request of a probe ends within this (a hung server is a failure, not a hung benchmark). */
const requestTimeoutMs = 60_000;

function fetch(url: string, method: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, timeout: requestTimeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

function slice(file: string, start: number, end: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const out = Buffer.alloc(end - start);
    let done = 0;
    while (done < out.length) done += readSync(fd, out, done, out.length - done, start + done);
    return out;
  } finally {
    closeSync(fd);
  }
}

async function verify(url: string, file: string): Promise<void> {
  const size = statSync(file).size;
  const failed: string[] = [];
  let ok = 0;
  const check = (name: string, pass: boolean): void => {
    if (pass) ok++;
    else failed.push(name);
  };
  const head = await fetch(url, 'HEAD', {});
  check('HEAD: 200, Content-Length, no body', head.status === 200 && Number(head.headers['content-length']) === size && head.body.length === 0);
  const etag = String(head.headers.etag ?? '');
  check('HEAD: an ETag', etag !== '');
  // [Range header, first octet, end (exclusive)] (RFC 9110 §14.1.2: last-pos inclusive; -N the last N).
  const mib = 1024 * 1024;
  const across = Math.min(65 * mib + 13, size); // 64 MiB from the middle of the first MiB
  const ranges: [string, number, number][] = [
    ['bytes=0-0', 0, 1], ['bytes=0-99', 0, 100], [`bytes=${size - 1}-`, size - 1, size], ['bytes=-500', size - 500, size],
    [`bytes=${mib - 7}-${across - 1}`, mib - 7, across], [`bytes=${size - 3 * mib}-`, size - 3 * mib, size],
  ];
  for (const [range, start, end] of ranges) {
    const got = await fetch(url, 'GET', { range });
    const want = `bytes ${start}-${end - 1}/${size}`;
    check(`GET ${range}: 206, ${want}, the octets`, got.status === 206 && got.headers['content-range'] === want && got.body.equals(slice(file, start, end)));
  }
  const headRange = await fetch(url, 'HEAD', { range: 'bytes=0-99' });
  check('HEAD with Range: no body', headRange.body.length === 0 && headRange.status < 300);
  check('If-None-Match: 304, no body', (await fetch(url, 'GET', { 'if-none-match': etag })).status === 304);
  // A stale If-Range (RFC 9110 §13.1.5): the whole file, not the range.
  const stale = await fetch(url, 'GET', { range: 'bytes=0-99', 'if-range': '"stale"' });
  check('stale If-Range: 200 and the whole file', stale.status === 200 && stale.body.length === size && stale.body.equals(slice(file, 0, size)));
  check('416 past the end', (await fetch(url, 'GET', { range: `bytes=${size}-` })).status === 416);
  console.log(JSON.stringify({ ok, failed }));
}

/** One GET on a raw socket, destroyed once `after` octets of the answer arrived. */
function abortOne(url: URL, after: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    let received = 0;
    const timer = setTimeout(() => finish(false), requestTimeoutMs);
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    socket.on('error', () => finish(false));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received >= after) finish(true);
    });
    socket.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n\r\n`);
  });
}

async function abortMany(url: URL, count: number, concurrency: number): Promise<void> {
  let next = 0;
  let aborted = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      if (await abortOne(url, 256 * 1024)) aborted++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  console.log(JSON.stringify({ aborted, failed: count - aborted }));
}

const [mode, url, a, b] = process.argv.slice(2).filter((arg) => arg !== '--');
if (mode === 'verify' && url && a) await verify(url, a);
else if (mode === 'abort' && url && a && b) await abortMany(new URL(url), Number(a), Number(b));
else {
  console.error('usage: probe-client.js verify URL FILE | abort URL COUNT CONCURRENCY');
  process.exit(2);
}
