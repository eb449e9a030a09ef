// Unit tests of the server search (plain Node, no VS Code): npm test
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { advice, compareVersions, expandPath, findOnPath, parseVersion, resolveServer, serveArgs } from '../../src/server';

const isWindows = process.platform === 'win32';

const made: string[] = [];
after(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

/** A directory with fake executables: `mcls` printing a version, a `python3` that has or lacks mcls. */
function fakeBin(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcls-vscode-test-'));
  made.push(dir);
  for (const [name, body] of Object.entries(files)) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `#!/bin/sh\n${body}\n`);
    fs.chmodSync(file, 0o755);
  }
  return dir;
}

const mclsPrinting = (version: string) => `echo "mcls ${version}"`;
const pythonWith = (version: string) => `if [ "$1" = "-m" ] && [ "$2" = "mcls" ]; then echo "mcls ${version}"; else exit 3; fi`;
const pythonWithout = `echo "/usr/bin/python3: No module named mcls" >&2; exit 1`;

test('parseVersion reads `mcls --version`', () => {
  assert.equal(parseVersion('mcls 0.1.0\n'), '0.1.0');
  assert.equal(parseVersion('mcls 1.2.3.dev4+g1234'), '1.2.3.dev4+g1234');
  assert.equal(parseVersion('mcls v2.0'), '2.0');
  assert.equal(parseVersion('usage: mcls ...'), undefined);
});

test('compareVersions compares numerically', () => {
  assert.ok(compareVersions('0.10.0', '0.9.9') > 0);
  assert.ok(compareVersions('0.1.0', '0.1.0') === 0);
  assert.ok(compareVersions('0.1', '0.1.0') === 0);
  assert.ok(compareVersions('0.0.9', '0.1.0') < 0);
  assert.ok(compareVersions('1.0.0.dev1', '0.9') > 0);
});

test('expandPath expands ~, ${workspaceFolder}, ${env:X} and relative paths', () => {
  const env = { HOME: '/home/u', VENV: '/opt/venv' };
  assert.equal(expandPath('~/bin/mcls', undefined, env), '/home/u/bin/mcls');
  assert.equal(expandPath('${workspaceFolder}/.venv/bin/python', '/ws', env), '/ws/.venv/bin/python');
  assert.equal(expandPath('${env:VENV}/bin/python', '/ws', env), '/opt/venv/bin/python');
  assert.equal(expandPath('.venv/bin/python', '/ws', env), path.resolve('/ws', '.venv/bin/python'));
  assert.equal(expandPath('python3', '/ws', env), 'python3');
  assert.equal(expandPath('  ', '/ws', env), '');
});

test('findOnPath finds executables only', { skip: isWindows }, () => {
  const dir = fakeBin({ mcls: mclsPrinting('0.1.0') });
  fs.writeFileSync(path.join(dir, 'notexec'), 'x');
  assert.equal(findOnPath('mcls', { PATH: `/nonexistent:${dir}` }), path.join(dir, 'mcls'));
  assert.equal(findOnPath('notexec', { PATH: dir }), undefined);
  assert.equal(findOnPath('mcls', { PATH: '' }), undefined);
});

test('mcls on PATH is used when no setting is given', { skip: isWindows }, async () => {
  const dir = fakeBin({ mcls: mclsPrinting('0.3.0') });
  const r = await resolveServer({ env: { PATH: dir } });
  assert.equal(r.server?.source, 'PATH');
  assert.equal(r.server?.command, path.join(dir, 'mcls'));
  assert.equal(r.server?.version, '0.3.0');
  assert.deepEqual(serveArgs(r.server!, 'INFO'), ['serve', '--log-level', 'INFO']);
});

test('mcls.server.path wins, and is reported when it does not exist', { skip: isWindows }, async () => {
  const dir = fakeBin({ mcls: mclsPrinting('0.3.0'), other: mclsPrinting('0.4.0') });
  const ok = await resolveServer({ env: { PATH: dir }, serverPath: path.join(dir, 'other') });
  assert.equal(ok.server?.source, 'setting:mcls.server.path');
  assert.equal(ok.server?.version, '0.4.0');

  const bad = await resolveServer({ env: { PATH: dir }, serverPath: '/nonexistent/mcls' });
  assert.equal(bad.server, undefined, 'an explicit setting is not silently replaced by PATH');
  assert.match(advice(bad).message, /mcls\.server\.path/);
});

test('mcls.python runs `python -m mcls`, before PATH', { skip: isWindows }, async () => {
  const dir = fakeBin({ mcls: mclsPrinting('0.3.0'), mypython: pythonWith('0.5.0') });
  const r = await resolveServer({ env: { PATH: dir }, python: path.join(dir, 'mypython') });
  assert.equal(r.server?.source, 'setting:mcls.python');
  assert.deepEqual(serveArgs(r.server!), ['-m', 'mcls', 'serve', '--log-level', 'WARNING']);
});

test('untrusted workspaces ignore the path settings', { skip: isWindows }, async () => {
  const dir = fakeBin({ mcls: mclsPrinting('0.3.0'), mypython: pythonWith('0.5.0') });
  const r = await resolveServer({ env: { PATH: dir }, python: path.join(dir, 'mypython'), restricted: true });
  assert.equal(r.server?.source, 'PATH');
});

test('the Python extension interpreter is used when mcls is not on PATH', { skip: isWindows }, async () => {
  const dir = fakeBin({ extpython: pythonWith('0.2.0') });
  const r = await resolveServer({ env: { PATH: '/nonexistent' }, pythonExtensionInterpreter: async () => path.join(dir, 'extpython') });
  assert.equal(r.server?.source, 'Python extension');
  assert.equal(r.server?.python, path.join(dir, 'extpython'));
});

test('python3 on PATH is the last resort', { skip: isWindows }, async () => {
  const dir = fakeBin({ python3: pythonWith('0.2.0') });
  const r = await resolveServer({ env: { PATH: dir } });
  assert.equal(r.server?.source, 'python on PATH');
});

test('missing everywhere: advice says how to install', { skip: isWindows }, async () => {
  const dir = fakeBin({ python3: pythonWithout });
  const r = await resolveServer({ env: { PATH: dir } });
  assert.equal(r.server, undefined);
  const a = advice(r);
  assert.match(a.message, /not found/);
  assert.match(a.message, /pip install mcls/);
  assert.equal(a.python, path.join(dir, 'python3'));
  assert.deepEqual(a.pipArgs, ['pip', 'install', '--upgrade', 'mcls']);
});

test('too old: skipped for a newer one, else reported with the upgrade', { skip: isWindows }, async () => {
  const old = fakeBin({ mcls: mclsPrinting('0.0.1') });
  const newer = fakeBin({ python3: pythonWith('0.2.0') });
  const r = await resolveServer({ env: { PATH: `${old}:${newer}` } });
  assert.equal(r.server?.source, 'python on PATH');

  const only = await resolveServer({ env: { PATH: old }, minVersion: '0.1.0' });
  assert.equal(only.server, undefined);
  assert.match(advice(only).message, /0\.0\.1, too old .* 0\.1\.0/);
  assert.match(advice(only).message, /pip install --upgrade mcls/);
});
