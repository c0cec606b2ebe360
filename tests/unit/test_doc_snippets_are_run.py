"""Every JavaScript, HTML and Python block of the README and docs/ is run by a named test."""

from __future__ import annotations

import ast

from tests.support.doc_snippets import REPO, RUN_BY, runnable_snippets, snippet


def test_every_runnable_block_of_the_docs_is_run_by_a_test() -> None:
    claimed = {snippet(doc, containing) for doc, containing in RUN_BY}
    unclaimed = [f"{s.doc}:{s.line} ({s.lang})" for s in runnable_snippets() if s not in claimed]
    assert unclaimed == [], "add a test that runs each of these, and list it in RUN_BY"
    assert len(claimed) == len(RUN_BY)  # no two entries name the same block


def test_each_test_named_for_a_block_exists_and_reads_that_block() -> None:
    for (doc, containing), test_id in RUN_BY.items():
        path, _, name = test_id.partition("::")
        source = (REPO / path).read_text(encoding="utf-8")
        functions = {
            node.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.FunctionDef)
        }
        assert name in functions, test_id
        # The test (or a helper it calls) fetches the block by the same file and string.
        assert repr(doc) in source or f'"{doc}"' in source, test_id
        assert f'"{containing}"' in source or repr(containing) in source, test_id
