-- 0007_fk_indexes: index the referencing side of every foreign key whose
-- parent rows are deleted in normal operation. Without them each DELETE of a
-- mark scanned all works (the foreign-key check), each lesson removed by a
-- timetable change scanned all checkpoints, and a work's files were found by
-- a scan. Parents that are never deleted (regions, schools, users, terms,
-- classes) and subjects (deleted only when unused, a rare admin action) are
-- left out on purpose: their indexes would slow every mark and lesson write.
CREATE INDEX works_mark ON works(mark_id);
CREATE INDEX checkpoints_lesson ON checkpoints(lesson_id);
CREATE INDEX file_links_work ON file_links(work_id);
