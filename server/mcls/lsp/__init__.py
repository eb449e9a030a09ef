"""LSP glue: protocol types and positions only; no math lives here."""
