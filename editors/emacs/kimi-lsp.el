;;; kimi-lsp.el --- use kimi-lsp through eglot (Emacs 29+)  -*- lexical-binding: t; -*-

;; Put this file on your load-path and (require 'kimi-lsp), or paste it into your init file.
;; Then M-x eglot in a Python/JS/TS/Go/Rust/Java/C/C++ buffer, or add `eglot-ensure' to the mode hooks.
;; eglot runs one server per buffer: for kimi-lsp beside the language's own server, use lsp-mode
;; (kimi-lsp-mode.el, an add-on server).

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

;; Loading this file changes no global setting but eglot's list of servers. To change settings while the server
;; runs (workspace/didChangeConfiguration), give the tree under :kimi in your own `eglot-workspace-configuration'
;; (a .dir-locals.el entry for one project), e.g. (:kimi (:features (:inlineCompletion :json-false))).

(provide 'kimi-lsp)
;;; kimi-lsp.el ends here
