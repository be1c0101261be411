-- 0008_kafka_samples: consumer-lag samples per partition, the window `kafka-lag` evaluates
-- Burrow-style (SPEC "Observability and API", kafka-lag). Pruned by age on every write.
CREATE TABLE kafka_samples (
    id INTEGER PRIMARY KEY,
    cluster TEXT NOT NULL,        -- the bootstrap servers as given (one DB may watch several)
    group_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    at REAL NOT NULL,             -- epoch seconds
    committed INTEGER,            -- NULL: the group has no commit on this partition
    end_offset INTEGER NOT NULL   -- high watermark
);
CREATE INDEX kafka_samples_key ON kafka_samples (cluster, group_id, topic, partition, at);
CREATE INDEX kafka_samples_at ON kafka_samples (at);
