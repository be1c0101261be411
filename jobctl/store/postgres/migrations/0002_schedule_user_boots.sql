-- 0002_schedule_user_boots: SQLite's 0010-0012. `shadow` may be NULL ("not set by the
-- schedule": config shadow_mode decides); who a schedule's jobs run as; each boot of a node,
-- whose first daemon start is the nominal time of the boot's @reboot fires.
ALTER TABLE schedules ALTER COLUMN shadow DROP NOT NULL;
ALTER TABLE schedules ALTER COLUMN shadow DROP DEFAULT;
ALTER TABLE schedules ADD COLUMN "user" text;
CREATE TABLE boots (
    boot_id text PRIMARY KEY,
    seen_at double precision NOT NULL,
    node text NOT NULL
);
