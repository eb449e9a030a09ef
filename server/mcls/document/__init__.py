"""Document text handling: positions and math regions."""
