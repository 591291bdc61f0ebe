"""Developer tools: the debug error page (the reloader and live reload come later)."""
