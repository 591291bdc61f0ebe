"""Security: sessions, CSRF, hosts, headers, limits, rate limits, auth, outbound guards."""
