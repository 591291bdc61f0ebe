"""``python -m examples.showcase`` (what ``make run`` runs): serve the showcase with reload.

It listens on the HOST and PORT settings, http://127.0.0.1:8000 unless
``make run PORT=8001`` (or ``ZEPHYR_PORT=8001``) says otherwise.
"""

from examples.showcase.app import app
from zephyr.server import refuse_busy_port

if __name__ == "__main__":
    refuse_busy_port(app.config["HOST"], app.config["PORT"],
                     how="make run PORT={port} (or ZEPHYR_PORT={port})")
    app.run(reload=True)
