// Entry point: starts the kimi-lsp client, keeps its settings in sync and registers the commands.
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
} from 'vscode-languageclient/node';
import { inlineEnabled, serverNotFound, showMenu } from './menu';
import { ApiKey } from './secrets';
import { serverExecutable, serverSettings } from './settings';
import { KimiStatus, StatusItem } from './status';

const LANGUAGES = ['python', 'javascript', 'javascriptreact', 'typescript', 'typescriptreact', 'go', 'rust', 'java', 'c', 'cpp'];

let client: LanguageClient | undefined;
let apiKey: ApiKey;

function createClient(output: vscode.LogOutputChannel, status: StatusItem): LanguageClient {
  const executable = serverExecutable();
  const serverOptions: ServerOptions = { run: executable, debug: executable };
  const clientOptions: LanguageClientOptions = {
    documentSelector: LANGUAGES.map((language) => ({ scheme: 'file', language })),
    initializationOptions: serverSettings(apiKey.current),
    outputChannel: output,
    traceOutputChannel: output,
    middleware: {
      workspace: {
        // Answer workspace/configuration pulls for "kimi" with the server's tree (no client-only keys).
        configuration: (params) =>
          params.items.map((item) => (item.section === 'kimi' ? serverSettings(apiKey.current) : null)),
      },
      // kimi.enable (per language, workspace, user): no request at all where it is off
      provideInlineCompletionItems: (document, position, context, token, next) =>
        inlineEnabled(document) ? next(document, position, context, token) : null,
    },
  };
  const created = new LanguageClient('kimi', 'Kimi LSP', serverOptions, clientOptions);
  created.onNotification('kimi/status', (params: KimiStatus) => status.update(params));
  return created;
}

async function start(output: vscode.LogOutputChannel, status: StatusItem): Promise<void> {
  client = createClient(output, status);
  status.update({ engine: 'starting', latencyMs: null, cacheRatio: null, message: 'starting kimi-lsp' });
  const { command, args } = serverExecutable();
  output.info(`starting ${command} ${(args ?? []).join(' ')}`);
  try {
    await client.start();
  } catch (error) {
    status.update({ engine: 'down', latencyMs: null, cacheRatio: null, message: `server failed to start: ${error}` });
    output.error(`kimi-lsp failed to start: ${error}`);
    if (String(error).includes('ENOENT')) {
      void serverNotFound(command);
    }
  }
}

async function stop(output: vscode.LogOutputChannel): Promise<void> {
  const running = client;
  client = undefined;
  if (running === undefined) {
    return;
  }
  try {
    // A client whose server never started has nothing to stop; don't let that block a restart.
    if (running.isRunning()) {
      await running.stop(5000);
    } else {
      await running.dispose(2000);
    }
  } catch (error) {
    output.warn(`stopping kimi-lsp: ${error}`);
  }
}

/** Run a server command on the active editor's selection (its whole lines), with `extra` arguments after it. */
async function onSelection(command: string, extra: unknown[]): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (client === undefined || editor === undefined) {
    return;
  }
  const uri = client.code2ProtocolConverter.asUri(editor.document.uri);
  const range = client.code2ProtocolConverter.asRange(editor.selection);
  await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [uri, range, ...extra] });
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('Kimi LSP', { log: true });
  const status = new StatusItem();
  context.subscriptions.push(output, status);
  apiKey = new ApiKey(context.secrets);
  await apiKey.load();
  const sendSettings = async () => {
    if (client?.isRunning()) {
      await client.sendNotification(DidChangeConfigurationNotification.type, {
        settings: { kimi: serverSettings(apiKey.current) },
      });
    }
  };

  context.subscriptions.push(
    vscode.commands.registerCommand('kimi.restartServer', async () => {
      await stop(output);
      await start(output, status);
    }),
    vscode.commands.registerCommand('kimi.reindexWorkspace', async () => {
      await client?.sendRequest(ExecuteCommandRequest.type, { command: 'kimi.reindex', arguments: [] });
    }),
    vscode.commands.registerCommand('kimi.toggleInlineSuggestions', async () => {
      const cfg = vscode.workspace.getConfiguration('kimi');
      const enabled = cfg.get<boolean>('features.inlineCompletion', true);
      await cfg.update('features.inlineCompletion', !enabled, vscode.ConfigurationTarget.Global);
      vscode.window.setStatusBarMessage(`Kimi inline suggestions ${enabled ? 'off' : 'on'}`, 3000);
    }),
    vscode.commands.registerCommand('kimi.showLog', () => output.show(true)),
    vscode.commands.registerCommand('kimi.statusMenu', showMenu),
    vscode.commands.registerCommand('kimi.openSettings', () =>
      vscode.commands.executeCommand('workbench.action.openSettings', 'kimi.'),
    ),
    vscode.commands.registerCommand('kimi.setApiKey', async () => {
      if (await apiKey.ask()) {
        await sendSettings();
      }
    }),
    vscode.window.onDidChangeActiveTextEditor(() => status.render()),
    // The server shows the explanation (window/showMessage) and applies the rewrite (workspace/applyEdit);
    // the client registers the server's own kimi.explain and kimi.rewrite, so these have names of their own.
    vscode.commands.registerCommand('kimi.explainSelection', async () => {
      await onSelection('kimi.explain', []);
    }),
    vscode.commands.registerCommand('kimi.rewriteSelection', async () => {
      const instruction = await vscode.window.showInputBox({
        prompt: 'Rewrite the selected lines with Kimi',
        placeHolder: 'e.g. use a list comprehension',
      });
      if (instruction) {
        await onSelection('kimi.rewrite', [instruction]);
      }
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (!event.affectsConfiguration('kimi')) {
        return;
      }
      status.render();
      if (event.affectsConfiguration('kimi.server')) {
        await stop(output);
        await start(output, status);
      } else {
        await sendSettings();
      }
    }),
  );
  await start(output, status);
}

export async function deactivate(): Promise<void> {
  await client?.stop(2000);
  client = undefined;
}
