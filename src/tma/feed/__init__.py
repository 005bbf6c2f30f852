"""What to do next: a parent's next posts across their open modules, fitted to their
children's ages (companion spec §4)."""
