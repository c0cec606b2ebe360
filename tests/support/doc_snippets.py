"""The code snippets of the README and docs/, read from the files as a reader sees them.

Every JavaScript, TypeScript, HTML and Python block must be run by a test exactly as printed
(issue 14 item 2: an SDK example once returned ``[{},{},{}]``). Each test fetches its block with
:func:`snippet`; :data:`RUN_BY` names the test that runs each one, and
``tests/unit/test_doc_snippets_are_run.py`` checks that no block is left out and that each named
test exists. A test may put the real bridge's address in place of ``https://bridge.example.com``
and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = ("README.md", *sorted(f"docs/{p.name}" for p in (REPO / "docs").glob("*.md")))
RUNNABLE = frozenset({"js", "javascript", "ts", "typescript", "html", "python", "py"})
PLACEHOLDER_BRIDGE = "https://bridge.example.com"

_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", flags=re.S | re.M)


@dataclass(frozen=True)
class Snippet:
    doc: str
    line: int
    lang: str
    text: str

    def with_bridge(self, bridge_url: str) -> str:
        """The block with the real bridge's address in place of the placeholder, nothing else."""
        return self.text.replace(PLACEHOLDER_BRIDGE, bridge_url)


def runnable_snippets() -> list[Snippet]:
    """Every runnable block of the README and docs/, in file order."""
    found = []
    for doc in DOCS:
        text = (REPO / doc).read_text(encoding="utf-8")
        for match in _FENCE.finditer(text):
            if match.group(1).lower() in RUNNABLE:
                line = text.count("\n", 0, match.start()) + 1
                found.append(Snippet(doc, line, match.group(1).lower(), match.group(2)))
    return found


def snippet(doc: str, containing: str) -> Snippet:
    """The one runnable block of ``doc`` whose text contains ``containing``."""
    matches = [s for s in runnable_snippets() if s.doc == doc and containing in s.text]
    if len(matches) != 1:
        raise LookupError(f"{len(matches)} blocks of {doc} contain {containing!r}; want exactly 1")
    return matches[0]


RUN_BY: dict[tuple[str, str], str] = {
    ("README.md", "const looks = await fetch"): (
        "tests/browser/test_doc_snippets.py::test_the_readme_wiring_snippet_runs_as_printed"
    ),
    ("docs/demo.md", "async function looker"): (
        "tests/browser/test_doc_snippets.py::test_the_demo_docs_fetch_snippet_runs_as_printed"
    ),
    ("docs/demo.md", "class BridgeSession extends AuthSession"): (
        "tests/browser/test_doc_snippets.py::test_the_demo_docs_sdk_session_runs_as_printed"
    ),
    ("docs/embedding.md", "signIn("): (
        "tests/browser/test_doc_snippets.py::test_the_embedding_snippet_signs_in_from_a_frame"
    ),
    ("docs/proxy.md", "createBridgeSdk"): (
        "tests/browser/test_cross_origin.py::test_the_sdk_example_of_the_docs_runs_as_printed"
    ),
    ("docs/proxy.md", "const response = await fetch"): (
        "tests/browser/test_doc_snippets.py::test_the_plain_fetch_snippet_runs_as_printed"
    ),
    ("docs/emulator.md", "EmulatorServer(cfg"): (
        "tests/emulator/test_docs_example.py::test_the_python_example_runs_as_printed"
    ),
}
"""Which test runs each block, by the block's file and a string only it contains there."""
