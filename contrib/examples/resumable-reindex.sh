#!/bin/sh
# A resumable batch job: reindex rows [0, REINDEX_TOTAL) in slices of REINDEX_SLICE, saving
# a checkpoint (the next row to do) after each slice. Run it once per DB, resumably:
#
#   jobctl once run reindex-2026-12 --resumable -- contrib/examples/resumable-reindex.sh
#
# If it fails (or is killed) half way, run the same command again: it starts from the last
# checkpoint (JOBCTL_CHECKPOINT) instead of from row 0. It works as a job too
# (`jobctl enqueue -- …`): the next attempt gets the checkpoint. A slice may be redone after a
# crash between the work and the checkpoint, so each slice must be idempotent.
#
# Knobs (environment): REINDEX_TOTAL (rows, default 10000), REINDEX_SLICE (default 1000),
# REINDEX_LOG (where the demo "reindex" writes, default stdout), REINDEX_FAIL_AT (demo: fail
# when a slice reaches this row), JOBCTL (the jobctl command, default `jobctl`).
set -eu

total=${REINDEX_TOTAL:-10000}
slice=${REINDEX_SLICE:-1000}
log=${REINDEX_LOG:-/dev/stdout}
fail_at=${REINDEX_FAIL_AT:-}
jobctl=${JOBCTL:-jobctl}
start=${JOBCTL_CHECKPOINT:-0}

reindex_slice() {  # Replace with the real work, e.g.:
    # psql -v ON_ERROR_STOP=1 -c "UPDATE items SET tsv = to_tsvector(body)
    #                             WHERE id >= $1 AND id < $2"
    if [ -n "$fail_at" ] && [ "$1" -le "$fail_at" ] && [ "$fail_at" -lt "$2" ]; then
        echo "reindex: failed in slice $1..$2" >&2
        return 1
    fi
    echo "reindexed $1..$2" >>"$log"
}

if [ "$start" -gt 0 ]; then
    echo "reindex: resuming at row $start of $total" >&2
fi
while [ "$start" -lt "$total" ]; do
    end=$((start + slice))
    if [ "$end" -gt "$total" ]; then
        end=$total
    fi
    reindex_slice "$start" "$end"
    "$jobctl" checkpoint set "$end"
    start=$end
done
echo "reindex: done ($total rows)" >&2
