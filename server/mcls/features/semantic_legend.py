"""The semantic token legend (see ``semantic``), apart so that the server can announce it
in ``initialize`` without importing the analysis."""

TOKEN_TYPES = ["variable", "parameter", "function", "operator", "macro", "type", "number"]
TOKEN_MODIFIERS = ["declaration", "definition", "readonly", "defaultLibrary", "matrix", "vector", "scalar"]
