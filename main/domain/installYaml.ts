import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { validateInstallConfig, type FieldError, type InstallFacts, type InstallValidation } from './installConfig.js';

/**
 * The install config as YAML: syntax errors and field errors both come back with the line
 * and column they are on, so `vlx install --config` points into the person's file.
 */
export interface LocatedError extends FieldError { line?: number; col?: number }
export type YamlValidation = { ok: true; plan: Extract<InstallValidation, { ok: true }>['plan'] } | { ok: false; errors: LocatedError[] };

export function formatLocated(file: string, e: LocatedError): string {
  const at = e.line ? `${file}:${e.line}:${e.col ?? 1}: ` : `${file}: `;
  return `${at}${e.path}: ${e.rule}`;
}

/** Line and column of the value at `path`, or of the nearest parent that exists. */
function locate(doc: Document, lines: LineCounter, path: string): { line?: number; col?: number } {
  const keys = path.split('.').map((k) => (/^\d+$/.test(k) ? Number(k) : k));
  for (let n = keys.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(keys.slice(0, n), true);
    if (isNode(node) && node.range) {
      const { line, col } = lines.linePos(node.range[0]);
      return { line, col };
    }
  }
  return {};
}

export function readInstallYaml(text: string, facts: InstallFacts = {}): YamlValidation {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((e) => {
        const { line, col } = lines.linePos(e.pos[0]);
        return { path: '(yaml)', rule: e.message.split('\n')[0]!.replace(/ at line \d+, column \d+.*$/, ''), line, col };
      }),
    };
  }
  const raw = doc.toJS({ maxAliasCount: 100 });
  if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw))) {
    return { ok: false, errors: [{ path: '(config)', rule: 'must be a mapping of settings (key: value)', line: 1, col: 1 }] };
  }
  const v = validateInstallConfig(raw ?? {}, facts);
  if (v.ok) return v;
  return { ok: false, errors: v.errors.map((e) => ({ ...e, ...locate(doc, lines, e.path) })) };
}
