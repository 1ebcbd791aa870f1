"""The community core: dances, attempts, leaderboards and challenges, free of any chat platform.

`service.CommunityService` is what the bots and the CLI call; `models` holds the plain data it speaks,
`errors` the refusals (each `str()` is the reply to send), `ports` what it needs from outside (clock,
engine, store) with real implementations and test doubles. `bot.bootstrap.community_service` wires it.
"""
