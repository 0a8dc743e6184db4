"""Kiosk widgets: faces, tiles, the language bar and the QR code."""
