"""Config texts shared by tests."""

from __future__ import annotations

# Every top-level key, each away from its default, every field shape the loader reads.
EVERY_SECTION = """\
enabled: false
queues:
  - name: bulk
    concurrency: 4
    retry_policy: {max_attempts: 3, backoff: fixed, base: 10s, max: 1h, jitter: none}
    max_depth: 10000
    shed: reject
    rate_limit: 20/s per tenant
  - name: critical
job_types:
  - name: send_email
    command: [/usr/local/bin/send-email, --fast]
    queue: bulk
    timeout: 30s
    retry_policy: {max_attempts: 2, backoff: linear}
    cwd: /tmp
  - name: nightly_sql
    command: "psql -f /srv/nightly.sql | tee /var/log/nightly.log"
    shell: true
  - name: resize
    handler: myapp.jobs:resize
schedules:
  - name: nightly-report
    cron: "30 2 * * *"
    tz: Europe/Berlin
    command: [/usr/local/bin/report]
    queue: bulk
    overlap: forbid
    misfire: once
    payload: {to: ops, n: 1}
retention: {succeeded: 7d, dead: 30d}
daemon: {concurrency: 3, lease: 45s, grace: 5s, http: "127.0.0.1:8765", log_format: json,
         misfire_grace: 2m}
durability: fast
strict_queues: false
non_retryable_exit_codes: [3, 64]
log_cap: 1MiB
log_dir: /srv/jobctl-logs
shadow_mode: {enabled: true, sampling_percent: 25}
kafka:
  bootstrap_servers: broker1:9092
  security_protocol: SASL_SSL
  sasl_mechanism: PLAIN
  sasl_username: jobctl
  sasl_password_file: /etc/jobctl/kafka.pw
  sample_interval: 1m
  queues:
    scheduler: {group: scheduler-workers, topic: jobs, max_lag: 1000, max_lag_seconds: 5m}
health:
  warn_lag: 2m
  max_depth: 500
  min_free_disk: 500MiB
  schedule_grace: 10m
  cache: 10s
  probes:
    - {name: pg, postgres: {url_env: APP_PG_URL}}
    - {name: cache, redis: "redis://127.0.0.1:6379/0", timeout: 1s, level: warning}
    - name: api
      http: {url: "http://127.0.0.1:8080/health", method: HEAD, status: [200, 204],
             contains: ok, follow_redirects: true, verify: false}
    - {name: cert, tls: {address: "localhost:443", warn_days: 20, crit_days: 5,
                         server_name: api.local, verify: true}}
    - {name: load, command: ["true", -w, "5"]}
    - {name: spool, disk: {path: /tmp, min_free: 10%}}
    - {name: port, tcp: "127.0.0.1:22"}
    - {name: my, mysql: {url_env: APP_MY_URL}}
notify:  # secret files: any readable file here (config check reads them)
  channels:
    - {name: oncall, pagerduty: {routing_key_file: /etc/os-release}, timeout: 5s}
    - {name: team, email: {to: [ops@example.com], from: jobctl@example.com,
                           smtp: "smtp://127.0.0.1:25", username: u,
                           password_file: /etc/os-release}}
    - {name: chat, webhook: {url_file: /etc/os-release, format: slack},
       give_up_after: 2h}
    - {name: script, exec: [/usr/local/bin/on-job-event]}
  routes:
    - {match: {severity: page, event: [dead, missed]}, to: [oncall], after: 2, max_per: 2/30m}
    - {name: billing, match: {owner: billing}, to: [team, chat], on_recovery: true,
       while_retrying: true}
"""
