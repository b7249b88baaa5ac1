"""Components the core ships, registered through the same hooks as any plugin."""
