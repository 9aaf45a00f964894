import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateInstallConfig } from '../../main/domain/installConfig.js';
import { renderInstallExample } from '../../main/domain/installExample.js';
import { configFromForm, formFromConfig, INSTALL_FIELDS, knownMacs, placeErrors, withMacs } from '../../renderer/src/stores/install.logic.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOv3c0n3oY2Q6D4w9x2E0oWq0XJ2Q8w5pM1dVq2cG8hR admin@ws';

/** The example as the service answers it: every default filled in. */
function example(): Record<string, unknown> {
  const v = validateInstallConfig(parse(renderInstallExample({ sshKey: KEY })));
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  return JSON.parse(JSON.stringify(v.plan.config)) as Record<string, unknown>;
}

describe('the Install wizard form', () => {
  it('shows every field of the example and gives the same config back', () => {
    const config = example();
    const { fields, nodes } = formFromConfig(config);
    expect(fields['sizes.rootMb']).toBe('5120');
    expect(fields['network.boot.firstIp']).toBe('10.77.0.101');
    expect(fields['network.modules']).toBe('e1000');
    expect(fields['sshKeys']).toBe(KEY);
    expect(fields['gateway.public.ip']).toBe('');
    expect(nodes.map((n) => n.mac)).toEqual(['52:54:4d:00:01:01', '52:54:4d:00:01:02', '52:54:4d:00:01:03']);
    const back = validateInstallConfig(configFromForm(fields, nodes));
    expect(back.ok).toBe(true);
    if (back.ok) expect(JSON.parse(JSON.stringify(back.plan.config))).toEqual(config);
  });

  it('every form field is a setting of the config: the schema refuses no path the form writes', () => {
    const { fields, nodes } = formFromConfig(example());
    const all = { ...fields };
    for (const f of INSTALL_FIELDS) if (!all[f.path]) all[f.path] = f.kind === 'int' ? '1' : 'x';
    const v = validateInstallConfig(configFromForm(all, nodes));
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.errors.filter((e) => e.rule === 'is not a setting of the install')).toEqual([]);
  });

  it('sends a number typed wrong as text, so the service names its rule; empty optional fields are left out', () => {
    const { fields, nodes } = formFromConfig(example());
    const c = configFromForm({ ...fields, 'sizes.rootMb': '5 GB', 'network.storageIp': '', 'gateway.dns': '' }, nodes);
    expect((c.sizes as Record<string, unknown>).rootMb).toBe('5 GB');
    expect((c.network as Record<string, unknown>).storageIp).toBeUndefined();
    expect((c.gateway as Record<string, unknown>).dns).toBeUndefined();
    const v = validateInstallConfig(c);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(placeErrors(v.errors).byField['sizes.rootMb']).toBe('must be a whole number of MB from 512 to 1048576');
  });

  it('puts each service error next to the field, group, list item or node row it names', () => {
    const placed = placeErrors([
      { path: 'nodes.2.mac', rule: 'duplicates the MAC of nodes.0 (52:54:4d:00:01:01)' },
      { path: 'nodes.1.hostname', rule: 'bad name' },
      { path: 'network.storage', rule: 'must be a network apart' },
      { path: 'sshKeys.1', rule: 'must be one OpenSSH public key line' },
      { path: 'nodes', rule: 'must list nodeCount (3) MAC addresses; 2 given' },
      { path: 'rootPassword', rule: 'is not a setting of the install' },
      { path: 'gateway.spare', rule: 'must not be in the node range' },
    ]);
    expect(placed.byNode[2]).toEqual({ mac: 'duplicates the MAC of nodes.0 (52:54:4d:00:01:01)' });
    expect(placed.byNode[1]).toEqual({ hostname: 'bad name' });
    expect(placed.byField['network.storage.firstIp']).toBe('must be a network apart');
    expect(placed.byField['sshKeys']).toBe('item 2: must be one OpenSSH public key line');
    expect(placed.byField['gateway.spare']).toBe('must not be in the node range');
    expect(placed.nodeList).toEqual(['must list nodeCount (3) MAC addresses; 2 given']);
    expect(placed.general).toEqual([{ path: 'rootPassword', rule: 'is not a setting of the install' }]);
  });

  it('a duplicate MAC found by the service lands on the row that repeats it', () => {
    const { fields, nodes } = formFromConfig(example());
    const v = validateInstallConfig(configFromForm(fields, [...nodes.slice(0, 2), { mac: nodes[0]!.mac, hostname: '' }]));
    expect(v.ok).toBe(false);
    if (!v.ok) expect(placeErrors(v.errors).byNode[2]?.mac).toBe('duplicates the MAC of nodes.0 (52:54:4d:00:01:01)');
  });

  it('a CSV replaces the list in its order; typed and watched MACs are added after', () => {
    const start = [{ mac: 'aa:aa:aa:aa:aa:01', hostname: '' }];
    expect(withMacs(start, [{ ordinal: 1, mac: 'bb:bb:bb:bb:bb:01', hostname: 'x1' }], true)).toEqual([{ mac: 'bb:bb:bb:bb:bb:01', hostname: 'x1' }]);
    expect(withMacs(start, [{ ordinal: 2, mac: 'bb:bb:bb:bb:bb:02' }], false)).toEqual([...start, { mac: 'bb:bb:bb:bb:bb:02', hostname: '' }]);
    expect(knownMacs([{ mac: ' aa:aa:aa:aa:aa:01 ', hostname: '' }, { mac: '', hostname: '' }])).toEqual(['aa:aa:aa:aa:aa:01']);
  });
});
