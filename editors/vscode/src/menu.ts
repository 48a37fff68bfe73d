// Where Kimi's inline suggestions are on (the language-overridable `kimi.enable`: for the user, a workspace,
// a language) and the status bar item's menu that sets each, shows the log, restarts, opens the settings.
import * as vscode from 'vscode';

export const INSTALL_COMMAND = 'pipx install git+https://github.com/kimi-lsp/kimi-lsp';

/** Whether inline suggestions are on for `document` (its language's and workspace's `kimi.enable`). */
export function inlineEnabled(document: vscode.TextDocument): boolean {
  return vscode.workspace.getConfiguration('kimi', document).get<boolean>('enable', true);
}

interface Entry extends vscode.QuickPickItem {
  run: () => Thenable<unknown>;
}

function toggle(label: string, on: boolean, set: (value: boolean) => Thenable<void>): Entry {
  return {
    label: `${on ? '$(circle-slash) Disable' : '$(check) Enable'} inline suggestions ${label}`,
    run: () => set(!on),
  };
}

/** The status bar item's menu. */
export async function showMenu(): Promise<void> {
  const cfg = vscode.workspace.getConfiguration('kimi');
  const inspected = cfg.inspect<boolean>('enable');
  const entries: Entry[] = [
    toggle('everywhere', inspected?.globalValue ?? true, (value) =>
      cfg.update('enable', value, vscode.ConfigurationTarget.Global),
    ),
  ];
  const document = vscode.window.activeTextEditor?.document;
  if (document !== undefined) {
    const language = vscode.workspace.getConfiguration('kimi', { languageId: document.languageId });
    const on = language.inspect<boolean>('enable')?.globalLanguageValue ?? true;
    entries.push(
      toggle(`for ${document.languageId}`, on, (value) =>
        language.update('enable', value, vscode.ConfigurationTarget.Global, true),
      ),
    );
  }
  if (vscode.workspace.workspaceFolders !== undefined) {
    entries.push(
      toggle('for this workspace', inspected?.workspaceValue ?? true, (value) =>
        cfg.update('enable', value, vscode.ConfigurationTarget.Workspace),
      ),
    );
  }
  entries.push(
    { label: '$(output) Show log', run: () => vscode.commands.executeCommand('kimi.showLog') },
    { label: '$(debug-restart) Restart server', run: () => vscode.commands.executeCommand('kimi.restartServer') },
    { label: '$(key) Set engine API key', run: () => vscode.commands.executeCommand('kimi.setApiKey') },
    { label: '$(settings-gear) Open settings', run: () => vscode.commands.executeCommand('kimi.openSettings') },
  );
  const picked = await vscode.window.showQuickPick(entries, { title: 'Kimi', placeHolder: 'Kimi LSP' });
  await picked?.run();
}

/** The first-run message when the server command cannot be found: how to install it, or where to point. */
export async function serverNotFound(command: string): Promise<void> {
  const copy = 'Copy install command';
  const settings = 'Open settings';
  const picked = await vscode.window.showErrorMessage(
    `Kimi: the language server "${command}" was not found. Install it with \`${INSTALL_COMMAND}\`, ` +
      'or set kimi.server.command to its path.',
    copy,
    settings,
  );
  if (picked === copy) {
    await vscode.env.clipboard.writeText(INSTALL_COMMAND);
  } else if (picked === settings) {
    await vscode.commands.executeCommand('kimi.openSettings');
  }
}
