-- 0011_boots: each boot of a node (its kernel boot id), from when the first daemon after it
-- started. That time is the nominal time of the boot's @reboot fires, so a restart or a second
-- daemon in the same boot finds them recorded (the fires key) and does not fire them again.
CREATE TABLE boots (
    boot_id TEXT PRIMARY KEY,
    seen_at REAL NOT NULL,
    node TEXT NOT NULL
) WITHOUT ROWID;
