import { vcService } from '../test/integration/vc-support.js';
const s = vcService();
const onEvent = (e: any) => { if (e.type === 'log') console.log('   log:', e.line); };
const t0 = Date.now();
try {
  const op = process.argv[2];
  let t: any;
  if (op === 'save') t = await s.saveVc('smoke', { onEvent });
  if (op === 'restore') t = await s.restoreVc('smoke', (process.argv[3] as any) || undefined, (process.argv[4] as any) || undefined, { onEvent });
  if (op === 'move') console.log(await s.moveVms([{ vc: 'smoke', vm: process.argv[3], to: process.argv[4] }], { onEvent }));
  if (t) console.log(op, t.state, t.error ?? '', Date.now() - t0, 'ms');
} finally { await s.close(); }
