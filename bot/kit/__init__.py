"""What every feature of the bot uses, and that imports no feature."""
