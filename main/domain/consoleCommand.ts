/** How automation types a command into a guest's console shell (vm/serial.ts), and how long it may be. */

export const NONCE_LENGTH = 8;

/**
 * The line typed: the command between two markers carrying the nonce. The shell echoes the
 * typed line; splitting each marker with '' keeps the echo from matching.
 */
export function wrapCommand(command: string, nonce: string): string {
  return `echo vlx''begin-${nonce}; ${command}; echo vlx''end-${nonce}-$?\n`;
}

/**
 * The longest command that may be typed: busybox ash's line editor (the tiny guests' console
 * shell) keeps 1024 characters of a line, newline included, and cuts the rest, which would run
 * half a command. The markers around the command count too.
 */
export const SERIAL_COMMAND_MAX = 1024 - wrapCommand('', 'x'.repeat(NONCE_LENGTH)).length;
