"""Volunteer teams in the chat: my teams, a team's members and hours, the leader's message."""
