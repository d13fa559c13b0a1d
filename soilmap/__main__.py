"""``python -m soilmap``: the ``soilmap`` command."""

from soilmap.cli.main import main

if __name__ == "__main__":
    main()
