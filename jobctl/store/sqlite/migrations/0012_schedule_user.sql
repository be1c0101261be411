-- 0012_schedule_user: who a schedule's jobs run as (a system crontab's user column, or
-- `schedule import --user`), as a job type's `user:`; NULL: the daemon's user.
ALTER TABLE schedules ADD COLUMN user TEXT;
