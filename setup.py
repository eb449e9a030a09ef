"""Package list only; everything else is in pyproject.toml.

setuptools' declarative packages.find cannot add a package from outside its
`where` directory, so the top-level grammar/ folder (mapped to mcls.grammar in
pyproject's package-dir) is appended here.
"""

from setuptools import find_packages, setup

setup(packages=find_packages("server", include=["mcls", "mcls.*"]) + ["mcls.grammar"])
