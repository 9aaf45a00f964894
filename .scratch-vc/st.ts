import { vcService } from '../test/integration/vc-support.js';
const s = vcService();
try { const st = await s.vcStatus(process.argv[2] ?? 'smoke'); console.log(JSON.stringify({ ...st, tasks: st.tasks.map((t) => `${t.kind} ${t.state}`) }, null, 1)); } finally { await s.close(); }
