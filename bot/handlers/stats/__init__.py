"""/stats and /report: a coordinator's figures in the chat."""
