import { VlxError } from '../errors.js';
import { sh } from '../util/quote.js';
import type { StepContext } from '../tasks/types.js';
import { runScript, type VcEnv } from '../cluster/env.js';
import { vmsOf, type VcRow } from '../cluster/repo.js';
import { openQmp } from './qmp.js';
import { haltSpec } from './vmOps.js';
import { streamOnto } from './snapshotQmp.js';
import type { MergeStep } from '../domain/snapshotPlan.js';

/**
 * The merges of a snapshot deletion: each file that backs onto the deleted snapshot's file
 * gets that file's data and backs onto the parent instead. Offline files with `qemu-img
 * rebase` (safe mode: it copies every cluster that differs between the old and the new
 * backing); files a running QEMU holds with a block-stream job in that QEMU. A file already
 * on its new backing (a re-run) is skipped.
 */
async function backingOf(env: VcEnv, files: string[]): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  if (files.length === 0) return out;
  const script = files.map((f) => `echo ${sh(`--file ${f}`)}; qemu-img info -U --output=json ${sh(f)}`).join('\n') + '\n';
  const text = await runScript(await env.session.any(), script);
  for (const part of text.split('--file ').slice(1)) {
    const nl = part.indexOf('\n');
    const info = JSON.parse(part.slice(nl + 1)) as { 'full-backing-filename'?: string; 'backing-filename'?: string };
    out.set(part.slice(0, nl).trim(), info['full-backing-filename'] ?? info['backing-filename'] ?? null);
  }
  return out;
}

export async function mergeFiles(env: VcEnv, vc: VcRow, merges: MergeStep[], ctx: StepContext): Promise<void> {
  const now = await backingOf(env, merges.map((m) => m.file));
  const todo = merges.filter((m) => now.get(m.file) !== m.newBacking);
  for (const m of merges.filter((x) => !todo.includes(x))) ctx.log(`${m.vm}: ${m.file} already backs onto ${m.newBacking}`);
  const offline = todo.filter((m) => m.via === 'rebase');
  if (offline.length) {
    const t0 = Date.now();
    await runScript(await env.session.any(), offline.map((m) => `qemu-img rebase -f qcow2 -b ${sh(m.newBacking)} -F qcow2 ${sh(m.file)}`).join('\n') + '\n', 1_800_000);
    ctx.log(`${offline.length} files rebased with qemu-img in ${Date.now() - t0} ms`);
  }
  const live = todo.filter((m) => m.via === 'stream');
  if (live.length === 0) return;
  const vms = await vmsOf(env.db, vc.name);
  let done = 0;
  for (const m of live) {
    const node = vms.find((v) => v.name === m.vm)?.node;
    if (!node) throw new VlxError('conflict', `${vc.name}/${m.vm} runs on no node: its file ${m.file} cannot be streamed`);
    const q = await openQmp(await env.session.node(node), haltSpec(vc, m.vm).qmp, { label: `${node}/${vc.name}/${m.vm}`, timeoutMs: 30_000 });
    try {
      const t0 = Date.now();
      await streamOnto(q, m.file, m.newBacking, `vlx-stream-${m.vm}`);
      ctx.log(`${m.vm}: block-stream into ${m.file} done in ${Date.now() - t0} ms (VM running)`);
    } finally {
      q.close();
    }
    ctx.progress(++done / live.length, `${done}/${live.length} streamed`);
  }
}
