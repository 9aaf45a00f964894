import { vcService, guestRun } from '../test/integration/vc-support.js';
const s = vcService();
try { console.log(await guestRun(s, process.argv[2], process.argv[3], process.argv[4])); } finally { await s.close(); }
