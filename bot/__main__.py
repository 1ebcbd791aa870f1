"""`python -m bot`: the same as `dancescore bot`."""

from bot.runner import main

raise SystemExit(main())
