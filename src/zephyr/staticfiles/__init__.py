"""Static files with HTTP caching, byte ranges, precompressed siblings and hashed URLs.

``Zephyr(static_folder="static")`` serves the app's ``static`` folder at
``/static``; ``app.static(prefix, folder)`` (or ``group.static``) serves more.
``app.static_url("app.css")`` (or :func:`zephyr.static_url` inside a request)
gives the file's hashed URL, ``/static/app.3f2a9c1e.css``, cached for a year;
:func:`build_manifest` gives every hashed name of a folder without an app.
"""

from zephyr.staticfiles.folder import build_manifest, hashed_name
from zephyr.staticfiles.serving import StaticFiles

__all__ = ["StaticFiles", "build_manifest", "hashed_name"]
