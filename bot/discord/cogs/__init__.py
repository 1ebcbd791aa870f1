"""One cog per feature: scoring, dances, leaderboards, challenges, help."""
