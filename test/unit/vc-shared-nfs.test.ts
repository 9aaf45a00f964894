import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { IDMAPD_CONF, nfsPaths, parseNfsLine, parseNfsProbe, renderNfsProbe, renderGaneshaCore, renderGaneshaExports, renderNfsScript, renderGaneshaUnit, renderNfsStop, sharePath, type NfsShare } from '../../main/network/sharedNfs.js';
import { NFS_MOUNT_OPTIONS } from '../../main/images/sharedMount.js';
import { renderUserData, type SeedInput } from '../../main/images/nocloud.js';
import { renderLaunchScript } from '../../main/vm/scripts.js';
import { outcome } from '../support/outcome.js';

const web: NfsShare = { vc: 'web', subnet: '10.200.1.0/24', shareId: 2, dir: '/srv/virtualinux/vc/web/shared' };
const db: NfsShare = { vc: 'db', subnet: '10.200.2.0/26', shareId: 1, dir: '/srv/virtualinux/vc/db/shared' };

/** The code and message of the VlxError thrown (no error: the assertions on them fail). */
const fails = (f: () => unknown) => outcome(f) as { code?: string; message?: string };

describe('ganesha config', () => {
  const core = renderGaneshaCore();
  const conf = renderGaneshaExports([web, db]);

  it('serves NFSv3 only, at fixed ports, without NLM, rquota, grace or DNS lookups', () => {
    expect(core).toContain('\tProtocols = 3;');
    expect(core).toContain('\tNFS_Port = 2049;');
    expect(core).toContain('\tMNT_Port = 20048;');
    expect(core).toContain('\tEnable_NLM = false;');
    expect(core).toContain('\tEnable_RQUOTA = false;');
    expect(core).toContain('\tGraceless = true;');
    expect(core).toContain(`\tIdmapConf = "${nfsPaths.idmap}";`);
    expect(core).toContain('EXPORT_DEFAULTS { Access_Type = None; }');
    expect(core).toContain('MDCACHE { Dir_Chunk = 0; }');
    expect(core).toContain('\tMount_Path_Pseudo = true;');
    expect(core.trim().split('\n').pop()).toBe(`%include "${nfsPaths.exports}"`);
    expect(core).not.toContain('EXPORT {');
    expect(IDMAPD_CONF).toMatch(/^\[General\]\nDomain = \S+\n$/);
  });

  it('one export per VC, in share-id order, readable and writable by that VC subnet only', () => {
    const blocks = conf.split('EXPORT {').slice(1).map((b) => b.slice(0, b.indexOf('\n}')).trim().split('\n').map((l) => l.trim()));
    expect(blocks).toHaveLength(2);
    expect(blocks[0]).toEqual([
      'Export_Id = 1;',
      'Path = "/srv/virtualinux/vc/db/shared";',
      'Pseudo = "/vc/db";',
      'Filesystem_id = 1.77;',
      'Protocols = 3;',
      'Transports = TCP;',
      'SecType = sys;',
      'Squash = No_Root_Squash;',
      'Access_Type = None;',
      'Attr_Expiration_Time = 0;',
      'FSAL { Name = VFS; }',
      'CLIENT { Clients = 10.200.2.0/26; Access_Type = RW; }',
    ]);
    expect(blocks[1]).toContain('Export_Id = 2;');
    expect(blocks[1]).toContain('CLIENT { Clients = 10.200.1.0/24; Access_Type = RW; }');
  });

  it('is the same text whatever the order of the VCs (every node renders the same)', () => {
    expect(renderGaneshaExports([db, web])).toBe(conf);
  });

  it('refuses what would break the config or mix two VCs up, naming the field', () => {
    expect(fails(() => renderGaneshaExports([web, { ...db, shareId: 2 }])).message).toMatch(/share id.*unique/);
    expect(fails(() => renderGaneshaExports([web, { ...web, shareId: 3 }])).message).toMatch(/VC name.*once/);
    expect(fails(() => renderGaneshaExports([{ ...web, shareId: 0 }])).message).toMatch(/share id of web/);
    expect(fails(() => renderGaneshaExports([{ ...web, shareId: 65536 }])).message).toMatch(/share id of web/);
    expect(fails(() => renderGaneshaExports([{ ...web, dir: '/srv/x"; } EXPORT { Path = "/' }])).message).toMatch(/shared directory of web/);
    expect(fails(() => renderGaneshaExports([{ ...web, vc: 'a;b' }])).message).toMatch(/VC name/);
    expect(fails(() => renderGaneshaExports([{ ...web, subnet: '10.200.1.0/33' }])).message).toMatch(/subnet of web/);
    expect(fails(() => sharePath('Web')).code).toBe('invalid-input');
  });
});

describe('renderNfsScript', () => {
  it('is valid sh, with or without VCs', () => {
    for (const s of [renderNfsScript([web, db]), renderNfsScript([])]) {
      expect(() => execFileSync('sh', ['-n'], { input: s })).not.toThrow();
    }
  });

  it('writes the config it rendered and only reloads a running server when it changed', () => {
    const s = renderNfsScript([web]);
    expect(s).toContain(renderGaneshaExports([web]).split('\n')[2]);
    expect(s).toMatch(/cmp -s .*ganesha\.conf\.new/);
    expect(s).toMatch(/cmp -s .*exports\.conf\.new/);
    // Exports alone: re-read; server settings: restart.
    expect(s).toMatch(/elif \[ -n "\$exports" \]; then kill -HUP/);
    expect(s).toMatch(/if \[ -n "\$core" \]; then kill /);
    expect(s).toContain(`ganesha.nfsd -f ${nfsPaths.conf} -L ${nfsPaths.log} -p ${nfsPaths.pid}`);
  });

  it('with no VC left it keeps serving, with no exports (it is a node service now)', () => {
    const s = renderNfsScript([]);
    expect(s).toMatch(/cmp -s .*exports\.conf\.new/);
    expect(s).not.toContain('EXPORT {');
    expect(s).not.toContain(`rm -f ${nfsPaths.conf} ${nfsPaths.exports}`);
  });

  it('from the services deploy (no VC list): existing exports are kept, a missing file is made empty', () => {
    const s = renderNfsScript(undefined);
    expect(() => execFileSync('sh', ['-n'], { input: s })).not.toThrow();
    expect(s).not.toMatch(/cmp -s .*exports\.conf\.new/);
    expect(s).toMatch(/\[ -e \S*exports\.conf'? \] \|\| printf/);
  });

  it('one way to start: the systemd unit where systemd runs, the same argv directly elsewhere', () => {
    const s = renderNfsScript([web]);
    expect(s).toContain('if [ -d /run/systemd/system ]; then systemctl start vlx-ganesha.service; else ganesha.nfsd');
    expect(renderGaneshaUnit()).toContain(`ExecStart=/usr/bin/ganesha.nfsd -f ${nfsPaths.conf} -L ${nfsPaths.log} -p ${nfsPaths.pid} -N NIV_EVENT`);
    expect(renderNfsStop()).toContain('systemctl stop vlx-ganesha.service');
  });

  it('parseNfsLine reads the outcome among other output', () => {
    expect(parseNfsLine('route-failed 10.0.0.1/32\nnfs started\n')).toEqual({ action: 'started', detail: '' });
    expect(parseNfsLine('nfs failed ganesha.nfsd did not start: x y\n')).toEqual({ action: 'failed', detail: 'ganesha.nfsd did not start: x y' });
    expect(parseNfsLine('nfs restarted\n')).toEqual({ action: 'restarted', detail: '' });
    expect(parseNfsLine('nothing\n')).toBeUndefined();
  });
});

describe('renderNfsProbe (vc status)', () => {
  it('is valid sh that asks for the VC\'s own pseudo path', () => {
    const s = renderNfsProbe('web');
    expect(() => execFileSync('sh', ['-n'], { input: s })).not.toThrow();
    expect(s).toContain(`'Pseudo = "/vc/web";'`);
  });

  it('runs: no server and no exports file here means neither', () => {
    expect(parseNfsProbe(execFileSync('sh', [], { input: renderNfsProbe('web'), encoding: 'utf8' }))).toEqual({ server: false, exported: false });
    expect(parseNfsProbe('nfs-server yes\nnfs-export yes\n')).toEqual({ server: true, exported: true });
    expect(parseNfsProbe('nfs-server yes\nnfs-export no\n')).toEqual({ server: true, exported: false });
  });
});

describe('guests mount the share', () => {
  const seed: SeedInput = {
    instanceId: 'web-vm1-1', hostname: 'vm1', mac: '52:54:00:00:00:01', address: '10.200.1.2/24', gateway: '10.200.1.1', sshKeys: [],
    nfsMount: { source: '10.200.1.1:/vc/web', target: '/shared', options: NFS_MOUNT_OPTIONS },
  };

  it('cloud-init: one mounts entry with our options, waiting for the network and not blocking the boot', () => {
    const lines = renderUserData(seed).split('\n');
    const at = lines.indexOf('mounts:');
    expect(at).toBeGreaterThan(0);
    expect(lines[at + 1]).toBe(`  - [ "10.200.1.1:/vc/web", "/shared", nfs, "${NFS_MOUNT_OPTIONS},_netdev,nofail", "0", "0" ]`);
    expect(renderUserData({ ...seed, nfsMount: undefined })).not.toContain('mounts:');
  });

  it('mount options: NFSv3 over TCP at the fixed ports, no locking, hard', () => {
    expect(NFS_MOUNT_OPTIONS.split(',')).toEqual(expect.arrayContaining(['vers=3', 'proto=tcp', 'port=2049', 'mountport=20048', 'nolock', 'hard']));
  });

  it('refuses a mount that would not be one YAML scalar', () => {
    expect(fails(() => renderUserData({ ...seed, nfsMount: { ...seed.nfsMount!, source: '10.200.1.1:/vc/web", evil' } })).message).toMatch(/nfsMount.source/);
    expect(fails(() => renderUserData({ ...seed, nfsMount: { ...seed.nfsMount!, target: 'shared' } })).message).toMatch(/nfsMount.target/);
    expect(fails(() => renderUserData({ ...seed, nfsMount: { ...seed.nfsMount!, options: 'rw ro' } })).message).toMatch(/nfsMount.options/);
  });

  it('the launch script writes a seed before QEMU starts, and only for a VM not running', () => {
    const script = renderLaunchScript([{
      name: 'vm1', runDir: '/run/virtualinux/vm/web', pidFile: '/run/virtualinux/vm/web/vm1.pid', qmp: '/q', serial: '/s',
      argv: ['qemu-system-x86_64'], tap: 'vt0ac80002', tapMac: '0a:01:0a:c8:00:02', gateway: '10.200.0.1', ip: '10.200.0.2', prepare: 'make-seed',
    }]);
    const lines = script.split('\n').map((l) => l.trim());
    const seedAt = lines.indexOf('make-seed');
    expect(seedAt).toBeGreaterThan(lines.findIndex((l) => l.startsWith('if vlx_alive')));
    expect(lines.indexOf('qemu-system-x86_64')).toBe(seedAt + 1);
    // The node routes the guest's address to its tap from the start: it serves the share while the guest boots.
    expect(lines.indexOf('ip route replace 10.200.0.2/32 dev vt0ac80002 proto 77')).toBeGreaterThan(lines.findIndex((l) => l.startsWith('if vlx_alive')));
    expect(lines.indexOf('ip route replace 10.200.0.2/32 dev vt0ac80002 proto 77')).toBeLessThan(seedAt);
  });
});
