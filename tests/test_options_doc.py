"""docs/options.md shows the option table exactly as the code defines it."""

from __future__ import annotations

from pathlib import Path

from ingressbed.options import markdown_table, variables_table

DOC = Path(__file__).resolve().parent.parent / "docs" / "options.md"


def test_the_documented_table_is_the_code_table():
    text = DOC.read_text()
    start = text.index("<!-- options-table: generated, do not edit by hand -->\n")
    end = text.index("<!-- end options-table -->")
    documented = text[start:end].split("\n", 1)[1]
    assert documented == markdown_table(), (
        "docs/options.md is out of date; regenerate the table with "
        "python -c 'from ingressbed.options import markdown_table; print(markdown_table())'"
    )


def test_the_documented_other_variables_are_the_code_list():
    text = DOC.read_text()
    start = text.index("<!-- variables-table: generated, do not edit by hand -->\n")
    end = text.index("<!-- end variables-table -->")
    documented = text[start:end].split("\n", 1)[1]
    assert documented == variables_table(), (
        "docs/options.md is out of date; regenerate the list with "
        "python -c 'from ingressbed.options import variables_table; print(variables_table())'"
    )
