#!/usr/bin/env node
// End-to-end test of the mcls extension in a real VS Code: code-server (the VS
// Code workbench served over HTTP) with the packaged .vsix installed, driven by
// playwright-core through Debian's chromium (headless, started here and
// connected to over CDP so that exactly what this script started is stopped).
//
//   npm run test:e2e                  (from editors/vscode)
//   node test/e2e/run.mjs [--screenshot] [--keep]
//
// It opens a .tex and a .md file and checks, in the workbench's DOM: the error
// squiggle of a dimension mismatch and its hover message, the hover on
// `M = A X X^\top A^\top` (typeset image + LaTeX source), and that the
// "Insert derivation" code action (Ctrl+.) inserts an align* / $$ block, read
// back from the saved file.
//
// Needs: Node 20, chromium, rg (Debian: apt-get install chromium ripgrep
// libkrb5-dev), a Python with mcls (env MCLS_E2E_PYTHON, default python3) and
// the npm registry for the first run, which installs code-server into a cache
// (env MCLS_E2E_CACHE, default ~/.cache/mcls-vscode-e2e/code-server-<version>;
// ≈ 2 min cold, then ≈ 30 s per run). Exit status: 0 pass, 1 fail, 2 missing
// prerequisites, 3 code-server could not be installed from the npm registry.
//   --screenshot  also writes images/hover.png (the README's screenshot)
//   --keep        keeps the temporary directory (workspace, logs, screenshots)

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const CODE_SERVER = '4.100.3';
const PLAYWRIGHT = '1.55.0';
const RIPGREP_PKG = '1.15.11'; // @vscode/ripgrep in code-server 4.100.3
const RIPGREP_TARBALL = 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz';
const TIMEOUT = 90_000; // per wait in the workbench (first server start imports sympy)

const HERE = path.dirname(fileURLToPath(import.meta.url));
const EXT_DIR = path.resolve(HERE, '..', '..');
const args = new Set(process.argv.slice(2));
const cacheDir = process.env.MCLS_E2E_CACHE
  ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'mcls-vscode-e2e', `code-server-${CODE_SERVER}`);

const TEX = String.raw`\documentclass{article}
\begin{document}
Let $A \in \mathbb{R}^{n\times n}$ and $X \in \mathbb{R}^{n\times m}$.
The product $A X^\top$ does not exist.
\[
  M = A X X^\top A^\top
\]
\end{document}
`;
const MD = String.raw`# Shapes

Let $A \in \mathbb{R}^{n\times n}$ and $X \in \mathbb{R}^{n\times m}$.
The product $A X^\top$ does not exist.

$$
M = A X X^\top A^\top
$$
`;

const started = []; // child processes this script started: stopped in cleanup()
const t0 = Date.now();
const log = (msg) => console.log(`[e2e ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${msg}`);

function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const f = path.join(dir, cmd);
    try {
      fs.accessSync(f, fs.constants.X_OK);
      if (fs.statSync(f).isFile()) return f;
    } catch { /* next */ }
  }
  return undefined;
}

function prerequisites() {
  const missing = [];
  const chromium = process.env.MCLS_E2E_CHROMIUM
    ?? ['/usr/lib/chromium/chromium', which('chromium'), which('chromium-browser')].find((p) => p && fs.existsSync(p));
  if (!chromium) missing.push('chromium (apt-get install chromium)');
  const rg = which('rg');
  if (!rg) missing.push('ripgrep (apt-get install ripgrep)');
  const python = process.env.MCLS_E2E_PYTHON ?? which('python3') ?? which('python');
  let mclsVersion;
  if (python) {
    const r = spawnSync(python, ['-m', 'mcls', '--version'], { encoding: 'utf8' });
    mclsVersion = r.status === 0 ? r.stdout.trim() : undefined;
  }
  if (!mclsVersion) missing.push(`a Python with mcls installed (MCLS_E2E_PYTHON; tried ${python ?? 'python3'})`);
  const major = Number(process.versions.node.split('.')[0]);
  if (major !== 20) missing.push(`Node 20 (code-server ${CODE_SERVER} needs it; this is ${process.version})`);
  if (missing.length) {
    console.error(`e2e: missing prerequisites:\n  - ${missing.join('\n  - ')}`);
    process.exit(2);
  }
  return { chromium, rg, python, mclsVersion };
}

const INSTALL_TIMEOUT = 240_000; // one `npm install` of code-server (≈ 70 s on a fresh machine)
const INSTALLED = '.mcls-e2e-installed'; // written after a complete install: an interrupted one is redone

/** Runs npm in its own process group (stopped by cleanup() too); resolves to its exit code, or 'timeout'. */
function npmInstall(env) {
  return new Promise((resolve) => {
    const child = spawn('npm', ['install', `code-server@${CODE_SERVER}`, `playwright-core@${PLAYWRIGHT}`],
      { cwd: cacheDir, env, stdio: 'inherit', detached: true });
    started.push({ name: 'npm install', child });
    const timer = setTimeout(() => {
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
      resolve('timeout');
    }, INSTALL_TIMEOUT);
    child.once('error', () => { clearTimeout(timer); resolve('error'); });
    child.once('exit', (code, signal) => { clearTimeout(timer); resolve(code ?? signal); });
  });
}

async function installCodeServer(rg) {
  const bin = path.join(cacheDir, 'node_modules', '.bin', 'code-server');
  if (fs.existsSync(path.join(cacheDir, INSTALLED)) && fs.existsSync(bin)) {
    return bin;
  }
  log(`installing code-server ${CODE_SERVER} and playwright-core ${PLAYWRIGHT} into ${cacheDir} (≈ 1–2 min, once)`);
  fs.rmSync(path.join(cacheDir, 'node_modules'), { recursive: true, force: true }); // an interrupted install
  fs.mkdirSync(cacheDir, { recursive: true });
  fs.writeFileSync(path.join(cacheDir, 'package.json'), JSON.stringify({ private: true, name: 'mcls-vscode-e2e-cache' }));
  // @vscode/ripgrep downloads rg from GitHub at install time; give it Debian's rg from its cache instead.
  const rgCache = path.join(os.tmpdir(), `vscode-ripgrep-cache-${RIPGREP_PKG}`);
  fs.mkdirSync(rgCache, { recursive: true });
  const tarball = path.join(rgCache, RIPGREP_TARBALL);
  if (!fs.existsSync(tarball)) {
    const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'rg-'));
    fs.copyFileSync(rg, path.join(stage, 'rg'));
    fs.chmodSync(path.join(stage, 'rg'), 0o755);
    execFileSync('tar', ['-czf', tarball, '-C', stage, 'rg']);
    fs.rmSync(stage, { recursive: true, force: true });
  }
  const env = {
    ...process.env,
    npm_config_unsafe_perm: 'true', // code-server's postinstall refuses to run as root without it
    npm_config_yes: 'true', // node-pty's post-install runs `npx node-gyp`
    npm_config_nodedir: process.env.npm_config_nodedir ?? '/usr', // Debian's Node headers for native modules
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  };
  // One retry for a transient registry error; none after a timeout (a slow registry stays slow).
  let status = await npmInstall(env);
  if (status !== 0 && status !== 'timeout') {
    log(`npm install failed (${status}); trying once more`);
    fs.rmSync(path.join(cacheDir, 'node_modules'), { recursive: true, force: true });
    status = await npmInstall(env);
  }
  if (status !== 0 || !fs.existsSync(bin)) {
    // Exit 3: the npm registry (or the build of code-server's native modules) let us down, not the extension.
    console.error(`e2e: could not install code-server ${CODE_SERVER} from the npm registry (npm install: ${status === 'timeout' ? `no result in ${INSTALL_TIMEOUT / 1000} s` : `exit ${status}`}); see https://github.com/coder/code-server/blob/main/docs/npm.md`);
    await cleanup();
    process.exit(3);
  }
  fs.writeFileSync(path.join(cacheDir, INSTALLED), `code-server@${CODE_SERVER} playwright-core@${PLAYWRIGHT}\n`);
  return bin;
}

function buildVsix() {
  if (process.env.MCLS_E2E_VSIX) return path.resolve(process.env.MCLS_E2E_VSIX);
  log('packaging the extension (npm run package)');
  execFileSync('npm', ['run', '--silent', 'package'], { cwd: EXT_DIR, stdio: ['ignore', 'ignore', 'inherit'] });
  return path.join(EXT_DIR, 'mcls.vsix');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function startProcess(name, cmd, argv, opts, logFile) {
  const out = fs.openSync(logFile, 'a');
  const child = spawn(cmd, argv, { ...opts, detached: true, stdio: ['ignore', out, out] });
  started.push({ name, child });
  return child;
}

async function waitFor(what, fn, timeout = TIMEOUT, interval = 250) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, interval));
  }
  throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

/** Stops what this script started (each in its own process group): SIGTERM, then SIGKILL after 5 s. */
async function cleanup() {
  const alive = (c) => c.exitCode === null && c.signalCode === null;
  const signal = (c, sig) => {
    try {
      process.kill(-c.pid, sig); // the process group: the child and what it started
    } catch { /* gone */ }
  };
  const running = started.splice(0).reverse().filter(({ child }) => alive(child));
  for (const { child } of running) signal(child, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while (running.some(({ child }) => alive(child)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const { child } of running) signal(child, 'SIGKILL');
}

// ------------------------------------------------------------------ workbench helpers

async function openFile(page, name) {
  await page.keyboard.press('Escape');
  // The Explorer shows the workspace's files: open one by clicking it (a single click opens it in preview).
  const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).first();
  await row.waitFor({ state: 'visible', timeout: TIMEOUT });
  await row.click();
  await waitFor(`an editor on ${name}`, async () =>
    (await page.locator(`.tabs-container .tab.active[aria-label*="${name}"]`).count()) > 0, 30_000);
  await page.locator('.editor-instance .monaco-editor .view-lines').first().waitFor({ state: 'visible' });
}

/** Screen position of the character at `offset` in the first visible editor line containing `text`. */
async function charPosition(page, text, offset = 0) {
  return page.evaluate(({ text, offset }) => {
    const lines = [...document.querySelectorAll('.editor-instance .monaco-editor .view-line')];
    const line = lines.find((l) => l.textContent.replace(/\u00a0/g, ' ').includes(text));
    if (!line) return null;
    const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
    let seen = 0;
    const target = line.textContent.replace(/\u00a0/g, ' ').indexOf(text) + offset;
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const len = node.textContent.length;
      if (seen + len > target) {
        const range = document.createRange();
        range.setStart(node, target - seen);
        range.setEnd(node, target - seen + 1);
        const r = range.getBoundingClientRect();
        return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
      }
      seen += len;
    }
    return null;
  }, { text, offset });
}

async function visibleHover(page) {
  const hover = page.locator('.monaco-hover:not(.hidden)').filter({ has: page.locator('.hover-contents, .hover-row') });
  return (await hover.count()) > 0 ? hover.last() : null;
}

async function dismissHovers(page) {
  await page.mouse.move(700, 880); // the status bar: no hover there
  await page.keyboard.press('Escape');
  await waitFor('the previous hover to close', async () => (await visibleHover(page)) === null, 10_000, 200);
}

async function hoverAt(page, text, offset, expect) {
  await dismissHovers(page);
  const pos = await waitFor(`the text ${text} on screen`, () => charPosition(page, text, offset), 20_000);
  await page.mouse.move(pos.x - 40, pos.y + 60);
  await page.mouse.move(pos.x, pos.y, { steps: 4 });
  return waitFor(`a hover at ${text}`, async () => {
    const h = await visibleHover(page);
    if (!h) return null;
    const t = await h.innerText();
    if (expect && !expect.test(t)) {
      await page.mouse.move(pos.x + 1, pos.y, { steps: 2 });
      return null;
    }
    return { locator: h, text: t };
  }, 30_000, 500);
}

async function runDerivationAction(page, text) {
  await dismissHovers(page);
  const pos = await charPosition(page, text, 0);
  await page.mouse.click(pos.x, pos.y);
  await page.mouse.move(10, 10);
  await page.keyboard.press('Control+.');
  const widget = page.locator('.action-widget');
  await widget.waitFor({ state: 'visible', timeout: 30_000 });
  const titles = await waitFor('code actions in the menu', async () => {
    const rows = await widget.locator('.monaco-list-row.action').allInnerTexts();
    return rows.length ? rows : null;
  }, 30_000);
  const chosen = titles.find((t) => t.trim().startsWith('Insert derivation'));
  if (!chosen) throw new Error(`no "Insert derivation" action; the menu has: ${titles.join(' | ')}`);
  for (let i = 0; i < 40; i++) {
    const focused = await widget.locator('.monaco-list-row.focused').first().innerText().catch(() => '');
    if (focused.trim().startsWith('Insert derivation')) break;
    await page.keyboard.press('ArrowDown');
  }
  const focused = (await widget.locator('.monaco-list-row.focused').first().innerText()).trim();
  if (!focused.startsWith('Insert derivation')) throw new Error(`could not select "Insert derivation" (focused: ${focused})`);
  await page.keyboard.press('Enter');
  return { titles: titles.map((t) => t.trim()), chosen: focused };
}

// ------------------------------------------------------------------ main

async function main() {
  const pre = prerequisites();
  log(`python ${pre.python} (${pre.mclsVersion}), chromium ${pre.chromium}`);
  const codeServer = await installCodeServer(pre.rg);
  const require = createRequire(path.join(cacheDir, 'package.json'));
  const { chromium } = require('playwright-core');
  const vsix = buildVsix();

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mcls-vscode-e2e-'));
  const userData = path.join(work, 'user-data');
  const extensions = path.join(work, 'extensions');
  const workspace = path.join(work, 'workspace');
  fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
  fs.mkdirSync(workspace, { recursive: true });
  fs.writeFileSync(path.join(workspace, 'paper.tex'), TEX);
  fs.writeFileSync(path.join(workspace, 'notes.md'), MD);
  fs.writeFileSync(path.join(userData, 'User', 'settings.json'), JSON.stringify({
    'workbench.startupEditor': 'none',
    'workbench.colorTheme': 'Default Dark Modern',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'security.workspace.trust.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.ignoreRecommendations': true,
    'extensions.autoCheckUpdates': false,
    'chat.disableAIFeatures': true,
    'editor.hover.delay': 150,
    'editor.minimap.enabled': false,
    'files.autoSave': 'off',
    'mcls.python': pre.python,
    'mcls.server.logLevel': 'INFO',
  }, null, 2));
  fs.mkdirSync(path.join(work, 'tmp'));
  const env = {
    ...process.env,
    TMPDIR: path.join(work, 'tmp'), // code-server's sockets, chromium's temporary files
    XDG_CONFIG_HOME: path.join(work, 'xdg-config'),
    XDG_DATA_HOME: path.join(work, 'xdg-data'),
    XDG_CACHE_HOME: path.join(work, 'xdg-cache'),
  };
  const results = { work, files: {} };
  let browser;
  try {
    log(`installing ${path.relative(process.cwd(), vsix) || vsix} into code-server`);
    execFileSync(codeServer, ['--user-data-dir', userData, '--extensions-dir', extensions, '--install-extension', vsix], { env, stdio: ['ignore', 'pipe', 'inherit'] });

    const port = await freePort();
    startProcess('code-server', codeServer, [
      '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none',
      '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
      '--user-data-dir', userData, '--extensions-dir', extensions, workspace,
    ], { env, cwd: workspace }, path.join(work, 'code-server.log'));
    await waitFor('code-server to answer', async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 60_000);
    log(`code-server ${CODE_SERVER} on port ${port}`);

    const cdpPort = await freePort();
    startProcess('chromium', pre.chromium, [
      '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
      '--no-default-browser-check', '--disable-extensions', '--password-store=basic',
      // no connections of its own: this machine's network refuses them, and they only slow chromium down
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic',
      `--remote-debugging-port=${cdpPort}`, `--user-data-dir=${path.join(work, 'chromium')}`,
      '--window-size=1400,900', 'about:blank',
    ], { env }, path.join(work, 'chromium.log'));
    await waitFor('chromium DevTools', async () => (await fetch(`http://127.0.0.1:${cdpPort}/json/version`)).ok, 30_000);
    browser = await chromium.connectOverCDP(`http://127.0.0.1:${cdpPort}`);
    const context = browser.contexts()[0] ?? await browser.newContext();
    const page = context.pages()[0] ?? await context.newPage();
    await page.setViewportSize({ width: 1400, height: 900 });
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
    await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: TIMEOUT });
    await page.locator('.explorer-folders-view, .explorer-viewlet').first().waitFor({ timeout: TIMEOUT }).catch(() => {});
    log('workbench loaded');

    for (const [name, kind] of [['paper.tex', 'tex'], ['notes.md', 'md']]) {
      const r = {};
      results.files[name] = r;
      await openFile(page, name);
      log(`${name}: opened`);

      await page.locator('.editor-instance .squiggly-error').first().waitFor({ state: 'attached', timeout: TIMEOUT });
      r.squiggles = await page.locator('.editor-instance .squiggly-error').count();
      const diag = await hoverAt(page, 'A X^\\top$', 0, /cannot multiply|shape\/matmul/);
      r.diagnosticHover = diag.text;
      log(`${name}: squiggle, hover says: ${diag.text.split('\n')[0]}`);

      const hover = await hoverAt(page, 'M = A X X', 0, /^M = A X Xᵀ Aᵀ/);
      r.hover = hover.text;
      r.hoverImages = await hover.locator.locator('img').evaluateAll((imgs) => imgs.map((i) => ({
        src: i.getAttribute('src')?.slice(0, 30), width: i.naturalWidth, height: i.naturalHeight,
      })));
      log(`${name}: hover with ${r.hoverImages.length} image(s): ${hover.text.replace(/\s+/g, ' ').slice(0, 120)}`);
      if (kind === 'tex') {
        const shot = path.join(work, 'hover.png');
        const box = await hover.locator.boundingBox();
        const clip = box ? {
          x: Math.max(0, box.x - 160), y: Math.max(0, box.y - 60),
          width: Math.min(1400 - Math.max(0, box.x - 160), box.width + 320),
          height: Math.min(900 - Math.max(0, box.y - 60), box.height + 200),
        } : undefined;
        await page.screenshot({ path: shot, clip });
        r.screenshot = shot;
        if (args.has('--screenshot')) {
          fs.mkdirSync(path.join(EXT_DIR, 'images'), { recursive: true });
          fs.copyFileSync(shot, path.join(EXT_DIR, 'images', 'hover.png'));
          log('wrote images/hover.png');
        }
      }

      const before = fs.readFileSync(path.join(workspace, name), 'utf8');
      const action = await runDerivationAction(page, 'M = A X X');
      r.actions = action.titles;
      r.chosen = action.chosen;
      await waitFor('the editor to change', async () => {
        const text = await page.locator('.editor-instance .view-lines').first().innerText();
        return kind === 'tex' ? text.includes('align*') : (text.match(/\$\$/g) ?? []).length > (before.match(/\$\$/g) ?? []).length;
      }, 30_000);
      await page.keyboard.press('Control+S');
      const after = await waitFor('the file to be saved', () => {
        const t = fs.readFileSync(path.join(workspace, name), 'utf8');
        return t !== before ? t : null;
      }, 20_000);
      r.after = after;
      log(`${name}: applied "${action.chosen}"`);
    }

    // A broken server path, set in the Settings editor: the change restarts the server, which
    // cannot start and says so in a notification.
    await dismissHovers(page);
    await page.keyboard.press('Control+,');
    await page.locator('.settings-editor').waitFor({ state: 'visible', timeout: 30_000 });
    // In a remote window (code-server is one) machine-scoped settings live on the Remote tab.
    const remoteTab = page.locator('.settings-editor .settings-tabs-widget .action-label', { hasText: 'Remote' });
    if (await remoteTab.count()) await remoteTab.first().click();
    await page.locator('.settings-editor .suggest-input-container').click();
    await page.keyboard.type('mcls.server.path', { delay: 20 });
    const item = page.locator('.settings-editor .settings-body .setting-item-contents', { hasText: 'Server: Path' }).first();
    await item.waitFor({ state: 'visible', timeout: 30_000 });
    const input = item.locator('input').first();
    await input.fill('/nonexistent/bin/mcls');
    await input.press('Tab');
    results.missingServer = await waitFor('the "server missing" notification', async () => {
      const toasts = await page.locator('.notifications-toasts .notification-toast').allInnerTexts();
      return toasts.find((t) => t.includes('mcls.server.path')) ?? null;
    }, 30_000);
    log(`notification: ${results.missingServer.replace(/\s+/g, ' ').slice(0, 160)}`);
  } catch (err) {
    const page = browser?.contexts()[0]?.pages()[0];
    if (page) {
      await page.screenshot({ path: path.join(work, 'failure.png') }).catch(() => {});
      log(`screenshot of the failure: ${path.join(work, 'failure.png')}`);
    }
    process.exitCode = 1;
    throw err;
  } finally {
    if (args.has('--keep') || process.exitCode) {
      log(`work directory kept: ${work}`);
    }
    await browser?.close().catch(() => {});
    await cleanup();
  }
  return results;
}

function check(results) {
  const failures = [];
  const expect = (cond, msg) => { if (!cond) failures.push(msg); };
  for (const [name, r] of Object.entries(results.files)) {
    const tex = name.endsWith('.tex');
    expect(r.squiggles > 0, `${name}: no error squiggle`);
    expect(/cannot multiply A \(n×n\) by X\^\\top \(m×n\)/.test(r.diagnosticHover ?? ''), `${name}: diagnostic hover: ${r.diagnosticHover}`);
    expect((r.hover ?? '').trim().length > 0, `${name}: empty hover on M`);
    expect(!/\$\$?\\frac/.test(r.hover ?? ''), `${name}: raw $…$ TeX in the hover: ${r.hover}`);
    const src = (r.hoverImages ?? []).map((i) => i.src ?? '');
    expect(src.some((s) => s.startsWith('data:image/svg+xml')), `${name}: no SVG image in the hover (images: ${JSON.stringify(r.hoverImages)})`);
    expect((r.hoverImages ?? []).every((i) => i.width > 0), `${name}: a hover image did not load: ${JSON.stringify(r.hoverImages)}`);
    expect(r.chosen?.startsWith('Insert derivation'), `${name}: no derivation action chosen (${r.actions})`);
    if (tex) {
      expect(/\\begin\{align\*\}[\s\S]*\\end\{align\*\}/.test(r.after ?? ''), `${name}: no align* block after the action:\n${r.after}`);
      expect((r.after ?? '').startsWith(TEX.slice(0, TEX.indexOf('\\end{document}'))), `${name}: the text before the block changed`);
    } else {
      expect(((r.after ?? '').match(/\$\$/g) ?? []).length >= 4, `${name}: no $$ block after the action:\n${r.after}`);
      expect((r.after ?? '').startsWith(MD.trimEnd()), `${name}: the text before the block changed`);
    }
  }
  expect(Object.keys(results.files).length === 2, 'not every file was checked');
  expect(/\/nonexistent\/bin\/mcls does not exist/.test(results.missingServer ?? ''), `no clear notification for a missing server: ${results.missingServer}`);
  return failures;
}

process.on('SIGINT', () => { void cleanup().then(() => process.exit(130)); });
process.on('SIGTERM', () => { void cleanup().then(() => process.exit(143)); });

main().then((results) => {
  const failures = check(results);
  fs.writeFileSync(path.join(results.work, 'results.json'), JSON.stringify(results, null, 2));
  if (failures.length) {
    console.error(`e2e: FAIL\n  - ${failures.join('\n  - ')}\n(details: ${path.join(results.work, 'results.json')})`);
    process.exitCode = 1;
  } else {
    log(`PASS (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    if (!args.has('--keep')) {
      try {
        fs.rmSync(results.work, { recursive: true, force: true, maxRetries: 5 });
      } catch (err) {
        log(`could not remove ${results.work}: ${err.message}`);
      }
    }
  }
}, (err) => {
  console.error(`e2e: FAIL: ${err?.stack ?? err}`);
  process.exitCode = 1;
});
