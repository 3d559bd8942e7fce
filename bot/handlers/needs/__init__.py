"""The needs survey as coordinators see it: counts by category, each need, merge, mark."""
