// Drives VS Code (code-server in Debian's chromium, via playwright-core) through the kimi-lsp
// extension's features, saving a screenshot per step. Prints one "OK <step> <json>" line per step;
// any failure throws (non-zero exit).
//
// Usage: node drive.cjs <code-server url> <workspace folder> <screenshot dir> [all | missing-server]
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const path = require('path');

const [url, folder, shots, scenario = 'all'] = process.argv.slice(2);
const STEP_MS = 30000;
const isMac = false;

function ok(step, detail) {
  console.log(`OK ${step} ${JSON.stringify(detail ?? null)}`);
}

/** Editor text, line by line (Monaco's DOM order is not line order: sort by style.top). */
async function editorLines(page) {
  return page.evaluate(() => {
    const rows = Array.from(document.querySelectorAll('.editor-instance .monaco-editor .view-lines .view-line'));
    rows.sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top));
    return rows.map((row) => row.textContent.replace(/\u00a0/g, ' '));
  });
}

async function waitForLines(page, predicate, what) {
  const deadline = Date.now() + STEP_MS;
  for (;;) {
    const lines = await editorLines(page);
    if (predicate(lines)) return lines;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; editor: ${JSON.stringify(lines)}`);
    await page.waitForTimeout(100);
  }
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`) });
}

// The on-screen box of an element. Monaco re-renders decorations when it scrolls or diagnostics are
// republished, so the element found a moment ago may be detached now: look again until one is laid out.
async function boxOf(locator, what) {
  const deadline = Date.now() + STEP_MS;
  for (;;) {
    await locator.waitFor();
    const box = await locator.boundingBox();
    if (box !== null) return box;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} to be laid out`);
    await locator.page().waitForTimeout(100);
  }
}

async function ghostText(page) {
  return (await page.locator('.ghost-text-decoration').allInnerTexts()).join('').replace(/\u00a0/g, ' ');
}

async function untilGhost(page, expected) {
  const deadline = Date.now() + STEP_MS;
  while ((await ghostText(page)) !== expected) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ghost text ${expected}: ${await ghostText(page)}`);
    await page.waitForTimeout(100);
  }
}

/** Click the status bar item, pick the menu entry that starts with `label`; returns the menu's entries. */
async function fromMenu(page, label) {
  await page.locator('.statusbar-item', { hasText: 'Kimi:' }).first().click();
  const rows = page.locator('.quick-input-list .monaco-list-row');
  await rows.first().waitFor();
  const entries = (await rows.allInnerTexts()).map((text) => text.trim());
  await page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first().click();
  await page.waitForSelector('.quick-input-widget', { state: 'hidden' }).catch(() => undefined);
  return entries;
}

async function goToLine(page, line) {
  await page.keyboard.press('Control+G');
  await page.keyboard.type(String(line));
  await page.keyboard.press('Enter');
}

async function runCommand(page, title) {
  await page.keyboard.press('F1');
  await page.waitForSelector('.quick-input-widget input');
  await page.keyboard.type(title);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor();
  await page.keyboard.press('Enter');
  await page.waitForSelector('.quick-input-widget', { state: 'hidden' });
}

/** The rows Go to Symbol in Workspace (Ctrl+T) lists for `query`, once `done(rows)` holds; asks again until
 * then (the index learns of disk changes after a debounce). */
async function untilSymbols(page, query, done, what, shotName) {
  const deadline = Date.now() + STEP_MS;
  for (;;) {
    await page.keyboard.press('Control+T');
    await page.waitForSelector('.quick-input-widget input');
    await page.keyboard.type(query);
    await page.waitForTimeout(500);
    const rows = await page.locator('.quick-input-list .monaco-list-row', { hasText: query }).allInnerTexts();
    if (done(rows)) await shot(page, shotName);
    await page.keyboard.press('Escape');
    if (done(rows)) return rows;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(rows)}`);
  }
}

async function main() {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    page.setDefaultTimeout(STEP_MS);
    await page.goto(`${url}/?folder=${encodeURIComponent(folder)}`);
    await page.waitForSelector('.monaco-workbench');
    ok('workbench');

    // Open main.py with Quick Open.
    await page.waitForSelector('.explorer-folders-view .monaco-list-row');
    await page.keyboard.press('Control+P');
    await page.waitForSelector('.quick-input-widget input');
    await page.keyboard.type('main.py');
    await page.waitForSelector('.quick-input-list .monaco-list-row');
    await page.keyboard.press('Enter');
    await waitForLines(page, (lines) => lines.some((l) => l.startsWith('def broken(x:')), 'main.py');
    ok('open');

    if (scenario === 'missing-server') {
      // The first-run message: the server command is not found; it says how to install it.
      const toast = page.locator('.notification-toast', { hasText: 'was not found' });
      await toast.first().waitFor();
      await shot(page, 'missing-server');
      ok('missing-server', await page.locator('.notification-toast', { hasText: /kimi/i }).allInnerTexts());
      return;
    }

    // The status bar item fed by kimi/status.
    const status = page.locator('.statusbar-item', { hasText: 'Kimi:' });
    await status.first().waitFor();
    ok('statusbar', await status.first().innerText());

    // Diagnostic: a squiggle under the syntax error (first let kimi/status reach the status bar;
    // the final check below asserts it).
    await page.locator('.statusbar-item', { hasText: 'Kimi: ready' }).first().waitFor({ timeout: 10000 })
      .catch(() => undefined);
    await page.waitForSelector('.squiggly-error');
    await goToLine(page, 9);
    await page.keyboard.press('End');
    const squiggle = await boxOf(page.locator('.squiggly-error').first(), 'the squiggle');
    await page.mouse.move(squiggle.x + squiggle.width / 2, squiggle.y + squiggle.height / 2);
    const hover = page.locator('.monaco-hover', { hasText: 'kimi-lsp' });
    await hover.first().waitFor();
    await shot(page, '1-diagnostic');
    ok('diagnostic', await hover.first().innerText());
    await page.mouse.move(0, 0);
    await hover.first().waitFor({ state: 'hidden' }).catch(() => undefined);

    // Quick fix: Ctrl+. lists "Fix syntax error with Kimi"; choosing it rewrites the lines.
    await page.keyboard.press('Control+.');
    const fix = page.locator('.action-widget .monaco-list-row', { hasText: 'Fix syntax error with Kimi' });
    await fix.first().waitFor();
    await shot(page, '2-quick-fix');
    await fix.first().click();
    const fixed = await waitForLines(page, (lines) => lines.includes('def broken(x):'), 'the quick fix');
    await page.waitForSelector('.squiggly-error', { state: 'detached' });
    await shot(page, '3-fixed');
    ok('quickfix', fixed);

    // Ghost text: type on the last line, see the inline suggestion, accept it with Tab.
    await page.keyboard.press('Control+End');
    await page.keyboard.type('café = add', { delay: 30 });
    const ghost = page.locator('.ghost-text-decoration');
    await ghost.first().waitFor();
    const ghostText = (await ghost.allInnerTexts()).join('').replace(/\u00a0/g, ' ');
    await shot(page, '4-ghost-text');
    await page.keyboard.press('Tab');
    const accepted = await waitForLines(page, (lines) => lines.includes('café = add(1, 2)'), 'the accepted ghost text');
    await shot(page, '5-accepted');
    ok('inline', { ghost: ghostText, lines: accepted });

    // Several suggestions: Alt+] asks again (explicitly: the server answers with three) and shows the next.
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    await page.keyboard.type('total = mul', { delay: 30 });
    await untilGhost(page, '(2, 3)');
    await page.keyboard.press('Alt+]');
    await untilGhost(page, '(3, 2)');
    await shot(page, '5b-next-suggestion');
    await page.keyboard.press('Alt+[');
    await untilGhost(page, '(2, 3)');
    await page.keyboard.press('Escape');
    ok('cycle', ['(2, 3)', '(3, 2)']);

    // Completion widget: the file's symbols.
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    await page.keyboard.type('greeting = gr', { delay: 30 });
    await page.keyboard.press('Control+Space');
    const rows = page.locator('.suggest-widget.visible .monaco-list-row');
    await rows.first().waitFor();
    await page.locator('.suggest-widget.visible .monaco-list-row', { hasText: 'greet' }).first().waitFor();
    const labels = await rows.allInnerTexts();
    await shot(page, '6-completion');
    ok('completion', labels);
    await page.keyboard.press('Escape');
    ok('statusbar-final', await status.first().innerText());

    // Symbols from the index. Go to Symbol in Editor (Ctrl+Shift+O): this file's outline.
    await page.keyboard.press('Control+Shift+O');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'greet' }).first().waitFor();
    const outline = await page.locator('.quick-input-list .monaco-list-row').allInnerTexts();
    await shot(page, '7-document-symbols');
    await page.keyboard.press('Escape');
    ok('document-symbols', outline);
    // Go to Symbol in Workspace (Ctrl+T) finds a file another program wrote after the start: the client's
    // file watcher (registered by the server) tells the index.
    fs.mkdirSync(path.join(folder, 'gen'), { recursive: true });
    fs.writeFileSync(path.join(folder, 'gen', 'api.py'), 'def generated_endpoint():\n    pass\n');
    const found = await untilSymbols(page, 'generated_endpoint', (rows) => rows.length > 0, 'the written file',
      '8-workspace-symbols');
    ok('workspace-symbols', found);
    fs.rmSync(path.join(folder, 'gen'), { recursive: true });
    ok('deleted-folder', await untilSymbols(page, 'generated_endpoint', (rows) => rows.length === 0,
      'the deleted folder to be forgotten', '9-deleted-folder'));

    // The extension's commands.
    await runCommand(page, 'Kimi: Toggle Inline Suggestions');
    await page.locator('.statusbar-item', { hasText: 'inline off' }).first().waitFor();
    ok('toggle-off', await status.first().innerText());
    await runCommand(page, 'Kimi: Toggle Inline Suggestions');
    await page.locator('.statusbar-item', { hasText: 'inline off' }).first().waitFor({ state: 'detached' });
    ok('toggle-on', await status.first().innerText());
    // The status bar menu: off for this language (the status says so), then on again.
    await page.locator('.statusbar-item', { hasText: 'Kimi:' }).first().click();
    await page.locator('.quick-input-list .monaco-list-row').first().waitFor();
    await shot(page, '9b-status-menu');
    await page.keyboard.press('Escape');
    const entries = await fromMenu(page, 'Disable inline suggestions for python');
    await page.locator('.statusbar-item', { hasText: 'inline off' }).first().waitFor();
    ok('menu', entries);
    ok('menu-language-off', await status.first().innerText());
    await fromMenu(page, 'Enable inline suggestions for python');
    await page.locator('.statusbar-item', { hasText: 'inline off' }).first().waitFor({ state: 'detached' });
    ok('menu-language-on', await status.first().innerText());
    // The engine API key goes to the secret storage (the test reads settings.json after the run).
    await fromMenu(page, 'Set engine API key');
    await page.waitForSelector('.quick-input-widget input[type="password"]');
    await page.keyboard.type('sk-kimi-test-secret');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.quick-input-widget', { state: 'hidden' });
    ok('api-key');
    await runCommand(page, 'Kimi: Reindex Workspace');
    await page.waitForTimeout(1000);
    const dialog = page.locator('.monaco-dialog-box');
    if (await dialog.count() > 0) throw new Error(`reindex: ${await dialog.first().innerText()}`);
    ok('reindex');
    await runCommand(page, 'Kimi: Show Log');
    await page.locator('.panel', { hasText: 'starting' }).first().waitFor();
    ok('log', await page.locator('.panel .view-lines').first().innerText());
    await runCommand(page, 'Kimi: Restart Language Server');
    await page.locator('.panel .view-line', { hasText: 'starting' }).nth(1).waitFor();
    await page.locator('.statusbar-item', { hasText: 'Kimi: ready' }).first().waitFor();
    await shot(page, '10-restarted');
    ok('restart', await status.first().innerText());
    const errors = await page.locator('.notification-toast', { hasText: /kimi/i }).allInnerTexts();
    ok('notifications', errors);
  } catch (error) {
    await Promise.all(browser.contexts().flatMap((context) => context.pages())
      .map((page) => shot(page, 'failure').catch(() => undefined)));
    throw error;
  } finally {
    await browser.close();
  }
}

main().then(() => process.exit(0), (error) => {
  console.error(error && error.stack ? error.stack : error);
  process.exit(1);
});
