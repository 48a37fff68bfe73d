// The engine's API key, kept in VS Code's SecretStorage (the OS keychain), never in settings.json. A key an
// older version left in the `kimi.engine.apiKey` setting is moved there once and removed from the settings.
import * as vscode from 'vscode';

const KEY = 'kimi.engine.apiKey';

export class ApiKey {
  private value: string | null = null;

  constructor(private readonly secrets: vscode.SecretStorage) {}

  /** The key now (null: none). `load` first. */
  get current(): string | null {
    return this.value;
  }

  /** Read the key, moving one found in the settings into the secret storage. */
  async load(): Promise<void> {
    const cfg = vscode.workspace.getConfiguration('kimi');
    const inspected = cfg.inspect<string | null>('engine.apiKey');
    const legacy = inspected?.workspaceValue ?? inspected?.globalValue;
    if (typeof legacy === 'string' && legacy.length > 0) {
      await this.secrets.store(KEY, legacy);
      for (const target of [vscode.ConfigurationTarget.Global, vscode.ConfigurationTarget.Workspace]) {
        await cfg.update('engine.apiKey', undefined, target).then(undefined, () => undefined);
      }
    }
    this.value = (await this.secrets.get(KEY)) ?? null;
  }

  /** Ask for the key (empty: remove it); true when it changed. */
  async ask(): Promise<boolean> {
    const entered = await vscode.window.showInputBox({
      title: 'Kimi: engine API key',
      prompt: 'Kept in VS Code\'s secret storage, sent only to the engine. Leave empty to remove it.',
      password: true,
      ignoreFocusOut: true,
    });
    if (entered === undefined) {
      return false;
    }
    if (entered.length > 0) {
      await this.secrets.store(KEY, entered);
    } else {
      await this.secrets.delete(KEY);
    }
    this.value = entered.length > 0 ? entered : null;
    return true;
  }
}
