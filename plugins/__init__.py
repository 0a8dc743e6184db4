"""Built-in industry plugins. Each is a normal plugin, found by its entry point."""
