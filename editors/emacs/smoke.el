;;; smoke.el --- start mcls from the configs in editors/README.md  -*- lexical-binding: t -*-
;;
;; emacs --batch -l smoke.el CLIENT README FILE...
;;   CLIENT  eglot | lsp-mode
;; Evaluates the README's "mcls with CLIENT" elisp block (the config users copy),
;; opens each FILE, and prints what it sees on lines starting with "SMOKE ":
;; the diagnostics, the hover on "M = ", the code action titles and, when the
;; client can apply them, the text of the applied "Insert derivation" action.
;; Exits 0 when every file got a shape/matmul diagnostic and a hover.

(require 'cl-lib)
(require 'subr-x)

(defvar smoke-client (pop command-line-args-left))
(defvar smoke-readme (pop command-line-args-left))
(defvar smoke-files (prog1 command-line-args-left (setq command-line-args-left nil)))
(defvar smoke-ok t)

(defun smoke (fmt &rest args)
  (princ (concat "SMOKE " (apply #'format fmt args) "\n")))

(defun smoke-fail (fmt &rest args)
  (setq smoke-ok nil)
  (apply #'smoke (concat "FAIL " fmt) args))

(defun smoke-readme-block (marker)
  "The fenced elisp block of the README whose first line is MARKER."
  (with-temp-buffer
    (insert-file-contents smoke-readme)
    (goto-char (point-min))
    (unless (search-forward (concat "```elisp\n" marker "\n") nil t)
      (error "No elisp block starting with %S in %s" marker smoke-readme))
    (let ((start (point)))
      (search-forward "\n```")
      (buffer-substring-no-properties start (match-beginning 0)))))

(defun smoke-wait (pred seconds)
  (let ((deadline (+ (float-time) seconds)))
    (while (and (not (funcall pred)) (< (float-time) deadline))
      (accept-process-output nil 0.1))
    (funcall pred)))

(defun smoke-goto-m ()
  (goto-char (point-min))
  (search-forward "M = A X")
  (goto-char (match-beginning 0)))

;;; ---------------------------------------------------------------- eglot

(defun smoke-eglot (file)
  (find-file file)
  (smoke "%s: %s" (file-name-nondirectory file) major-mode)
  (apply #'eglot (eglot--guess-contact))
  (let ((server (eglot-current-server)))
    (unless server (error "eglot did not start"))
    (if (smoke-wait (lambda () (cl-some (lambda (d) (string-match-p "shape/matmul" (flymake-diagnostic-text d)))
                                        (flymake-diagnostics)))
                    30)
        (dolist (d (flymake-diagnostics))
          (smoke "diagnostic line %d: %s" (line-number-at-pos (flymake-diagnostic-beg d)) (flymake-diagnostic-text d)))
      (smoke-fail "no shape/matmul diagnostic in %s" file))
    (smoke-goto-m)
    (let* ((hover (jsonrpc-request server :textDocument/hover (eglot--TextDocumentPositionParams)))
           (value (plist-get (plist-get hover :contents) :value)))
      (if (and value (not (string-empty-p value)))
          (smoke "hover: %s" (replace-regexp-in-string "\n" " | " value))
        (smoke-fail "empty hover in %s" file)))
    (let ((actions (jsonrpc-request
                    server :textDocument/codeAction
                    (list :textDocument (eglot--TextDocumentIdentifier)
                          :range (list :start (eglot--pos-to-lsp-position (point))
                                       :end (eglot--pos-to-lsp-position (line-end-position)))
                          :context (list :diagnostics [])))))
      (smoke "code actions: %s"
             (mapconcat (lambda (a) (format "%s%s" (plist-get a :title) (if (plist-get a :edit) "" " (no edit: needs codeAction/resolve)")))
                        actions "; ")))
    (eglot-shutdown server)))

;;; ---------------------------------------------------------------- lsp-mode

(defun smoke-lsp-mode (file)
  (find-file file)
  (smoke "%s: %s" (file-name-nondirectory file) major-mode)
  (lsp)
  (unless (smoke-wait (lambda () (cl-some (lambda (w) (eq (lsp--workspace-status w) 'initialized))
                                          (lsp-workspaces)))
                      30)
    (error "lsp-mode did not initialize mcls"))
  (let ((path (lsp--fix-path-casing (buffer-file-name))))
    (if (smoke-wait (lambda () (cl-some (lambda (d) (equal (lsp:diagnostic-code? d) "shape/matmul"))
                                        (gethash path (lsp-diagnostics t))))
                    30)
        (dolist (d (gethash path (lsp-diagnostics t)))
          (smoke "diagnostic line %d: %s [%s]"
                 (1+ (lsp:position-line (lsp:range-start (lsp:diagnostic-range d))))
                 (lsp:diagnostic-message d) (lsp:diagnostic-code? d)))
      (smoke-fail "no shape/matmul diagnostic in %s" file)))
  (smoke-goto-m)
  (let* ((hover (lsp-request "textDocument/hover" (lsp--text-document-position-params)))
         (contents (and hover (lsp:hover-contents hover)))
         (value (and contents (if (stringp contents) contents (lsp:markup-content-value contents)))))
    (if (and value (not (string-empty-p value)))
        (smoke "hover: %s" (replace-regexp-in-string "\n" " | " value))
      (smoke-fail "empty hover in %s" file)))
  (let* ((actions (lsp-code-actions-at-point))
         (derivation (cl-find-if (lambda (a) (string-prefix-p "Insert derivation" (lsp:code-action-title a))) actions)))
    (smoke "code actions: %s" (mapconcat #'lsp:code-action-title actions "; "))
    (when derivation
      (let ((before (buffer-string)))
        (lsp-execute-code-action derivation)
        (smoke-wait (lambda () (not (equal before (buffer-string)))) 10)
        (if (equal before (buffer-string))
            (smoke-fail "applying %S changed nothing" (lsp:code-action-title derivation))
          (progn
            (smoke "applied %S:" (lsp:code-action-title derivation))
            (dolist (line (split-string (buffer-string) "\n"))
              (smoke "  | %s" line))))))))

;;; ---------------------------------------------------------------- main

(condition-case err
    (pcase smoke-client
      ("eglot"
       (require 'eglot)
       (require 'tex-mode)
       (require 'markdown-mode nil t)
       (eval (car (read-from-string (concat "(progn " (smoke-readme-block ";; mcls with eglot") "\n)"))) t)
       (mapc #'smoke-eglot smoke-files))
      ("lsp-mode"
       (setq lsp-session-file (expand-file-name (format "lsp-session-%d" (emacs-pid)) temporary-file-directory)
             lsp-modeline-workspace-status-enable nil
             lsp-modeline-code-actions-enable nil
             lsp-modeline-diagnostics-enable nil
             lsp-headerline-breadcrumb-enable nil
             lsp-enable-snippet nil
             lsp-auto-guess-root t
             lsp-restart 'ignore
             lsp-enable-file-watchers nil
             lsp-keep-workspace-alive nil
             lsp-diagnostics-provider :none
             lsp-log-io nil)
       (require 'lsp-mode)
       (require 'tex-mode)
       (require 'markdown-mode nil t)
       (eval (car (read-from-string (concat "(progn " (smoke-readme-block ";; mcls with lsp-mode") "\n)"))) t)
       ;; Only mcls here: no texlab/marksman to start.
       (setq lsp-enabled-clients '(mcls))
       (mapc #'smoke-lsp-mode smoke-files)
       (mapc #'lsp-workspace-shutdown (lsp--session-workspaces (lsp-session))))
      (_ (error "usage: emacs --batch -l smoke.el eglot|lsp-mode README FILE...")))
  (error (smoke-fail "%s" (error-message-string err))))

(kill-emacs (if smoke-ok 0 1))
