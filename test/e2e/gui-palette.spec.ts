import { test, expect, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startGui, tempHome } from './support.js';

/**
 * The command palette and the theme in Debian's Chromium through `vlx gui`, driven from the
 * keyboard only: open it, run actions by typing their names, answer an action's question,
 * and switch the theme, checking what the page really paints.
 */
const shots = process.env.VLX_SCREENS ?? join(process.cwd(), 'test-results', 'screenshots');
mkdirSync(shots, { recursive: true });

const home = tempHome();
let bridge: Awaited<ReturnType<typeof startGui>>;

test.beforeAll(async () => { bridge = await startGui(join(home.dir, 'app')); });
test.afterAll(async () => { await bridge?.stop(); home.cleanup(); });

const palette = (page: Page) => page.getByRole('dialog', { name: 'Command palette' });
const background = (page: Page) => page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
const theme = (page: Page) => page.evaluate(() => document.documentElement.dataset.theme);

test('the palette runs actions typed by name, and the theme switches and persists', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.emulateMedia({ colorScheme: 'light' });
  await page.goto(bridge.url);
  await expect(page.getByRole('heading', { name: 'Connect', exact: true })).toBeVisible();
  await expect(page.locator('.link-open')).toBeVisible();

  // Ctrl+Shift+P opens it, the query ranks "Go to: Tasks" first, Enter runs it.
  await page.keyboard.press('Control+Shift+P');
  await expect(palette(page)).toBeVisible();
  await expect(palette(page).getByRole('combobox')).toBeFocused();
  await page.keyboard.type('go tasks');
  await expect(page.locator('.palette-row.active')).toHaveText(/Go to: Tasks.*Alt\+\d/);
  await page.screenshot({ path: join(shots, 'palette-query-light.png') });
  await page.keyboard.press('Enter');
  await expect(palette(page)).toBeHidden();
  await expect(page.getByRole('heading', { name: 'Tasks', exact: true })).toBeVisible();

  // Esc closes without running anything.
  await page.keyboard.press('F1');
  await expect(palette(page)).toBeVisible();
  await page.keyboard.type('go topology');
  await page.keyboard.press('Escape');
  await expect(palette(page)).toBeHidden();
  await expect(page.getByRole('heading', { name: 'Tasks', exact: true })).toBeVisible();

  // Arrow keys move the choice: the row below the first is what Enter runs.
  await page.keyboard.press('F1');
  await page.keyboard.type('theme');
  const second = (await page.locator('.palette-row').nth(1).locator('.palette-label').textContent())!;
  await page.keyboard.press('ArrowDown');
  await expect(page.locator('.palette-row.active .palette-label')).toHaveText(second);
  await page.keyboard.press('Escape');

  // An action that needs an argument asks for it; this fresh workstation knows no cluster to switch to.
  await page.keyboard.press('Control+Shift+P');
  await page.keyboard.type('use cluster');
  await page.keyboard.press('Enter');
  await expect(palette(page).getByRole('combobox')).toHaveAttribute('placeholder', 'Which cluster?');
  await expect(palette(page).getByText('No clusters are known on this workstation')).toBeVisible();
  await page.keyboard.press('Backspace'); // back to the list of actions
  await expect(palette(page).getByRole('combobox')).toHaveAttribute('placeholder', /Type a command/);
  await page.keyboard.press('Escape');

  // Dark theme from the palette: the page's own colours change, not only an attribute.
  const lightBg = await background(page);
  expect(await theme(page)).toBe('light');
  await page.keyboard.press('F1');
  await page.keyboard.type('dark');
  await expect(page.locator('.palette-row.active')).toContainText('Theme: Dark');
  await page.screenshot({ path: join(shots, 'palette-query-dark-before.png') });
  await page.keyboard.press('Enter');
  await expect.poll(() => theme(page)).toBe('dark');
  const darkBg = await background(page);
  expect(darkBg).not.toBe(lightBg);
  expect(luminance(darkBg)).toBeLessThan(luminance(lightBg));
  await expect(page.getByTestId('theme-select')).toHaveValue('dark');
  await page.keyboard.press('Control+Shift+P');
  await page.keyboard.type('vc start');
  await page.screenshot({ path: join(shots, 'palette-query-dark.png') });
  await page.keyboard.press('Escape');

  // The choice survives a reload.
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Tasks', exact: true })).toBeVisible();
  expect(await theme(page)).toBe('dark');
  expect(await background(page)).toBe(darkBg);

  // "Follow system" follows the system live.
  await page.getByTestId('theme-select').selectOption('system');
  await expect.poll(() => theme(page)).toBe('light');
  await page.emulateMedia({ colorScheme: 'dark' });
  await expect.poll(() => theme(page)).toBe('dark');
  await page.emulateMedia({ colorScheme: 'light' });
  await expect.poll(() => theme(page)).toBe('light');

  // The same actions in a menu, with their shortcuts.
  await page.getByTestId('app-menu').click();
  const menu = page.getByRole('menu', { name: 'All actions' });
  await expect(menu.getByRole('menuitem', { name: /Show all commands.*Ctrl\+Shift\+P.*F1/ })).toBeVisible();
  await menu.getByRole('menuitem', { name: /^Volumes/ }).click();
  await expect(page.getByRole('heading', { name: 'Volumes', exact: true })).toBeVisible();

  // A screen shortcut, and the palette button in the sidebar.
  await page.keyboard.press('Alt+1');
  await expect(page.getByRole('heading', { name: 'Connect', exact: true })).toBeVisible();
  await page.getByTestId('open-palette').click();
  await expect(palette(page)).toBeVisible();
  await page.keyboard.press('Escape');

  expect(errors).toEqual([]);
});

function luminance(rgb: string): number {
  const [r, g, b] = (rgb.match(/\d+/g) ?? []).map(Number);
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}
