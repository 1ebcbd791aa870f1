"""Implementations of the core's ports that reach outside the bot process, each with its fake beside it.

`engine.PoolEngine` runs the real engine in the engine pool's worker processes; `scripted.ScriptedEngine`
is its fake (both pass the same contract test, tests/core/test_engine_contract.py).
"""
