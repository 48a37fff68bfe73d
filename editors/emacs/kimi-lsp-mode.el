;;; kimi-lsp-mode.el --- kimi-lsp as an lsp-mode add-on server  -*- lexical-binding: t; -*-

;; Put this file on your load-path and (require 'kimi-lsp-mode). kimi-lsp is registered as an *add-on*:
;; lsp-mode starts it beside the language's own server (pyright, gopls, rust-analyzer...), not instead of it.
;; Nothing is registered until lsp-mode loads, and no global setting changes.

(defgroup kimi-lsp nil "kimi-lsp through lsp-mode." :group 'tools)

(defcustom kimi-lsp-mode-command '("kimi-lsp" "--stdio")
  "Command line that starts the kimi-lsp server."
  :type '(repeat string))

(defcustom kimi-lsp-mode-initialization-options
  '(:model (:profile "kimi-tiny" :maxTokens 64 :suggestions 3) :debounceMs 20)
  "The server's settings tree (docs/configuration.md), sent as initializationOptions."
  :type 'sexp)

(defcustom kimi-lsp-mode-major-modes
  '(python-mode python-ts-mode js-mode js-ts-mode typescript-mode typescript-ts-mode tsx-ts-mode go-mode
    go-ts-mode rust-mode rust-ts-mode java-mode java-ts-mode c-mode c-ts-mode c++-mode c++-ts-mode)
  "Major modes in which lsp-mode starts kimi-lsp."
  :type '(repeat symbol))

(with-eval-after-load 'lsp-mode
  (lsp-register-client
   (make-lsp-client
    :new-connection (lsp-stdio-connection (lambda () kimi-lsp-mode-command))
    :major-modes kimi-lsp-mode-major-modes
    :add-on? t
    :priority -2
    :server-id 'kimi-lsp
    :initialization-options (lambda () kimi-lsp-mode-initialization-options))))

(provide 'kimi-lsp-mode)
;;; kimi-lsp-mode.el ends here
