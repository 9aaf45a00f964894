import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { afterAll, describe, expect, test } from 'vitest';
import { parseScan, renderHaltScript, renderLaunchScript, renderOverlayScript, renderScanScript, renderWaitGoneScript } from '../../main/vm/scripts.js';

/**
 * The node scripts of the VC workflows. The overlay script is run for real here (local sh
 * and qemu-img): the batch trick (one qemu-img, then tee) must give exactly what qemu-img
 * gives per file, and a second run must change nothing.
 */
const dir = mkdtempSync('/tmp/vlx-vcscripts-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sh = (script: string) => execFileSync('sh', ['-e'], { input: script, encoding: 'utf8' });

describe('renderOverlayScript', () => {
  const image = `${dir}/images/base.qcow2`;
  execFileSync('mkdir', ['-p', `${dir}/images`]);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', image, '64M']);
  const vcDir = `${dir}/vc/web`;
  const vms = [1, 2, 3].map((i) => ({ name: `vm${i}`, disk: `${vcDir}/vm${i}.qcow2`, swap: `${vcDir}/vm${i}.swap.qcow2` }));
  const script = renderOverlayScript({ vcDir, shared: `${vcDir}/shared`, image, diskGb: 2, swapMb: 32, vms });

  test('creates every overlay as qemu-img would, and the shared dir', () => {
    sh(script);
    expect(readdirSync(vcDir).sort()).toEqual(['shared', 'vm1.qcow2', 'vm1.swap.qcow2', 'vm2.qcow2', 'vm2.swap.qcow2', 'vm3.qcow2', 'vm3.swap.qcow2']);
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', vms[1].disk], { encoding: 'utf8' }));
    expect(info['backing-filename']).toBe(image);
    expect(info['virtual-size']).toBe(2 * 1024 ** 3);
    const swap = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', vms[2].swap], { encoding: 'utf8' }));
    expect(swap['virtual-size']).toBe(32 * 1024 ** 2);
    expect(swap['backing-filename']).toBeUndefined();
    // Byte for byte what qemu-img makes for one VM.
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', image, '-F', 'qcow2', `${dir}/ref.qcow2`, '2G']);
    expect(readFileSync(vms[0].disk).equals(readFileSync(`${dir}/ref.qcow2`))).toBe(true);
  });

  test('a second run changes nothing, and only missing overlays are made', () => {
    const before = statSync(vms[0].disk).mtimeMs;
    rmSync(vms[2].disk);
    sh(script);
    expect(statSync(vms[0].disk).mtimeMs).toBe(before);
    expect(statSync(vms[2].disk).size).toBeGreaterThan(0);
    expect(readdirSync(vcDir)).not.toContain('.new');
  });

  test('no swap volumes when swap is 0', () => {
    const d = `${dir}/vc/noswap`;
    sh(renderOverlayScript({ vcDir: d, shared: `${d}/shared`, image, diskGb: 1, swapMb: 0, vms: [{ name: 'vm1', disk: `${d}/vm1.qcow2`, swap: `${d}/vm1.swap.qcow2` }] }));
    expect(readdirSync(d).sort()).toEqual(['shared', 'vm1.qcow2']);
  });

  test.each([
    ['path with a quote', { vcDir: "/srv/x'y" }, /vcDir/],
    ['path with ..', { vcDir: '/srv/../etc' }, /vcDir/],
    ['VM name with metacharacters', { vms: [{ name: 'vm1;reboot', disk: '/srv/a.qcow2', swap: '/srv/b.qcow2' }] }, /vm:/],
    ['disk of 0 GB', { diskGb: 0 }, /diskGb/],
  ])('refuses %s', (_w, patch, msg) => {
    const base = { vcDir: '/srv/v/vc/a', shared: '/srv/v/vc/a/shared', image: '/srv/v/images/i.qcow2', diskGb: 1, swapMb: 0, vms: [] };
    expect(() => renderOverlayScript({ ...base, ...patch } as Parameters<typeof renderOverlayScript>[0])).toThrow(msg);
  });
});

describe('process scan and halt', () => {
  test('a live process whose command line names its pid file is found; a stale pid file is not', () => {
    const run = `${dir}/run`;
    execFileSync('mkdir', ['-p', `${run}/vm/web`, `${run}/vm/db`]);
    // A stand-in for QEMU: its argv carries the pid file path, as QEMU's -pidfile does.
    const pidFile = `${run}/vm/web/vm1.pid`;
    const child = execFileSync('sh', ['-c', `sh -c 'sleep 30; :' ${pidFile} >/dev/null 2>&1 & echo $!`], { encoding: 'utf8' }).trim();
    try {
      execFileSync('sh', ['-c', `echo ${child} > ${pidFile}; echo 1 > ${run}/vm/db/vm2.pid`]);
      expect(parseScan(sh(renderScanScript(run)))).toEqual([{ vc: 'web', vm: 'vm1', pid: Number(child) }]);
      expect(sh(renderWaitGoneScript(pidFile, 0)).trim()).toBe('alive');
      const out = sh(renderHaltScript([{ name: 'vm1', pidFile, qmp: `${run}/vm/web/vm1.qmp`, serial: `${run}/vm/web/vm1.serial`, tap: 'vtnotthere' }]));
      expect(out).toContain('killed vm1');
      expect(parseScan(sh(renderScanScript(run)))).toEqual([]);
      expect(sh(renderWaitGoneScript(pidFile, 0)).trim()).toBe('gone');
    } finally {
      try { process.kill(Number(child), 'SIGKILL'); } catch { /* already gone */ }
    }
  });

  test('parseScan ignores anything but "VC VM PID" lines', () => {
    expect(parseScan('web vm1 12\nnoise\nweb vm2 x\n db vm3 7 \n')).toEqual([{ vc: 'web', vm: 'vm1', pid: 12 }, { vc: 'db', vm: 'vm3', pid: 7 }]);
  });

  test('the launch script is valid sh and quotes every argv word', () => {
    const script = renderLaunchScript([{
      name: 'vm1', runDir: '/run/virtualinux/vm/web', pidFile: '/run/virtualinux/vm/web/vm1.pid', qmp: '/q', serial: '/s',
      argv: ['qemu-system-x86_64', '-append', 'console=ttyS0 vlx.name=vm1'], tap: 'vt0ac80002', tapMac: '0a:01:0a:c8:00:02', gateway: '10.200.0.1', ip: '10.200.0.2',
    }]);
    expect(() => execFileSync('sh', ['-n'], { input: script })).not.toThrow();
    expect(script).toContain("'console=ttyS0 vlx.name=vm1'");
  });
});
