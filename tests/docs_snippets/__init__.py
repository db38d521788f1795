"""Every Python snippet of the documentation, as code that the tests run.

Pages include sections of these files with ``--8<-- "path:section"``
(pymdownx.snippets); tests/test_docs.py fails when a page holds a Python
block that is not included from here or from example_project/, and
tests/test_docs_snippets.py exercises each module.
"""
