"""Pure data and rules: commands, targets, plan, memory, repo config, usage, pricing, results,
decisions, the write policy, diffs and attribution. No I/O; imports nothing else of bot but
bot.errors."""
