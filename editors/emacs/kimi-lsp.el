;;; kimi-lsp.el --- use kimi-lsp through eglot (Emacs 29+)  -*- lexical-binding: t; -*-

;; Put this file on your load-path and (require 'kimi-lsp), or paste it into your init file.
;; Then M-x eglot in a Python/JS/TS/Go/Rust/Java/C/C++ buffer, or add `eglot-ensure' to the mode hooks.

(require 'eglot)

(defvar kimi-lsp-command '("kimi-lsp" "--stdio")
  "Command line that starts the kimi-lsp server.")

(defvar kimi-lsp-initialization-options
  '(:engine (:url "http://127.0.0.1:30000")
    :model (:profile "kimi-tiny" :maxTokens 64)
    :debounceMs 20)
  "The server's settings tree, sent as initializationOptions.")

(defvar kimi-lsp-modes
  '(python-mode python-ts-mode js-mode js-ts-mode typescript-ts-mode tsx-ts-mode go-mode go-ts-mode
    rust-mode rust-ts-mode java-mode java-ts-mode c-mode c-ts-mode c++-mode c++-ts-mode)
  "Major modes that use kimi-lsp.")

(add-to-list 'eglot-server-programs
             (cons kimi-lsp-modes
                   (lambda (&rest _)
                     (append kimi-lsp-command
                             (list :initializationOptions kimi-lsp-initialization-options)))))

;; workspace/didChangeConfiguration: the same tree, under "kimi".
(setq-default eglot-workspace-configuration
              (plist-put (copy-tree (default-value 'eglot-workspace-configuration))
                         :kimi '(:features (:inlineCompletion t :diagnostics t))))

(provide 'kimi-lsp)
;;; kimi-lsp.el ends here
