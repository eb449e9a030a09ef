// The mcls VS Code extension: starts `mcls serve` for LaTeX and Markdown documents.

import * as vscode from 'vscode';
import { LanguageClient, LanguageClientOptions, ServerOptions, State } from 'vscode-languageclient/node';
import { advice, Candidate, describeAttempts, MIN_SERVER_VERSION, resolveServer, serveArgs } from './server';

const LANGUAGES = ['latex', 'tex', 'markdown'];

/** Settings read once at start (changing them restarts the server). */
const RESTART_SETTINGS = ['mcls.server', 'mcls.python', 'mcls.hover', 'mcls.wrt'];

let client: LanguageClient | undefined;
let running: (Candidate & { version: string }) | undefined;
let log: vscode.LogOutputChannel;
let status: vscode.LanguageStatusItem;
let hoverColorInUse: string | undefined;
let pythonEnvListener: vscode.Disposable | undefined;
let queue: Promise<void> = Promise.resolve();

/** Runs start/stop/restart one at a time. */
function serialize(task: () => Promise<void>): Promise<void> {
  queue = queue.then(task, task).catch((err) => log.error(String(err?.stack ?? err)));
  return queue;
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  log = vscode.window.createOutputChannel('mcls', { log: true });
  status = vscode.languages.createLanguageStatusItem('mcls.status', LANGUAGES.map((language) => ({ language })));
  status.name = 'mcls';
  status.text = 'mcls';
  status.command = { title: 'Restart', command: 'mcls.restart' };
  context.subscriptions.push(log, status);

  context.subscriptions.push(
    vscode.commands.registerCommand('mcls.restart', () => serialize(async () => {
      await stopClient();
      await startClient();
    })),
    vscode.commands.registerCommand('mcls.showLog', () => log.show(true)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (RESTART_SETTINGS.some((s) => e.affectsConfiguration(s))) {
        log.info('settings changed: restarting the server');
        void vscode.commands.executeCommand('mcls.restart');
      }
    }),
    vscode.window.onDidChangeActiveColorTheme(() => {
      // Typeset hover images are drawn in a colour for the theme: redraw them in the new one.
      if (client && hoverColor() !== hoverColorInUse) {
        log.info('colour theme changed: restarting the server for legible hover images');
        void vscode.commands.executeCommand('mcls.restart');
      }
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => void vscode.commands.executeCommand('mcls.restart')),
    { dispose: () => void stopClient() },
  );
  await serialize(startClient);
}

export async function deactivate(): Promise<void> {
  await stopClient();
}

function settings(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration('mcls', vscode.workspace.workspaceFolders?.[0]?.uri);
}

/** A foreground colour legible on the current theme (or the setting mcls.hover.color). */
function hoverColor(): string {
  const configured = settings().get<string>('hover.color', '').trim();
  if (configured) {
    return configured;
  }
  switch (vscode.window.activeColorTheme.kind) {
    case vscode.ColorThemeKind.Light:
      return '#1f1f1f';
    case vscode.ColorThemeKind.HighContrastLight:
      return '#000000';
    case vscode.ColorThemeKind.HighContrast:
      return '#ffffff';
    default:
      return '#cccccc'; // Dark
  }
}

// ------------------------------------------------------- the Python extension

interface PythonEnvironmentsApi {
  getActiveEnvironmentPath(resource?: vscode.Uri): { id: string; path: string };
  resolveEnvironment(env: { id: string; path: string } | string): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
  onDidChangeActiveEnvironmentPath: vscode.Event<unknown>;
}

interface PythonExtensionApi {
  environments?: PythonEnvironmentsApi;
  settings?: { getExecutionDetails(resource?: vscode.Uri): { execCommand: string[] | undefined } };
}

function withTimeout<T>(p: Thenable<T>, ms: number): Promise<T | undefined> {
  return Promise.race([Promise.resolve(p), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms))]);
}

/** The interpreter the Python extension (ms-python.python) has selected, if it is installed. */
async function pythonExtensionInterpreter(): Promise<string | undefined> {
  const ext = vscode.extensions.getExtension<PythonExtensionApi>('ms-python.python');
  if (!ext) {
    return undefined;
  }
  const api = ext.isActive ? ext.exports : await withTimeout(ext.activate(), 15000);
  if (!api) {
    return undefined;
  }
  const resource = vscode.workspace.workspaceFolders?.[0]?.uri;
  if (api.environments) {
    if (!pythonEnvListener) {
      pythonEnvListener = api.environments.onDidChangeActiveEnvironmentPath(() => {
        if (running && running.source === 'Python extension') {
          log.info('the Python interpreter changed: restarting the server');
          void vscode.commands.executeCommand('mcls.restart');
        }
      });
    }
    const active = api.environments.getActiveEnvironmentPath(resource);
    const env = await withTimeout(api.environments.resolveEnvironment(active), 15000);
    return env?.executable.uri?.fsPath ?? active.path;
  }
  return api.settings?.getExecutionDetails(resource).execCommand?.[0];
}

// ------------------------------------------------------- start / stop

async function startClient(): Promise<void> {
  const cfg = settings();
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  status.severity = vscode.LanguageStatusSeverity.Information;
  status.text = 'mcls $(loading~spin)';
  status.busy = true;

  const resolution = await resolveServer({
    serverPath: cfg.get<string>('server.path', ''),
    python: cfg.get<string>('python', ''),
    restricted: !vscode.workspace.isTrusted,
    pythonExtensionInterpreter,
    workspaceFolder: folder,
  });
  status.busy = false;
  for (const line of describeAttempts(resolution)) {
    log.info(`server search: ${line}`);
  }
  const server = resolution.server;
  if (!server) {
    const a = advice(resolution, MIN_SERVER_VERSION);
    log.error(a.message);
    status.severity = vscode.LanguageStatusSeverity.Error;
    status.text = 'mcls: no server';
    status.detail = a.message;
    void notify(a.message, a.python, a.pipArgs);
    return;
  }

  const logLevel = cfg.get<string>('server.logLevel', 'WARNING');
  const args = serveArgs(server, logLevel);
  log.info(`starting: ${[server.command, ...args].join(' ')} (mcls ${server.version}, from ${server.source})`);
  const serverOptions: ServerOptions = {
    command: server.command,
    args,
    // No `transport`: with TransportKind.stdio the client would append --stdio to args.
    options: { cwd: folder, env: { ...process.env, PYTHONUNBUFFERED: '1' } },
  };
  hoverColorInUse = hoverColor();
  const documentSelector = LANGUAGES.flatMap((language) => [
    { scheme: 'file', language },
    { scheme: 'untitled', language },
  ]);
  const clientOptions: LanguageClientOptions = {
    documentSelector,
    outputChannel: log,
    traceOutputChannel: log,
    diagnosticCollectionName: 'mcls',
    initializationOptions: {
      // VS Code shows SVG data-URI images in hover Markdown but not $...$ math.
      clientRendersImages: true,
      hoverColor: hoverColorInUse,
      hoverFormat: cfg.get<string>('hover.format', 'auto'),
      wrt: cfg.get<string>('wrt', '') || undefined,
    },
    synchronize: { configurationSection: 'mcls' },
    middleware: {
      workspace: {
        // The server's workspace/configuration requests get VS Code's settings,
        // plus the hover colour for the current theme.
        configuration: async (params, token, next) => {
          const result = await next(params, token);
          if (!Array.isArray(result)) {
            return result;
          }
          return result.map((value, i) => {
            const section = params.items[i]?.section;
            if (section === 'mcls' && value && typeof value === 'object') {
              const hover = { ...(value.hover ?? {}), color: hoverColor() };
              return { ...value, hover, hoverColor: hoverColor() };
            }
            return value;
          });
        },
      },
    },
  };

  const c = new LanguageClient('mcls', 'mcls', serverOptions, clientOptions);
  c.onDidChangeState((e) => {
    if (e.newState === State.Stopped && client === c) {
      status.severity = vscode.LanguageStatusSeverity.Error;
      status.text = 'mcls: stopped';
    }
  });
  client = c;
  running = server;
  try {
    await c.start();
  } catch (err) {
    client = undefined;
    running = undefined;
    const message = `mcls: the server did not start: ${err instanceof Error ? err.message : String(err)}`;
    log.error(message);
    status.severity = vscode.LanguageStatusSeverity.Error;
    status.text = 'mcls: failed';
    void notify(message);
    return;
  }
  status.severity = vscode.LanguageStatusSeverity.Information;
  status.text = `mcls ${server.version}`;
  status.detail = `${server.command} ${args.join(' ')}`;
}

async function stopClient(): Promise<void> {
  const c = client;
  client = undefined;
  running = undefined;
  if (c) {
    try {
      await c.stop(5000);
    } catch (err) {
      log.warn(`stopping the server: ${String(err)}`);
    }
  }
}

async function notify(message: string, python?: string, pipArgs?: string[]): Promise<void> {
  const install = python && pipArgs ? 'Install with pip' : undefined;
  const choices = [install, 'Open Settings', 'Show Log'].filter((x): x is string => !!x);
  const choice = await vscode.window.showErrorMessage(message, ...choices);
  if (choice === install && python && pipArgs) {
    const terminal = vscode.window.createTerminal({ name: 'mcls: pip install' });
    terminal.show();
    const q = (s: string) => (/[\s"'$`]/.test(s) ? `"${s.replace(/(["$`\\])/g, '\\$1')}"` : s);
    terminal.sendText(`${q(python)} -m ${pipArgs.join(' ')}`);
    const restart = await vscode.window.showInformationMessage('When pip has finished, restart the mcls server.', 'Restart server');
    if (restart) {
      await vscode.commands.executeCommand('mcls.restart');
    }
  } else if (choice === 'Open Settings') {
    await vscode.commands.executeCommand('workbench.action.openSettings', 'mcls.server');
  } else if (choice === 'Show Log') {
    log.show(true);
  }
}
