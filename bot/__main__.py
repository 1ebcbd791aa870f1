"""`python -m bot`: the same as `dancescore bot`."""

import sys

from bot.cli import main

raise SystemExit(main(["bot", *sys.argv[1:]]))
