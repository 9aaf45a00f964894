import { readFileSync } from 'node:fs';

/** The pid a pid file holds: undefined when the file is missing, empty or not a positive whole number. */
export function readPidFile(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
