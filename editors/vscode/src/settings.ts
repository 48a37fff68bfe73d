// Maps the `kimi.*` VS Code settings to the server's settings tree and to the command that
// starts the server. Pure functions over a WorkspaceConfiguration; no client state here.
import * as vscode from 'vscode';
import { Executable } from 'vscode-languageclient/node';

/** The settings tree of the language server (initializationOptions / didChangeConfiguration). */
export interface ServerSettings {
  engine: {
    url: string | null;
    api: string;
    model: string | null;
    workers: string[];
    apiKey: string | null;
    timeoutMs: number;
    caBundle: string | null;
  };
  model: { profile: string; maxTokens: number; temperature: number; suggestions: number };
  debounceMs: number;
  features: { inlineCompletion: boolean; completion: boolean; diagnostics: boolean; codeActions: boolean };
  exclude: string[];
}

/** `apiKey`: from VS Code's secret storage (secrets.ts), never from settings. */
export function serverSettings(
  apiKey: string | null,
  cfg: vscode.WorkspaceConfiguration = vscode.workspace.getConfiguration('kimi'),
): ServerSettings {
  return {
    engine: {
      url: cfg.get<string | null>('engine.url', null),
      api: cfg.get<string>('engine.api', 'native'),
      model: cfg.get<string | null>('engine.model', null),
      workers: cfg.get<string[]>('engine.workers', []),
      apiKey,
      timeoutMs: cfg.get<number>('engine.timeoutMs', 10000),
      caBundle: cfg.get<string | null>('engine.caBundle', null),
    },
    model: {
      profile: cfg.get<string>('model.profile', 'kimi-tiny'),
      maxTokens: cfg.get<number>('model.maxTokens', 64),
      temperature: cfg.get<number>('model.temperature', 0),
      suggestions: cfg.get<number>('model.suggestions', 3),
    },
    debounceMs: cfg.get<number>('debounceMs', 20),
    features: {
      inlineCompletion: cfg.get<boolean>('features.inlineCompletion', true),
      completion: cfg.get<boolean>('features.completion', true),
      diagnostics: cfg.get<boolean>('features.diagnostics', true),
      codeActions: cfg.get<boolean>('features.codeActions', true),
    },
    exclude: cfg.get<string[]>('exclude', []),
  };
}

/** `kimi.server.command`, else `kimi.server.pythonPath -m kimi_lsp`, else `kimi-lsp` on PATH. */
export function serverExecutable(cfg: vscode.WorkspaceConfiguration = vscode.workspace.getConfiguration('kimi')): Executable {
  const command = cfg.get<string[]>('server.command', []).filter((part) => part.length > 0);
  const python = cfg.get<string>('server.pythonPath', '');
  const extra = cfg.get<string[]>('server.extraArgs', []);
  if (command.length > 0) {
    return { command: command[0], args: [...command.slice(1), ...extra] };
  }
  if (python.length > 0) {
    return { command: python, args: ['-m', 'kimi_lsp', ...extra] };
  }
  return { command: 'kimi-lsp', args: extra };
}
