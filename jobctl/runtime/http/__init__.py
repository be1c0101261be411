"""The daemon's HTTP API: enqueue, job lookup, /healthz, /metrics, /status, /openapi.json.

Served by `server.HttpServer` on its own threads (own store connections) and started and
stopped by `hook.HttpHook`; prometheus-client is imported only here, never by the CLI's
enqueue path.
"""
