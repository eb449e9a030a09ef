"""Multi-file LaTeX projects: the root of a file and what the other files contribute.

Protocol-free. A :class:`Project` is given the workspace folders and a ``read(path)``
callback (the server passes open-buffer text first, else disk); for a file it finds

* the **root**: a ``% !TEX root = …`` magic comment, a ``\\documentclass[main.tex]{subfiles}``,
  the file itself when it has a ``\\documentclass``, else a ``.tex`` file of the workspace
  that ``\\input``s / ``\\include``s / ``\\subfile``s / ``\\import``s it (directly or through
  other files). The search reads at most ``MAX_FILES`` ``.tex`` files, never leaves the
  workspace folder and never follows a symlink out of it;
* the **context** (:class:`ProjectContext`): the macros and declarations of the text that
  comes before the file in the root's reading order (the root's preamble, local packages
  ``\\usepackage{macros}`` → ``macros.sty``, ``\\input{notation}``, earlier sections) and of
  the files it includes itself. ``mcls.analysis.analyze(..., context=…)`` applies them.

Everything is cached: the include list of a file per (path, stamp), the root of a file while
the files on its include chain are unchanged, and the context while every file it was built
from has the same stamp (mtime and size on disk, or the text of an open buffer).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from .macros import Macro, collect_macros

MAX_FILES = 500  # .tex files examined when looking for the file that includes this one
MAX_DIRS = 2000  # directories walked for that search
MAX_DEPTH = 24  # nesting of \input
MAX_BYTES = 4_000_000  # larger files are not read as part of a project
NEGATIVE_TTL = 5.0  # seconds a "nobody includes this file" answer is trusted
MAGIC_LINES = 40  # `% !TEX root` is looked for in the first lines only

Reader = Callable[[str], "str | None"]
Stamper = Callable[[str], Hashable]

_SKIP_DIRS = {"node_modules", "__pycache__", "venv", ".venv", "env", "site-packages", "_minted"}

_MAGIC_ROOT = re.compile(r"^[ \t]*%+[ \t]*!\s*TEX[ \t]+root[ \t]*=[ \t]*(.+?)[ \t]*$", re.I | re.M)
# Tokens that matter when reading include commands: escapes, comments, the commands.
_INCLUDE_TOKEN = re.compile(
    r"\\[\\%]|%[^\r\n]*"
    r"|\\(input|include|subfile|import|subimport|inputfrom|includefrom|subinputfrom|subincludefrom"
    r"|usepackage|RequirePackage|documentclass|LoadClass)(?![A-Za-z@])(\*?)"
    r"|\\begin\s*\{(verbatim\*?|Verbatim|lstlisting|minted|comment)\}"
)
_GROUP = re.compile(r"\s*\{([^{}\r\n]*)\}")
_OPTION = re.compile(r"\s*\[([^\[\]\r\n]*)\]")
_BARE = re.compile(r"[ \t]+([^\s{}%\\]+)")  # \input file (TeX primitive syntax)
_TWO_ARGS = {"import", "subimport", "inputfrom", "includefrom", "subinputfrom", "subincludefrom"}
_CURRENT_DIR_FIRST = {"subfile", "subimport", "subinputfrom", "subincludefrom"}


@dataclass(frozen=True, slots=True)
class Include:
    kind: str  # the command without backslash ("input", "usepackage", ...)
    name: str  # as written ("sections/method", "macros"; import's two arguments joined)
    start: int  # offset of the command in the including file
    end: int  # offset just past its arguments


@dataclass(frozen=True)
class FileInfo:
    stamp: Hashable
    includes: tuple[Include, ...]
    magic_root: str | None  # `% !TEX root` or subfiles' main file, resolved
    has_class: bool  # \documentclass (other than subfiles): a root by itself


@dataclass
class ProjectContext:
    """What the rest of a project contributes to one file."""

    path: str  # the file the context is for
    root: str  # its root file (== path when the file is a root)
    files: tuple[str, ...]  # the files that contributed, in reading order
    macros: dict[str, Macro]  # spans are offsets in the defining file (see macro_paths)
    macro_paths: dict[str, str]
    scope: Any  # mcls.scope.Scope: declarations with Decl.path set, assumptions, sizes
    fingerprint: str
    depends: frozenset[str] = field(default_factory=frozenset)  # every file read for it
    included: frozenset[str] = frozenset()  # files the file includes itself (they come after it)


def normalize(path: str) -> str:
    return os.path.normcase(os.path.normpath(os.path.abspath(path)))


def _inside(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([path, folder]) == folder
    except ValueError:  # different drives
        return False


def disk_reader(path: str) -> str | None:
    """UTF-8 text of a file on disk (a BOM dropped), None when unreadable or too large."""
    try:
        if os.path.getsize(path) > MAX_BYTES:
            return None
        with open(path, "rb") as f:
            return f.read().decode("utf-8-sig", errors="replace")
    except OSError:
        return None


def disk_stamp(path: str) -> Hashable:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return ("disk", st.st_mtime_ns, st.st_size)


class Project:
    """Root resolution and contexts over a workspace; safe to call from one thread at a time
    (a lock serialises callers anyway)."""

    def __init__(
        self,
        folders: Iterable[str] | Callable[[], Iterable[str]] = (),
        read: Reader = disk_reader,
        stamp: Stamper | None = None,
        max_files: int = MAX_FILES,
    ) -> None:
        self._folders = folders
        self.read = read
        self.stamp = stamp or disk_stamp
        self.max_files = max_files
        self._lock = threading.RLock()
        self._infos: dict[str, FileInfo] = {}
        self._roots: dict[str, tuple[str | None, tuple[tuple[str, Hashable], ...], float]] = {}
        self._contexts: dict[str, tuple[tuple, ProjectContext | None]] = {}
        self._scan: dict[str, tuple[list[str], float]] = {}
        self._targets: dict[tuple, str | None] = {}
        self._pending: list[list[str] | None] = []
        # Called (on the caller's thread) with every context built; the language server
        # uses it to start watching files once a document turns out to be part of a project.
        self.on_context: Callable[[ProjectContext], None] | None = None

    # ------------------------------------------------------------------ workspace

    def folders(self) -> list[str]:
        raw = self._folders() if callable(self._folders) else self._folders
        return [normalize(f) for f in raw if f]

    def workspace_of(self, path: str) -> str:
        """The workspace folder holding ``path`` (the outermost), else the file's directory."""
        inside = [f for f in self.folders() if _inside(path, f)]
        return min(inside, key=len) if inside else os.path.dirname(path)

    def _allowed(self, path: str, workspace: str) -> bool:
        if not _inside(path, workspace):
            return False
        real, wreal = os.path.realpath(path), os.path.realpath(workspace)
        return _inside(os.path.normcase(real), os.path.normcase(wreal))  # no symlink out

    def invalidate(self, paths: Iterable[str] | None = None) -> None:
        """Forget cached answers (all, or those that involve ``paths``): files were created,
        deleted or changed on disk. Never blocks: applied by the next ``context_for``."""
        self._pending.append(None if paths is None else [normalize(p) for p in paths])

    def _apply_invalidations(self) -> None:
        while self._pending:
            paths = self._pending.pop(0)
            self._scan.clear()
            self._targets.clear()  # a created or deleted file changes what names resolve to
            if paths is None:
                self._infos.clear()
                self._roots.clear()
                self._contexts.clear()
                continue
            changed = set(paths)
            for p in changed:
                self._infos.pop(p, None)
            self._roots = {k: v for k, v in self._roots.items() if v[0] is not None and not changed & {p for p, _ in v[1]}}
            self._contexts = {k: v for k, v in self._contexts.items() if v[1] is not None and not changed & v[1].depends}

    def dependents(self, changed: Iterable[str]) -> set[str]:
        """Files whose cached context was built from one of ``changed`` (lock-free: the
        language server asks from its event loop while the worker may be building)."""
        changed = {normalize(p) for p in changed}
        for _ in range(3):
            try:
                items = list(self._contexts.items())
                break
            except RuntimeError:  # resized meanwhile
                continue
        else:
            return set()
        return {k for k, (_, ctx) in items if ctx is not None and changed & ctx.depends}

    # ------------------------------------------------------------------ reading files

    def _text(self, path: str) -> str | None:
        try:
            text = self.read(path)
        except Exception:  # noqa: BLE001 - an unreadable file is no file
            return None
        if text is not None and len(text) > MAX_BYTES:
            return None
        return text

    def info(self, path: str, text: str | None = None, workspace: str | None = None) -> FileInfo | None:
        """Include commands and root hints of one file (cached per stamp)."""
        stamp = self.stamp(path) if text is None else ("text", hash(text), len(text))
        hit = self._infos.get(path)
        if hit is not None and hit.stamp == stamp and stamp is not None:
            return hit
        if text is None:
            text = self._text(path)
            if text is None:
                return None
        info = FileInfo(stamp, *self._parse(path, text, workspace or self.workspace_of(path)))
        if stamp is not None:
            self._infos[path] = info
        return info

    def _parse(self, path: str, text: str, workspace: str) -> tuple[tuple[Include, ...], str | None, bool]:
        here = os.path.dirname(path)
        includes: list[Include] = []
        magic = None
        head = "\n".join(text.split("\n", MAGIC_LINES)[:MAGIC_LINES])
        if m := _MAGIC_ROOT.search(head):
            magic = self._resolve(m.group(1).strip().strip('"'), [here], (".tex",), workspace, explicit=True)
        has_class = False
        i = 0
        while (m := _INCLUDE_TOKEN.search(text, i)) is not None:
            i = m.end()
            if m.group(3):  # verbatim: skip to its end
                j = text.find("\\end{" + m.group(3) + "}", i)
                i = len(text) if j < 0 else j
                continue
            cmd = m.group(1)
            if not cmd:
                continue  # an escape or a comment
            opt = _OPTION.match(text, i)
            if opt and cmd in ("usepackage", "RequirePackage", "documentclass", "LoadClass"):
                i = opt.end()
            args: list[str] = []
            for _ in range(2 if cmd in _TWO_ARGS else 1):
                g = _GROUP.match(text, i)
                if g is None:
                    break
                args.append(g.group(1).strip())
                i = g.end()
            if not args and cmd == "input" and (b := _BARE.match(text, i)):
                args, i = [b.group(1)], b.end()
            if not args or (cmd in _TWO_ARGS and len(args) < 2):
                continue
            if cmd in ("documentclass", "LoadClass"):
                if cmd == "documentclass" and args[0] == "subfiles" and opt:
                    magic = magic or self._resolve(opt.group(1).strip(), [here], (".tex",), workspace, explicit=True)
                elif cmd == "documentclass":
                    has_class = True
                includes.append(Include(cmd, args[0], m.start(), i))
            elif cmd in ("usepackage", "RequirePackage"):
                includes += [Include(cmd, n.strip(), m.start(), i) for n in args[0].split(",") if n.strip()]
            else:
                includes.append(Include(cmd, "/".join(a.rstrip("/") for a in args) if cmd in _TWO_ARGS else args[0], m.start(), i))
        return tuple(includes), magic, has_class

    def _resolve(self, name: str, dirs: list[str], exts: tuple[str, ...], workspace: str,
                 exts_only: bool = False, explicit: bool = False) -> str | None:
        """An existing file for ``name`` (relative to one of ``dirs``), inside the workspace.
        ``explicit`` (a magic root) may also name a file in a parent of the workspace folder
        that holds the current file -- it is one file the author named, never a crawl."""
        if not name or "\x00" in name or len(name) > 512:
            return None
        name = name.replace("\\", "/") if os.sep == "\\" else name
        cands = []
        for d in dirs:
            base = os.path.join(d, os.path.expanduser(name) if explicit else name)
            if exts_only:
                cands.append(base + exts[0])
            else:
                if os.path.splitext(base)[1]:
                    cands.append(base)
                cands += [base + e for e in exts]
        for c in cands:
            c = normalize(c)
            if not (self._allowed(c, workspace) or (explicit and c.endswith(".tex"))):
                continue
            if os.path.isfile(c):
                return c
        return None

    def target(self, inc: Include, here: str, root_dir: str | None, workspace: str) -> str | None:
        """The file an include command names, or None (not in the workspace, a system package).

        LaTeX resolves names against the root's directory; ``\\subfile``/``\\subimport`` against
        the including file's. Without a known root (while looking for one) the including
        file's directory and its parents up to the workspace folder are tried."""
        key = (inc.kind, inc.name, here, root_dir, workspace)
        if key in self._targets:
            return self._targets[key]
        if root_dir is None:
            dirs, d = [], here
            while _inside(d, workspace) and len(dirs) < 8:
                dirs.append(d)
                if d == workspace:
                    break
                d = os.path.dirname(d)
        else:
            dirs = [here, root_dir] if inc.kind in _CURRENT_DIR_FIRST else [root_dir, here]
        if inc.kind in ("usepackage", "RequirePackage"):
            t = self._resolve(inc.name, dirs, (".sty",), workspace, exts_only=True)
        elif inc.kind in ("documentclass", "LoadClass"):
            t = self._resolve(inc.name, dirs, (".cls",), workspace, exts_only=True)
        else:
            t = self._resolve(inc.name, dirs, (".tex",), workspace, exts_only=inc.kind == "include")
        if len(self._targets) > 20000:
            self._targets.clear()
        self._targets[key] = t
        return t

    def targets(self, path: str, info: FileInfo, root: str | None) -> list[tuple[Include, str]]:
        """(command, file) for the includes of ``path`` that resolve (``root``: its root)."""
        here, ws = os.path.dirname(path), self.workspace_of(path)
        root_dir = os.path.dirname(root) if root else None
        out = []
        for inc in info.includes:
            t = self.target(inc, here, root_dir, ws)
            if t is not None and t != path:
                out.append((inc, t))
        return out

    # ------------------------------------------------------------------ roots

    def root_of(self, path: str, text: str | None = None) -> str | None:
        """The root file of ``path``: itself when it is one; None when it is a file that no
        root includes (a lone fragment)."""
        path = normalize(path)
        with self._lock:
            self._apply_invalidations()
            return self._root_of(path, text)[0]

    def _root_of(self, path: str, text: str | None) -> tuple[str | None, tuple[tuple[str, Hashable], ...]]:
        workspace = self.workspace_of(path)
        info = self.info(path, text, workspace)
        if info is None:
            return None, ()
        seen = {path}
        cur, cur_info = path, info
        while cur_info is not None and cur_info.magic_root and cur_info.magic_root not in seen and len(seen) < 8:
            cur = cur_info.magic_root  # follow `% !TEX root` chains (a root may name its own)
            seen.add(cur)
            cur_info = self.info(cur, None, self.workspace_of(cur))
        if cur != path:
            return cur, ()
        if info.has_class:
            return path, ()
        hit = self._roots.get(path)
        if hit is not None:
            root, chain, when = hit
            if root is None:
                if time.monotonic() - when < NEGATIVE_TTL:
                    return None, ()
            elif all(self.stamp(p) == s for p, s in chain):
                return root, chain
        root, chain = self._search_includers(path, workspace)
        self._roots[path] = (root, chain, time.monotonic())
        return root, chain

    def _tex_files(self, workspace: str) -> list[str]:
        hit = self._scan.get(workspace)
        if hit is not None and time.monotonic() - hit[1] < 30.0:
            return hit[0]
        out: list[str] = []
        dirs = 0
        for dirpath, dirnames, filenames in os.walk(workspace, followlinks=False):
            dirs += 1
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS)
            for f in sorted(filenames):
                if f.endswith(".tex"):
                    p = normalize(os.path.join(dirpath, f))
                    if self._allowed(p, workspace):
                        out.append(p)
            if len(out) >= self.max_files or dirs >= MAX_DIRS:
                break
        out = out[: self.max_files]
        self._scan[workspace] = (out, time.monotonic())
        return out

    def _search_includers(self, path: str, workspace: str) -> tuple[str | None, tuple[tuple[str, Hashable], ...]]:
        parents: dict[str, list[str]] = {}
        infos: dict[str, FileInfo] = {}
        for f in self._tex_files(workspace):
            if f == path:
                continue
            inf = self.info(f, None, workspace)
            if inf is None:
                continue
            infos[f] = inf
            for _, t in self.targets(f, inf, None):
                parents.setdefault(t, []).append(f)
        # Walk up from the file; the roots are the ancestors nobody includes.
        best: tuple | None = None
        frontier = [(path, ())]
        visited = {path}
        while frontier:
            nxt = []
            for node, chain in frontier:
                ups = [p for p in parents.get(node, []) if p not in visited]
                if not ups and node != path:
                    inf = infos.get(node)
                    key = (not (inf and inf.has_class), len(chain), node)
                    if best is None or key < best[0]:
                        best = (key, node, chain)
                for p in ups:
                    visited.add(p)
                    nxt.append((p, chain + ((p, self.stamp(p)),)))
            frontier = nxt
        if best is None:
            return None, ()
        return best[1], best[2]

    # ------------------------------------------------------------------ contexts

    def context_for(self, path: str, text: str | None = None) -> ProjectContext | None:
        """The context of ``path`` (``text``: its current text, else it is read), or None
        when no other file contributes anything."""
        path = normalize(path)
        with self._lock:
            self._apply_invalidations()
            if text is None:
                text = self._text(path)
                if text is None:
                    return None
            root, chain = self._root_of(path, text)
            own = self.info(path, text, self.workspace_of(path))
            own_key = tuple(t for _, t in self.targets(path, own, root or path)) if own else ()
            hit = self._contexts.get(path)
            if hit is not None:
                (h_root, h_own, stamps), ctx = hit
                if h_root == root and h_own == own_key and all(self.stamp(p) == s for p, s in stamps):
                    return ctx
            segments, read, included = self._segments(path, root or path, own)
            ctx = self._build(path, root or path, segments, read, chain, included) if segments else None
            if ctx is not None and self.on_context is not None:
                try:
                    self.on_context(ctx)
                except Exception:  # noqa: BLE001 - a listener never breaks the analysis
                    pass
            stamps = tuple((p, self.stamp(p)) for p in sorted(read | {p for p, _ in chain}))
            self._contexts[path] = ((root, own_key, stamps), ctx)
            if len(self._contexts) > 256:
                self._contexts.pop(next(iter(self._contexts)))
            return ctx

    def _segments(self, path: str, root: str, own: FileInfo | None) -> tuple[list[tuple[str, int, int | None]], set[str], set[str]]:
        """(file, start, end) pieces of text in reading order: everything before ``path``
        in the root's tree, then the files ``path`` includes itself; the files read; the
        files that came from ``path``'s own includes."""
        out: list[tuple[str, int, int | None]] = []
        visited: set[str] = {path}
        read: set[str] = set()

        def visit(f: str, depth: int) -> bool:  # True: `path` was reached (stop)
            if f in visited or depth > MAX_DEPTH or len(visited) > self.max_files:
                return False
            visited.add(f)
            inf = self.info(f, None, self.workspace_of(f))
            if inf is None:
                return False
            read.add(f)
            pos = 0
            for inc, t in self.targets(f, inf, root):
                out.append((f, pos, inc.start))
                if t == path:
                    return True
                pos = inc.end
                if visit(t, depth + 1):
                    return True
            out.append((f, pos, None))
            return False

        if root != path:
            visit(root, 0)  # (a root that does not include the file -- a stale magic comment -- counts whole)
        before = {f for f, _, _ in out}
        if own is not None:  # the file's own \input{macros}, \usepackage{notation}, ...
            for _, t in self.targets(path, own, root):
                visit(t, 1)
        included = {f for f, _, _ in out} - before
        return [s for s in out if s[2] is None or s[2] > s[1]], read, included

    def _build(self, path: str, root: str, segments, read: set[str], chain, included: set[str]) -> ProjectContext | None:
        from mcls.analysis import declarations_into  # lazy: sympy & co.
        from mcls.scope import Scope

        macros: dict[str, Macro] = {}
        macro_paths: dict[str, str] = {}
        scope = Scope()
        files: list[str] = []
        texts: dict[str, str | None] = {}
        h = hashlib.blake2b(digest_size=12)
        for f, start, end in segments:
            if f not in texts:
                texts[f] = self._text(f)
            text = texts[f]
            if text is None:
                continue
            piece = text[start:end]
            if not piece.strip():
                continue
            if f not in files:
                files.append(f)
            h.update(f"{f}\0{start}\0{end}\0{hash(piece)}\1".encode("utf-8", "surrogatepass"))
            if any(k in piece for k in ("\\def", "command", "\\Declare", "\\let")):
                for name, mac in collect_macros(piece).items():
                    macros[name] = replace(mac, span=(mac.span[0] + start, mac.span[1] + start))
                    macro_paths[name] = f
            if f.endswith((".sty", ".cls")):
                continue  # packages define, they do not declare shapes
            try:
                declarations_into(scope, piece, "latex", macros, f, start)
            except Exception:  # noqa: BLE001 - another file's oddity never breaks this one
                continue
        scope.redeclared.clear()  # conflicts between other files are reported there
        if not macros and not scope.decls and not scope.assumptions:
            return None
        depends = frozenset(read | {p for p, _ in chain})
        return ProjectContext(path, root, tuple(files), macros, macro_paths, scope, h.hexdigest(), depends,
                              frozenset(included))


# ---------------------------------------------------------------------- the active project

_active: Project | None = None


def set_active(project: Project | None) -> None:
    """The project ``mcls.analysis.analyze_cached`` consults for files with a path (the
    language server sets it; the CLI and tests pass contexts explicitly)."""
    global _active
    _active = project


def active() -> Project | None:
    return _active


def context_for(path: str, read: Reader = disk_reader, text: str | None = None,
                folders: Iterable[str] = ()) -> ProjectContext | None:
    """One-shot convenience: the context of ``path`` in a workspace of ``folders`` (default:
    the file's directory)."""
    return Project(folders, read).context_for(path, text)
