-- 0005_journal: indexes for the everyday pages (week view, teacher's day,
-- class checkpoints, term marks of a class) so that none of them scans a
-- growing table: each looks up by class and date range or by class/subject.
CREATE INDEX lessons_class_date ON lessons(class_id, date);
CREATE INDEX checkpoints_class_due ON checkpoints(class_id, due_date);
CREATE INDEX term_marks_class_subject ON term_marks(class_id, subject_id, year_start, period);
