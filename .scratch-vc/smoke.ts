import { ensureVcLab, vcService, leftovers } from '../test/integration/vc-support.js';
const t0 = Date.now();
const step = (s: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`);
await ensureVcLab();
step('lab ready');
const s = vcService();
const onEvent = (e: any) => { if (e.type === 'log') console.log('   log:', e.line); };
try {
  const what = process.argv[2] ?? 'all';
  if (what === 'all' || what === 'create') {
    const t = await s.createVc({ name: 'smoke', nodes: 2, vcpus: 1, memMb: 96, diskGb: 1, swapMb: 16, image: 'tiny', subnet: 'auto' }, { onEvent });
    step(`create ${t.state} ${JSON.stringify(t.error ?? '')}`);
  }
  if (what === 'all' || what === 'start') {
    const t = await s.startVc('smoke', 'cyclic', 'strict', { onEvent });
    step(`start ${t.state} ${JSON.stringify(t.error ?? '')}`);
    console.log(JSON.stringify(await s.vcStatus('smoke'), null, 1).slice(0, 3000));
  }
  if (what === 'all' || what === 'stop') {
    const t = await s.stopVc('smoke', { timeoutS: 20 }, { onEvent });
    step(`stop ${t.state} ${JSON.stringify(t.error ?? '')}`);
  }
  if (what === 'all' || what === 'destroy') {
    const t = await s.destroyVc('smoke', { onEvent });
    step(`destroy ${t.state} ${JSON.stringify(t.error ?? '')}`);
    console.log(await leftovers('smoke', '10.200.0.'));
  }
} finally { await s.close(); }
