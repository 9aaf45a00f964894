/**
 * Kernel module selection from modules.dep (made by `depmod -b` on the unpacked kernel,
 * since the .deb ships without it). The guest loads with busybox insmod, which knows no
 * dependencies, so the order computed here is the load order.
 */
export type ModuleDeps = Map<string, string[]>;

/** modules.dep lines: `kernel/a/b.ko: kernel/c.ko kernel/d.ko` (paths relative to the release dir). */
export function parseModulesDep(text: string): ModuleDeps {
  const deps: ModuleDeps = new Map();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    deps.set(line.slice(0, i).trim(), line.slice(i + 1).trim().split(/\s+/).filter(Boolean));
  }
  return deps;
}

/** A module's name as modprobe sees it: file name without .ko(.xz|.zst|.gz), '-' as '_'. */
export function moduleName(path: string): string {
  return path.split('/').pop()!.replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

/** The wanted modules and everything they need, dependencies before dependents. */
export function moduleClosure(deps: ModuleDeps, wanted: string[]): string[] {
  const byName = new Map<string, string>();
  for (const path of deps.keys()) byName.set(moduleName(path), path);
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (path: string, chain: string[]): void => {
    const s = state.get(path);
    if (s === 'done') return;
    if (s === 'visiting') throw new Error(`modules.dep has a cycle: ${[...chain, path].map(moduleName).join(' -> ')}`);
    state.set(path, 'visiting');
    for (const d of deps.get(path) ?? []) {
      if (!deps.has(d)) throw new Error(`modules.dep: ${moduleName(path)} needs ${d}, which is not listed`);
      visit(d, [...chain, path]);
    }
    state.set(path, 'done');
    order.push(path);
  };
  for (const w of wanted) {
    const path = byName.get(w.replace(/-/g, '_'));
    if (!path) throw new Error(`kernel module ${w} is not in this kernel's modules.dep`);
    visit(path, []);
  }
  return order;
}
