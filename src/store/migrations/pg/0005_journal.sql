-- 0005_journal: indexes for the everyday pages so none of them scans a
-- growing table. Lessons by (class, date) are already served by the
-- UNIQUE (class_id, date, lesson_no, subgroup) index; these add the
-- checkpoints due in a week for a class and the term marks of a class.
CREATE INDEX checkpoints_class_due ON checkpoints(class_id, due_date);
CREATE INDEX term_marks_class_subject ON term_marks(class_id, subject_id, year_start, period);
