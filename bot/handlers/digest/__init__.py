"""The weekly digest in the chat: one tap to get it at a chosen hour, one to stop it."""
