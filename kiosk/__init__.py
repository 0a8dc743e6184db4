"""The Textual kiosk: talks to servicecycle.core only."""
