"""The Telegram adapter: python-telegram-bot handlers over the shared flow and core."""
