import m001 from './001_initial.sql';
import m002 from './002_share_ids.sql';
import m003 from './003_node_health.sql';
import m004 from './004_install_manifest.sql';
import m005 from './005_ha_restart.sql';
import m006 from './006_snapshots.sql';
import m007 from './007_experiments.sql';

/**
 * Every migration, in order. The SQL is embedded at build time (esbuild's text loader for
 * the CLI bundle, the sql-text plugin in vitest.config.ts for tests), so the bundled CLI
 * needs no files beside it. Add a migration: write NNN_name.sql and list it here.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: '001_initial', sql: m001 },
  { version: 2, name: '002_share_ids', sql: m002 },
  { version: 3, name: '003_node_health', sql: m003 },
  { version: 4, name: '004_install_manifest', sql: m004 },
  { version: 5, name: '005_ha_restart', sql: m005 },
  { version: 6, name: '006_snapshots', sql: m006 },
  { version: 7, name: '007_experiments', sql: m007 },
];
