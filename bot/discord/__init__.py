"""The Discord bot: slash commands over the shared scoring flow and community core."""
