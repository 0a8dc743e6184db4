"""The `servicecycle` command line: the composition root of core, plugins and kiosk."""
