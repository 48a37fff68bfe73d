// The status bar item fed by the server's `kimi/status` notification.
import * as vscode from 'vscode';
import { inlineEnabled } from './menu';

/** Payload of `kimi/status` (server -> client). */
export interface KimiStatus {
  engine: 'off' | 'starting' | 'ready' | 'down';
  latencyMs: number | null;
  cacheRatio: number | null;
  message: string;
}

const ICONS: Record<KimiStatus['engine'], string> = {
  off: '$(circle-slash)',
  starting: '$(loading~spin)',
  ready: '$(sparkle)',
  down: '$(warning)',
};

export function statusText(status: KimiStatus, inlineEnabled: boolean): string {
  const parts = [`${ICONS[status.engine] ?? ''} Kimi: ${status.engine}`];
  if (status.latencyMs !== null && status.latencyMs !== undefined) {
    parts.push(`${Math.round(status.latencyMs)} ms`);
  }
  if (status.cacheRatio !== null && status.cacheRatio !== undefined) {
    parts.push(`cache ${Math.round(status.cacheRatio * 100)}%`);
  }
  if (!inlineEnabled) {
    parts.push('(inline off)');
  }
  return parts.join(' · ');
}

export class StatusItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('kimi.status', vscode.StatusBarAlignment.Right, 100);
  private last: KimiStatus = { engine: 'starting', latencyMs: null, cacheRatio: null, message: 'starting' };

  constructor() {
    this.item.name = 'Kimi LSP';
    this.item.command = 'kimi.statusMenu';
    this.render();
    this.item.show();
  }

  update(status: KimiStatus): void {
    this.last = status;
    this.render();
  }

  render(): void {
    const document = vscode.window.activeTextEditor?.document;
    const inline =
      vscode.workspace.getConfiguration('kimi').get<boolean>('features.inlineCompletion', true) &&
      (document === undefined || inlineEnabled(document));
    this.item.text = statusText(this.last, inline);
    this.item.tooltip = `${this.last.message || `engine ${this.last.engine}`} (click for the Kimi menu)`;
    this.item.backgroundColor =
      this.last.engine === 'down' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}
