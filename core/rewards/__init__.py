"""What credits buy: partner merchants and redemption of their items for time credit."""
