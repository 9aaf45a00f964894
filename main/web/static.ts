import type { ServerResponse } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';

/** The built renderer's files, never anything outside its directory. */
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.map': 'application/json',
};

export type Refuse = (res: ServerResponse, status: number, text: string) => void;

export async function serveStatic(rendererDir: string, pathname: string, res: ServerResponse, csp: string, refuse: Refuse): Promise<void> {
  let decoded: string;
  try { decoded = decodeURIComponent(pathname); } catch { return refuse(res, 400, 'path: not valid percent-encoding'); }
  if (decoded.includes('\0')) return refuse(res, 404, 'not found');
  const rel = normalize(decoded).replace(/^([/\\])+/, '');
  let file = join(rendererDir, rel || 'index.html');
  if (!file.startsWith(rendererDir + sep) && file !== rendererDir) return refuse(res, 404, 'not found');
  let info = await stat(file).catch(() => undefined);
  if (info?.isDirectory()) { file = join(file, 'index.html'); info = await stat(file).catch(() => undefined); }
  if (!info?.isFile()) {
    if (rel === '' || rel === 'index.html') return refuse(res, 503, `the renderer is not built (${rendererDir}): run node scripts/build.mjs renderer`);
    return refuse(res, 404, 'not found');
  }
  const body = await readFile(file);
  res.writeHead(200, {
    'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
    'content-security-policy': csp,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  });
  res.end(body);
}
