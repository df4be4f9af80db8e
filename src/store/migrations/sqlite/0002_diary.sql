-- 0002_diary: the school diary. Dates are ISO TEXT ('2026-09-01'); instants
-- are INTEGER milliseconds since the epoch; booleans are 0/1.
CREATE TABLE regions (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE schools (
    id INTEGER PRIMARY KEY,
    region_id INTEGER NOT NULL REFERENCES regions(id),
    name TEXT NOT NULL,
    term_kind TEXT NOT NULL DEFAULT 'quarter' CHECK (term_kind IN ('quarter', 'trimester')),
    created_at INTEGER NOT NULL
);
CREATE INDEX schools_region ON schools(region_id);
-- An academic year of a school: year_start 2026 is the 2026/27 year.
CREATE TABLE terms (
    id INTEGER PRIMARY KEY,
    school_id INTEGER NOT NULL REFERENCES schools(id),
    year_start INTEGER NOT NULL,
    number INTEGER NOT NULL CHECK (number BETWEEN 1 AND 4),
    starts_on TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    closed_at INTEGER,
    closed_by INTEGER,
    UNIQUE (school_id, year_start, number)
);
CREATE TABLE holidays (
    id INTEGER PRIMARY KEY,
    school_id INTEGER NOT NULL REFERENCES schools(id),
    name TEXT NOT NULL,
    starts_on TEXT NOT NULL,
    ends_on TEXT NOT NULL
);
CREATE INDEX holidays_school ON holidays(school_id, starts_on);
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    last_name TEXT NOT NULL,
    first_name TEXT NOT NULL,
    middle_name TEXT NOT NULL DEFAULT '',
    email TEXT,
    must_change_password INTEGER NOT NULL DEFAULT 1,
    blocked INTEGER NOT NULL DEFAULT 0,
    token_version INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    anonymized_at INTEGER
);
-- Roles: 'student','parent','teacher','admin' belong to a school;
-- 'sysadmin' has school_id 0 (all schools).
CREATE TABLE user_roles (
    user_id INTEGER NOT NULL REFERENCES users(id),
    school_id INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('student', 'parent', 'teacher', 'admin', 'sysadmin')),
    PRIMARY KEY (user_id, school_id, role)
);
CREATE INDEX user_roles_school ON user_roles(school_id, role);
CREATE TABLE classes (
    id INTEGER PRIMARY KEY,
    school_id INTEGER NOT NULL REFERENCES schools(id),
    start_year INTEGER NOT NULL,          -- the year the parallel entered grade 1
    letter TEXT NOT NULL,
    class_teacher_id INTEGER REFERENCES users(id),
    UNIQUE (school_id, start_year, letter)
);
-- Membership with history: a transfer closes one row and opens another.
CREATE TABLE class_students (
    id INTEGER PRIMARY KEY,
    class_id INTEGER NOT NULL REFERENCES classes(id),
    student_id INTEGER NOT NULL REFERENCES users(id),
    from_date TEXT NOT NULL,
    to_date TEXT
);
CREATE INDEX class_students_class ON class_students(class_id, to_date);
CREATE INDEX class_students_student ON class_students(student_id, to_date);
CREATE TABLE parent_links (
    parent_id INTEGER NOT NULL REFERENCES users(id),
    student_id INTEGER NOT NULL REFERENCES users(id),
    PRIMARY KEY (parent_id, student_id)
);
CREATE INDEX parent_links_student ON parent_links(student_id);
CREATE TABLE subjects (
    id INTEGER PRIMARY KEY,
    school_id INTEGER NOT NULL REFERENCES schools(id),
    name TEXT NOT NULL,
    UNIQUE (school_id, name)
);
-- Teaching assignment: who teaches what to whom (optionally a subgroup).
CREATE TABLE assignments (
    id INTEGER PRIMARY KEY,
    school_id INTEGER NOT NULL REFERENCES schools(id),
    teacher_id INTEGER NOT NULL REFERENCES users(id),
    class_id INTEGER NOT NULL REFERENCES classes(id),
    subject_id INTEGER NOT NULL REFERENCES subjects(id),
    subgroup TEXT NOT NULL DEFAULT '',
    UNIQUE (class_id, subject_id, subgroup, teacher_id)
);
CREATE INDEX assignments_teacher ON assignments(teacher_id);
CREATE INDEX assignments_class_subject ON assignments(class_id, subject_id);
-- Weekly template of a class's timetable, valid between two dates.
CREATE TABLE timetable_slots (
    id INTEGER PRIMARY KEY,
    school_id INTEGER NOT NULL REFERENCES schools(id),
    class_id INTEGER NOT NULL REFERENCES classes(id),
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    lesson_no INTEGER NOT NULL CHECK (lesson_no BETWEEN 0 AND 12),
    subject_id INTEGER NOT NULL REFERENCES subjects(id),
    teacher_id INTEGER NOT NULL REFERENCES users(id),
    room TEXT NOT NULL DEFAULT '',
    subgroup TEXT NOT NULL DEFAULT '',
    valid_from TEXT NOT NULL,
    valid_to TEXT NOT NULL
);
CREATE INDEX timetable_slots_class ON timetable_slots(class_id, weekday, lesson_no);
-- Dated lessons, generated from the template; one-day changes edit them
-- (substitution: another teacher; cancelled = 1).
CREATE TABLE lessons (
    id INTEGER PRIMARY KEY,
    school_id INTEGER NOT NULL REFERENCES schools(id),
    class_id INTEGER NOT NULL REFERENCES classes(id),
    subject_id INTEGER NOT NULL REFERENCES subjects(id),
    teacher_id INTEGER NOT NULL REFERENCES users(id),
    date TEXT NOT NULL,
    lesson_no INTEGER NOT NULL,
    subgroup TEXT NOT NULL DEFAULT '',
    room TEXT NOT NULL DEFAULT '',
    topic TEXT NOT NULL DEFAULT '',
    homework TEXT NOT NULL DEFAULT '',
    cancelled INTEGER NOT NULL DEFAULT 0,
    change_note TEXT NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL DEFAULT 0,
    UNIQUE (class_id, date, lesson_no, subgroup)
);
CREATE INDEX lessons_class_subject_date ON lessons(class_id, subject_id, date);
CREATE INDEX lessons_teacher_date ON lessons(teacher_id, date);
CREATE TABLE checkpoints (
    id INTEGER PRIMARY KEY,
    school_id INTEGER NOT NULL REFERENCES schools(id),
    class_id INTEGER NOT NULL REFERENCES classes(id),
    subject_id INTEGER NOT NULL REFERENCES subjects(id),
    teacher_id INTEGER NOT NULL REFERENCES users(id),
    lesson_id INTEGER REFERENCES lessons(id),
    kind TEXT NOT NULL CHECK (kind IN ('homework', 'test', 'control', 'other')),
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    due_date TEXT NOT NULL,
    weight INTEGER NOT NULL CHECK (weight BETWEEN 1 AND 10),
    created_at INTEGER NOT NULL
);
CREATE INDEX checkpoints_class_subject ON checkpoints(class_id, subject_id, due_date);
-- Marks on the five-point scale; weight by work type. A mark belongs to a
-- lesson or a checkpoint; term_id is derived from the date at write time.
CREATE TABLE marks (
    id INTEGER PRIMARY KEY,
    school_id INTEGER NOT NULL REFERENCES schools(id),
    student_id INTEGER NOT NULL REFERENCES users(id),
    class_id INTEGER NOT NULL REFERENCES classes(id),
    subject_id INTEGER NOT NULL REFERENCES subjects(id),
    term_id INTEGER NOT NULL REFERENCES terms(id),
    lesson_id INTEGER REFERENCES lessons(id),
    checkpoint_id INTEGER REFERENCES checkpoints(id),
    date TEXT NOT NULL,
    value INTEGER NOT NULL CHECK (value BETWEEN 1 AND 5),
    weight INTEGER NOT NULL CHECK (weight BETWEEN 1 AND 10),
    kind TEXT NOT NULL DEFAULT 'lesson',
    comment TEXT NOT NULL DEFAULT '',
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX marks_lesson_student_kind ON marks(lesson_id, student_id, kind) WHERE lesson_id IS NOT NULL;
CREATE UNIQUE INDEX marks_checkpoint_student ON marks(checkpoint_id, student_id) WHERE checkpoint_id IS NOT NULL;
CREATE INDEX marks_student_term ON marks(student_id, term_id, subject_id);
CREATE INDEX marks_student_date ON marks(student_id, date);
CREATE INDEX marks_class_subject_term ON marks(class_id, subject_id, term_id);
CREATE TABLE attendance (
    lesson_id INTEGER NOT NULL REFERENCES lessons(id),
    student_id INTEGER NOT NULL REFERENCES users(id),
    status TEXT NOT NULL CHECK (status IN ('present', 'absent', 'late', 'excused')),
    updated_by INTEGER NOT NULL REFERENCES users(id),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (lesson_id, student_id)
);
CREATE INDEX attendance_student ON attendance(student_id, lesson_id);
-- Term (period 1..4) and year (period 0) marks set by the teacher.
CREATE TABLE term_marks (
    student_id INTEGER NOT NULL REFERENCES users(id),
    subject_id INTEGER NOT NULL REFERENCES subjects(id),
    school_id INTEGER NOT NULL REFERENCES schools(id),
    class_id INTEGER NOT NULL REFERENCES classes(id),
    year_start INTEGER NOT NULL,
    period INTEGER NOT NULL CHECK (period BETWEEN 0 AND 4),
    value INTEGER NOT NULL CHECK (value BETWEEN 1 AND 5),
    set_by INTEGER NOT NULL REFERENCES users(id),
    set_at INTEGER NOT NULL,
    PRIMARY KEY (student_id, subject_id, year_start, period)
);
-- A student's answer to a checkpoint. Comments are denormalised into one
-- JSON array (the seed's design: the work and its thread in one read).
CREATE TABLE works (
    id INTEGER PRIMARY KEY,
    school_id INTEGER NOT NULL REFERENCES schools(id),
    checkpoint_id INTEGER NOT NULL REFERENCES checkpoints(id),
    student_id INTEGER NOT NULL REFERENCES users(id),
    status TEXT NOT NULL DEFAULT 'submitted' CHECK (status IN ('submitted', 'returned', 'graded')),
    versions TEXT NOT NULL DEFAULT '[]',
    comments TEXT NOT NULL DEFAULT '[]',
    mark_id INTEGER REFERENCES marks(id),
    submitted_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (checkpoint_id, student_id)
);
CREATE INDEX works_student ON works(student_id);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    school_id INTEGER NOT NULL,
    entity TEXT NOT NULL,            -- 'mark' | 'attendance' | 'term_mark' | 'term'
    entity_key TEXT NOT NULL,        -- e.g. 'lesson:12:student:7'
    actor_id INTEGER NOT NULL,
    at INTEGER NOT NULL,
    old_value TEXT,                  -- JSON or NULL
    new_value TEXT                   -- JSON or NULL
);
CREATE INDEX audit_log_entity ON audit_log(entity, entity_key, at);
CREATE TABLE refresh_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    family_id TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
CREATE TABLE idempotency_keys (
    user_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
);
