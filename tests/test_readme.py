"""The README's two set-up commands stay true: CI runs exactly the test command."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _bash_blocks(text: str) -> list[str]:
    parts = text.split("```bash\n")[1:]
    return [p.split("```")[0].strip() for p in parts]


def test_ci_runs_the_readme_test_command():
    blocks = _bash_blocks((REPO / "README.md").read_text())
    test_cmd = next(b for b in blocks if "pytest" in b)
    assert test_cmd in (REPO / ".ci" / "run").read_text()


def test_readme_demo_command_uses_the_bundled_sample():
    blocks = _bash_blocks((REPO / "README.md").read_text())
    demo = next(b for b in blocks if "soilmap demo" in b)
    assert "pip install ." in demo
