"""The community core: dances, attempts, leaderboards and challenges, free of any chat platform.

`service.CommunityService` is what the bots and the CLI call; `models` holds the plain data it speaks,
`errors` the refusals (each `str()` is the reply to send), `ports` the interfaces of what it needs from
outside (clock, engine, store; implemented in `clock`, `bot.gateways` and `bot.storage`).
`bot.bootstrap.bootstrap` wires it.
"""
