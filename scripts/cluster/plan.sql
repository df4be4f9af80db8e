-- plan.sql - what the cluster load (load.mjs) works on, as one JSON document:
-- teachers with recent past lessons (their class's students) and works to comment on,
-- and students whose everyday pages are read. Run against the generated data set.
WITH t AS (
  SELECT u.id, u.login FROM users u JOIN user_roles r ON r.user_id = u.id AND r.role = 'teacher'
  WHERE EXISTS (SELECT 1 FROM checkpoints c JOIN works w ON w.checkpoint_id = c.id WHERE c.teacher_id = u.id)
  ORDER BY u.id LIMIT 8)
SELECT json_build_object('password', 'bench1234',
  'teachers', (SELECT json_agg(json_build_object('id', t.id, 'login', t.login,
      'lessons', (SELECT json_agg(json_build_object('id', l.id, 'class_id', l.class_id, 'subject_id', l.subject_id,
                    'students', (SELECT json_agg(cs.student_id) FROM class_students cs
                                 WHERE cs.class_id = l.class_id AND cs.to_date IS NULL)))
                  FROM (SELECT * FROM lessons WHERE teacher_id = t.id AND cancelled = 0 AND subgroup = ''
                          AND date <= to_char(current_date, 'YYYY-MM-DD')
                          AND EXISTS (SELECT 1 FROM terms tm WHERE tm.school_id = lessons.school_id
                                      AND tm.closed_at IS NULL AND lessons.date BETWEEN tm.starts_on AND tm.ends_on)
                        ORDER BY date DESC LIMIT 60) l),
      'works', (SELECT coalesce(json_agg(w.id), '[]') FROM (SELECT w.id FROM works w JOIN checkpoints c
                  ON c.id = w.checkpoint_id WHERE c.teacher_id = t.id ORDER BY w.id LIMIT 20) w))) FROM t),
  'students', (SELECT json_agg(json_build_object('id', u.id, 'login', u.login)) FROM
      (SELECT u.id, u.login FROM users u JOIN user_roles r ON r.user_id = u.id AND r.role = 'student'
       ORDER BY u.id LIMIT 16) u));
