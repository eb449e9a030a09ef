// Finding the mcls server: no `vscode` import here, so the unit tests run in plain Node.
//
// Order (like Microsoft's Python tool extensions, explicit settings first):
//   1. setting mcls.server.path          -> <path> serve
//   2. setting mcls.python               -> <python> -m mcls serve
//   3. `mcls` on PATH                    -> mcls serve
//   4. the Python extension's interpreter -> <python> -m mcls serve
//   5. python3 / python on PATH          -> <python> -m mcls serve
// An explicit setting is used alone: when it does not work, that is reported
// rather than silently starting some other mcls. The automatic candidates
// (3-5) are tried in turn; the first that answers `--version` with a version
// new enough wins.

import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The oldest server this extension works with (it needs initializationOptions.hoverFormat). */
export const MIN_SERVER_VERSION = '0.1.0';

/** What users are told to run to install or upgrade the server. */
export const PIP_PACKAGE = 'mcls';

export type Source = 'setting:mcls.server.path' | 'setting:mcls.python' | 'PATH' | 'Python extension' | 'python on PATH';

export interface Candidate {
  source: Source;
  /** The executable (mcls itself or a Python interpreter). */
  command: string;
  /** Arguments before the subcommand: [] for mcls, ['-m', 'mcls'] for Python. */
  prefix: string[];
  /** The interpreter, when the server runs as `python -m mcls`. */
  python?: string;
}

export interface Attempt {
  candidate: Candidate;
  /** 'ok', or why it cannot be used. */
  status: 'ok' | 'missing' | 'not-installed' | 'too-old' | 'failed';
  version?: string;
  detail?: string;
}

export interface Resolution {
  /** The server to start, when one works. */
  server?: Candidate & { version: string };
  /** Everything tried, in order (for the log and the error message). */
  attempts: Attempt[];
}

export interface ResolveOptions {
  serverPath?: string;
  python?: string;
  /** Ignore the two path settings (untrusted workspace). */
  restricted?: boolean;
  /** The Python extension's active interpreter, asked only when needed. */
  pythonExtensionInterpreter?: () => Promise<string | undefined>;
  workspaceFolder?: string;
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  /** Seconds to wait for `--version`. */
  timeoutSeconds?: number;
  minVersion?: string;
}

/** `~`, `${userHome}`, `${workspaceFolder}` and `${env:NAME}` in a path setting. */
export function expandPath(value: string, workspaceFolder?: string, env: NodeJS.ProcessEnv = process.env): string {
  let v = value.trim();
  const home = env.HOME || env.USERPROFILE || os.homedir();
  if (v === '~' || v.startsWith('~/') || v.startsWith('~\\')) {
    v = home + v.slice(1);
  }
  v = v.replace(/\$\{userHome\}/g, home);
  v = v.replace(/\$\{env:([^}]+)\}/g, (_, name: string) => env[name] ?? '');
  if (workspaceFolder !== undefined) {
    v = v.replace(/\$\{workspaceFolder\}/g, workspaceFolder);
  }
  if (workspaceFolder !== undefined && v && !path.isAbsolute(v) && (v.includes('/') || v.includes('\\'))) {
    v = path.resolve(workspaceFolder, v); // ./venv/bin/python, relative to the workspace
  }
  return v;
}

function isExecutableFile(file: string, platform: NodeJS.Platform): boolean {
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) {
      return false;
    }
    if (platform === 'win32') {
      return true;
    }
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The full path of `name` on PATH (honouring PATHEXT on Windows), or undefined. */
export function findOnPath(name: string, env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string | undefined {
  const pathVar = env.PATH ?? env.Path ?? '';
  const sep = platform === 'win32' ? ';' : ':';
  const exts = platform === 'win32' ? (env.PATHEXT || '.EXE;.CMD;.BAT;.COM').split(';').filter(Boolean) : [''];
  for (const dir of pathVar.split(sep)) {
    if (!dir) {
      continue;
    }
    for (const ext of exts) {
      const file = path.join(dir, name + ext);
      if (isExecutableFile(file, platform)) {
        return file;
      }
    }
  }
  return undefined;
}

/** A command given by name or path: a path is used as is, a bare name looked up on PATH. */
export function locate(command: string, env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string | undefined {
  if (command.includes('/') || (platform === 'win32' && command.includes('\\'))) {
    return isExecutableFile(command, platform) ? command : undefined;
  }
  return findOnPath(command, env, platform);
}

/** The version in `mcls --version` output ("mcls 0.1.0"), or undefined. */
export function parseVersion(output: string): string | undefined {
  const m = /\bmcls\s+v?(\d+\.\d+(?:\.\d+)?(?:[-.+][0-9A-Za-z.+-]*)?)/.exec(output);
  return m ? m[1] : undefined;
}

/** Compares the numeric parts of two versions: negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string) => (v.match(/^\d+(?:\.\d+)*/)?.[0] ?? '0').split('.').map(Number);
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) {
      return d;
    }
  }
  return 0;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  error?: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutSeconds: number): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(command, args, { env, timeout: timeoutSeconds * 1000, windowsHide: true }, (err, stdout, stderr) => {
      const e = err as unknown as { code?: unknown; killed?: boolean; message: string } | null;
      if (e && typeof e.code !== 'number') {
        // Not an exit status: spawn failed (ENOENT, EACCES) or the timeout killed it.
        resolve({ code: null, stdout: String(stdout), stderr: String(stderr), error: e.killed ? `no answer within ${timeoutSeconds} s` : e.message });
        return;
      }
      resolve({ code: e ? Number(e.code) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Runs `<candidate> --version` and judges the answer. */
export async function probe(candidate: Candidate, opts: ResolveOptions = {}): Promise<Attempt> {
  const env = opts.env ?? process.env;
  const platform = opts.platform ?? process.platform;
  const minVersion = opts.minVersion ?? MIN_SERVER_VERSION;
  const exe = locate(candidate.command, env, platform);
  if (!exe) {
    return { candidate, status: 'missing', detail: `${candidate.command} not found` };
  }
  const c = { ...candidate, command: exe, python: candidate.python !== undefined ? exe : undefined };
  const r = await run(exe, [...c.prefix, '--version'], env, opts.timeoutSeconds ?? 20);
  const output = `${r.stdout}\n${r.stderr}`.trim();
  if (r.error !== undefined) {
    return { candidate: c, status: 'failed', detail: r.error };
  }
  if (r.code !== 0) {
    if (c.python && /No module named '?mcls/.test(output)) {
      return { candidate: c, status: 'not-installed', detail: `mcls is not installed for ${exe}` };
    }
    return { candidate: c, status: 'failed', detail: `exit ${r.code}: ${output.split('\n').slice(-3).join(' ')}` };
  }
  const version = parseVersion(output);
  if (!version) {
    return { candidate: c, status: 'failed', detail: `unexpected --version output: ${output.slice(0, 200)}` };
  }
  if (compareVersions(version, minVersion) < 0) {
    return { candidate: c, status: 'too-old', version, detail: `mcls ${version} is older than ${minVersion}` };
  }
  return { candidate: c, status: 'ok', version };
}

/** Picks the server to start (see the order at the top of this file). */
export async function resolveServer(opts: ResolveOptions): Promise<Resolution> {
  const env = opts.env ?? process.env;
  const platform = opts.platform ?? process.platform;
  const attempts: Attempt[] = [];
  const done = (a: Attempt): Resolution => {
    attempts.push(a);
    return a.status === 'ok' && a.version ? { server: { ...a.candidate, version: a.version }, attempts } : { attempts };
  };

  if (!opts.restricted) {
    const serverPath = expandPath(opts.serverPath ?? '', opts.workspaceFolder, env);
    if (serverPath) {
      return done(await probe({ source: 'setting:mcls.server.path', command: serverPath, prefix: [] }, opts));
    }
    const python = expandPath(opts.python ?? '', opts.workspaceFolder, env);
    if (python) {
      return done(await probe({ source: 'setting:mcls.python', command: python, prefix: ['-m', 'mcls'], python }, opts));
    }
  }

  const tryOne = async (c: Candidate): Promise<Resolution | undefined> => {
    const a = await probe(c, opts);
    attempts.push(a);
    return a.status === 'ok' && a.version ? { server: { ...a.candidate, version: a.version }, attempts } : undefined;
  };

  const onPath = findOnPath('mcls', env, platform);
  if (onPath) {
    const r = await tryOne({ source: 'PATH', command: onPath, prefix: [] });
    if (r) {
      return r;
    }
  } else {
    attempts.push({ candidate: { source: 'PATH', command: 'mcls', prefix: [] }, status: 'missing', detail: 'mcls is not on PATH' });
  }

  const tried = new Set<string>();
  if (!opts.restricted && opts.pythonExtensionInterpreter) {
    let interpreter: string | undefined;
    try {
      interpreter = await opts.pythonExtensionInterpreter();
    } catch {
      interpreter = undefined;
    }
    if (interpreter) {
      tried.add(interpreter);
      const r = await tryOne({ source: 'Python extension', command: interpreter, prefix: ['-m', 'mcls'], python: interpreter });
      if (r) {
        return r;
      }
    }
  }

  for (const name of platform === 'win32' ? ['python', 'py'] : ['python3', 'python']) {
    const exe = findOnPath(name, env, platform);
    if (!exe || tried.has(exe)) {
      continue;
    }
    tried.add(exe);
    const r = await tryOne({ source: 'python on PATH', command: exe, prefix: ['-m', 'mcls'], python: exe });
    if (r) {
      return r;
    }
  }
  return { attempts };
}

/** The arguments that start the server over stdio. */
export function serveArgs(server: Candidate, logLevel = 'WARNING'): string[] {
  return [...server.prefix, 'serve', '--log-level', logLevel];
}

export interface Advice {
  message: string;
  /** The interpreter to run pip with, when there is one. */
  python?: string;
  /** pip arguments after `<python> -m`, when installing/upgrading would fix it. */
  pipArgs?: string[];
}

function quote(s: string): string {
  return /[\s"'$`\\]/.test(s) ? JSON.stringify(s) : s;
}

/** What to tell the user when no server could be started. */
export function advice(res: Resolution, minVersion = MIN_SERVER_VERSION): Advice {
  const attempts = res.attempts;
  const tooOld = attempts.find((a) => a.status === 'too-old');
  const explicit = attempts.find((a) => a.candidate.source.startsWith('setting:'));
  const pythonAttempt = [...attempts].reverse().find((a) => a.candidate.python && a.status !== 'missing');
  const pipArgs = ['pip', 'install', '--upgrade', PIP_PACKAGE];

  if (explicit && explicit.status !== 'ok') {
    const setting = explicit.candidate.source.slice('setting:'.length);
    const what = explicit.status === 'missing' ? `${explicit.candidate.command} does not exist or is not executable`
      : explicit.status === 'not-installed' ? `mcls is not installed for ${explicit.candidate.command}`
      : explicit.status === 'too-old' ? `${explicit.detail} (this extension needs ${minVersion} or newer)`
      : `\`${explicit.candidate.command} ${[...explicit.candidate.prefix, '--version'].join(' ')}\` failed: ${explicit.detail}`;
    const fix = explicit.candidate.python && (explicit.status === 'not-installed' || explicit.status === 'too-old')
      ? `Run: ${quote(explicit.candidate.command)} -m ${pipArgs.join(' ')}`
      : `Fix the setting ${setting}, or clear it to find mcls automatically.`;
    return {
      message: `mcls: the server from ${setting} cannot be used: ${what}. ${fix}`,
      python: explicit.candidate.python,
      pipArgs: explicit.candidate.python ? pipArgs : undefined,
    };
  }
  if (tooOld) {
    const c = tooOld.candidate;
    const how = c.python ? `Run: ${quote(c.command)} -m ${pipArgs.join(' ')}` : `Upgrade it (pip install --upgrade ${PIP_PACKAGE}, or pipx upgrade ${PIP_PACKAGE}), or set mcls.server.path to a newer one.`;
    return {
      message: `mcls: the server ${c.command} is version ${tooOld.version}, too old for this extension (needs ${minVersion} or newer). ${how}`,
      python: c.python,
      pipArgs: c.python ? pipArgs : undefined,
    };
  }
  const py = pythonAttempt?.candidate.python;
  return {
    message:
      'mcls: the mcls language server was not found (not on PATH, and not importable by ' +
      (py ? `the Python interpreter ${py}` : 'any Python interpreter found') +
      `). Install it with \`pip install ${PIP_PACKAGE}\` (or pipx), or set mcls.server.path to the mcls executable, or mcls.python to a Python that has it.`,
    python: py,
    pipArgs: py ? pipArgs : undefined,
  };
}

/** One line per attempt, for the output channel. */
export function describeAttempts(res: Resolution): string[] {
  return res.attempts.map((a) => {
    const cmd = [a.candidate.command, ...a.candidate.prefix].join(' ');
    return `${a.candidate.source}: ${cmd} -> ${a.status}${a.version ? ` (mcls ${a.version})` : ''}${a.detail ? `: ${a.detail}` : ''}`;
  });
}
