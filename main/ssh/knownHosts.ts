import { existsSync, mkdirSync, readFileSync, appendFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createHash } from 'node:crypto';
import { appPaths } from '../config/paths.js';

/** OpenSSH known_hosts format: `host keytype base64`, `[host]:port` when port is not 22. */
export function hostPattern(host: string, port = 22): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export interface KnownKey {
  keyType: string;
  keyBase64: string;
}

export function fingerprintSha256(keyBase64: string): string {
  const digest = createHash('sha256').update(Buffer.from(keyBase64, 'base64')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

export function readKnownHosts(file = appPaths.knownHosts()): Map<string, KnownKey[]> {
  const map = new Map<string, KnownKey[]>();
  if (!existsSync(file)) return map;
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [hosts, keyType, keyBase64] = line.split(/\s+/);
    if (!hosts || !keyType || !keyBase64) continue;
    for (const h of hosts.split(',')) {
      const list = map.get(h) ?? [];
      list.push({ keyType, keyBase64 });
      map.set(h, list);
    }
  }
  return map;
}

export function lookupHost(host: string, port = 22, file = appPaths.knownHosts()): KnownKey[] {
  return readKnownHosts(file).get(hostPattern(host, port)) ?? [];
}

export function addKnownHost(host: string, port: number, key: KnownKey, file = appPaths.knownHosts()): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const pattern = hostPattern(host, port);
  if (lookupHost(host, port, file).some((k) => k.keyBase64 === key.keyBase64)) return;
  appendFileSync(file, `${pattern} ${key.keyType} ${key.keyBase64}\n`, { mode: 0o600 });
}

/** Replace every key of a host (used when a lab node is rebuilt with new keys by `lab up`). */
export function replaceKnownHost(host: string, port: number, key: KnownKey, file = appPaths.knownHosts()): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const pattern = hostPattern(host, port);
  const kept = existsSync(file)
    ? readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() && l.trim().split(/\s+/)[0] !== pattern)
    : [];
  kept.push(`${pattern} ${key.keyType} ${key.keyBase64}`);
  writeFileSync(file, kept.join('\n') + '\n', { mode: 0o600 });
}
