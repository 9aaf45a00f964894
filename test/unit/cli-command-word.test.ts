import { describe, expect, it } from 'vitest';
import { commandWord } from '../../main/cli/commandWord.js';

describe('commandWord', () => {
  it.each([
    [['exec', '--all', '--', 'true'], 'exec'],
    [['--cluster', 'lab', 'nodes', '--json'], 'nodes'],
    [['--accept-new-host-key', 'cluster', 'add', 'x'], 'cluster'],
    [['--help'], undefined],
    [[], undefined],
    [['--', 'lab'], undefined],
    [['help', 'vc'], 'help'],
  ] as [string[], string | undefined][])('%j → %s', (args, want) => {
    expect(commandWord(args)).toBe(want);
  });
});
