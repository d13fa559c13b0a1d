"""``python -m soilmap``: the ``soilmap`` command."""

from soilmap.cli.main import cli

if __name__ == "__main__":
    cli(prog_name="soilmap")
