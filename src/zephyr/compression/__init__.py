"""Response compression: gzip always, brotli and zstd when their packages are installed.

The ``COMPRESSION`` setting turns it on; the app then composes one
:class:`CompressionMiddleware` around itself at startup (a pure ASGI layer, so
an app without it pays nothing). It honours ``Accept-Encoding`` with its
q-values, compresses text types above a size threshold, chunk by chunk for
streams, and leaves alone what must not or need not be compressed.
"""

from zephyr.compression.codings import choose_coding, compresses, negotiate
from zephyr.compression.middleware import CompressionConfig, CompressionMiddleware

__all__ = ["CompressionConfig", "CompressionMiddleware", "choose_coding", "compresses", "negotiate"]
