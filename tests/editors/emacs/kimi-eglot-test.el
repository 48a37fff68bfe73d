;;; kimi-eglot-test.el --- drive kimi-lsp through Emacs' eglot in batch mode  -*- lexical-binding: t; -*-

;; Usage: KIMI_TEST_REPO=REPO KIMI_TEST_SERVER='["kimi-lsp", ...]' emacs --batch -Q -l kimi-eglot-test.el WORKSPACE
;; Loads editors/emacs/kimi-lsp.el (the configuration in docs/editors.md), then checks diagnostics (flymake), the
;; quick fix (eglot-code-actions) and completion (eglot-completion-at-point). Prints one
;; "OK <step> <detail>" line per step; exits 1 with "FAIL <step> <why>" otherwise.

(require 'eglot)
(require 'flymake)
(require 'json)

(defun kimi-test-ok (step detail)
  (princ (format "OK %s %s\n" step (json-encode detail))))

(defun kimi-test-fail (step why)
  (princ (format "FAIL %s %s\n" step why))
  (kill-emacs 1))

(defun kimi-test-wait (step predicate &optional seconds)
  "Run the event loop until PREDICATE is non-nil; fail STEP after SECONDS (default 30)."
  (let ((deadline (+ (float-time) (or seconds 30))) value)
    (while (and (not (setq value (funcall predicate))) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (or value (kimi-test-fail step "timed out"))))

(let* ((workspace (file-name-as-directory (car command-line-args-left)))
       (server (append (json-parse-string (getenv "KIMI_TEST_SERVER") :array-type 'list) nil)))
  (setq command-line-args-left nil)
  ;; The configuration that docs/editors.md recommends (editors/emacs/kimi-lsp.el), with the test's server.
  (setq kimi-lsp-command server
        kimi-lsp-initialization-options '(:debounceMs 0 :model (:profile "kimi-tiny")))
  (let ((before (copy-tree (default-value 'eglot-workspace-configuration))))
    (load (expand-file-name "editors/emacs/kimi-lsp.el" (getenv "KIMI_TEST_REPO")) nil t)
    (unless (equal before (default-value 'eglot-workspace-configuration))
      (kimi-test-fail "globals" "loading kimi-lsp.el changed eglot-workspace-configuration"))
    (kimi-test-ok "globals" "unchanged"))
  (setq eglot-sync-connect 30
        eglot-autoshutdown t
        eglot-events-buffer-config '(:size 0))
  (find-file (expand-file-name "main.py" workspace))
  (python-mode)
  (apply #'eglot (eglot--guess-contact))
  (let ((server (kimi-test-wait "initialize" #'eglot-current-server)))
    (kimi-test-ok "initialize" (plist-get (eglot--server-info server) :name)))

  ;; Diagnostics through flymake.
  (let ((diags (kimi-test-wait "diagnostics"
                               (lambda () (flymake-start) (flymake-diagnostics)))))
    (kimi-test-ok "diagnostics" (mapcar #'flymake-diagnostic-text diags))
    (goto-char (flymake-diagnostic-beg (car diags))))

  ;; Quick fix: the only quickfix here is "Fix syntax error with Kimi"; eglot applies it directly.
  (eglot-code-actions (line-beginning-position) (line-end-position) "quickfix" t)
  (kimi-test-wait "codeAction" (lambda () (save-excursion (goto-char (point-min))
                                                          (search-forward "def broken(x):" nil t))))
  (kimi-test-ok "codeAction" (buffer-substring-no-properties (point-min) (point-max)))

  ;; Completion at the end of `greeting = gr`.
  (goto-char (point-max))
  (insert "greeting = gr")
  (let* ((capf (kimi-test-wait "completion" #'eglot-completion-at-point))
         (table (nth 2 capf))
         (candidates (all-completions "gr" table)))
    (unless (member "greet" candidates) (kimi-test-fail "completion" (format "%S" candidates)))
    (kimi-test-ok "completion" (mapcar #'substring-no-properties candidates)))

  (set-buffer-modified-p nil)
  (eglot-shutdown (eglot-current-server) nil 10)
  (kimi-test-ok "shutdown" t)
  (kill-emacs 0))
