/**
 * The channel and event names alone, without their schemas: the Electron preload checks
 * calls against these and must stay small (it runs before every page load). A unit test
 * holds this list equal to the contract's table.
 */
export const CHANNEL_NAMES = [
  'app.info',
  'clusters.add', 'clusters.list', 'clusters.remove', 'clusters.use',
  'db.deploy', 'db.migrate', 'db.status', 'db.switchover',
  'exec.run',
  'experiments.export', 'experiments.list', 'experiments.rows', 'experiments.run', 'experiments.show',
  'hostKey.accept', 'hostKey.probe',
  'images.build', 'images.import', 'images.info', 'images.list',
  'install.example', 'install.macs', 'install.parseMacs', 'install.run', 'install.status', 'install.updateOriginal', 'install.validate',
  'lab.crash', 'lab.down', 'lab.machines', 'lab.powerOff', 'lab.powerOn', 'lab.revive', 'lab.status', 'lab.up',
  'nodes.list',
  'restore.run',
  'services.deploy', 'services.status', 'services.stop',
  'tasks.cancel', 'tasks.get', 'tasks.list', 'tasks.resume',
  'terminal.ack', 'terminal.close', 'terminal.openNodeShell', 'terminal.openVmConsole', 'terminal.reconnect', 'terminal.resize', 'terminal.write',
  'vc.create', 'vc.destroy', 'vc.get', 'vc.list', 'vc.previewPlacement', 'vc.restore', 'vc.save', 'vc.setHa', 'vc.start', 'vc.stop',
  'vm.move', 'vm.planMove',
  'volumes.delete', 'volumes.reset', 'volumes.tree',
  'snapshots.delete', 'snapshots.list', 'snapshots.rollback', 'snapshots.take',
  'node.evacuate', 'node.evacuatePlan', 'node.restore', 'node.setMaintenance', 'nodes.health',
] as const;

export const EVENT_NAME_LIST = ['nodes.health', 'state.changed', 'task', 'terminal.data', 'terminal.exit'] as const;

const channelSet: ReadonlySet<string> = new Set(CHANNEL_NAMES);
const eventSet: ReadonlySet<string> = new Set(EVENT_NAME_LIST);

export function isChannelName(s: unknown): s is (typeof CHANNEL_NAMES)[number] {
  return typeof s === 'string' && channelSet.has(s);
}
export function isEventNameString(s: unknown): s is (typeof EVENT_NAME_LIST)[number] {
  return typeof s === 'string' && eventSet.has(s);
}
