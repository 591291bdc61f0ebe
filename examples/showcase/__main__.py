"""``python -m examples.showcase``: serve the showcase on http://127.0.0.1:8000 with reload."""

from examples.showcase.app import app

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000, reload=True)
