"""Package data: the Lark grammar (shipped in the wheel as mcls.grammar)."""
