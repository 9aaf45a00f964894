import { useApp } from '../stores/app.js';
import { useRestore } from '../stores/restore.js';
import { focusSoon } from './cluster.js';
import type { Action } from './types.js';

export const installActions: Action[] = [
  {
    id: 'install.wizard', category: 'Install', title: 'Install a disk-less cluster…', keywords: 'vlx install config wizard diskless nodes mac INSTALL.info',
    run: () => { useApp.getState().go('install'); focusSoon('#i-container'); },
  },
  {
    id: 'install.macs', category: 'Install', title: 'Gather MAC addresses…', keywords: 'vlx install macs csv watch dhcp power on',
    run: () => { useApp.getState().go('install'); focusSoon('#mac-typed'); },
  },
  {
    id: 'install.restore', category: 'Install', title: 'Restore the disk-less cluster…', keywords: 'vlx restore reset node rebuild config update original restore.sh',
    run: () => { useApp.getState().go('install'); useRestore.getState().show(); },
  },
];
