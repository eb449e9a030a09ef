"""Rendering of IR: LaTeX in the author's style, Unicode, NumPy code, SVG."""
