/*
 * seed.c - the demo school and region-scale benchmark data.
 *
 * Both entry points build one school at a time in memory (classes, teachers,
 * a conflict-free weekly timetable, families) and then write it with
 * multi-row INSERTs of up to 256 rows (see "batched inserts") in large write
 * transactions (chunks, see maybe_commit), so the work is bounded by the
 * store's insert rate, not by round trips or fsyncs. Rows of every table go
 * in in the same order as one INSERT per row would, so ids are the same.
 * Everything is drawn from one splitmix64 stream seeded with a fixed value:
 * the same seed and the same "today" give the same data.
 *
 * Invariants the tests check: no teacher teaches two lessons at the same
 * (date, lesson_no); every student is in exactly one current class; every
 * mark's student belongs to the lesson's class. Attendance follows the
 * journal model: a row exists only where the teacher marked something
 * (absent / late / excused); no row means the student was present.
 */
#include "domain/seed.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/password.h"
#include "core/error.h"

/* ------------------------------------------------------------------ PRNG */

typedef struct { uint64_t s; } rng_t;

static uint64_t rng_next(rng_t *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int rng_int(rng_t *r, int n)
{
    return n <= 1 ? 0 : (int)(rng_next(r) % (uint64_t)n);
}

static double rng_unit(rng_t *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Roughly normal (Irwin-Hall of 4), mean 0, sd 1: cheap and bounded. */
static double rng_normal(rng_t *r)
{
    double s = rng_unit(r) + rng_unit(r) + rng_unit(r) + rng_unit(r);
    return (s - 2.0) * 1.7320508;
}

/* ----------------------------------------------------------------- dates */

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void day_iso(int z, char out[11])
{
    z += 719468;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    int doe = z - era * 146097;
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int y = yoe + era * 400;
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int mp = (5 * doy + 2) / 153;
    int d = doy - (153 * mp + 2) / 5 + 1;
    int m = mp + (mp < 10 ? 3 : -9);
    y += m <= 2;
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u, (unsigned)d % 100u);
}

/* 0 = Monday ... 6 = Sunday (1970-01-01 was a Thursday). */
static int weekday0(int day)
{
    return ((day % 7) + 7 + 3) % 7;
}

static int today_days(void)
{
    return (int)(time(NULL) / 86400);
}

static int year_start_of(int day)
{
    char iso[11];
    day_iso(day, iso);
    int y = atoi(iso), m = atoi(iso + 5);
    return m >= 9 ? y : y - 1;
}

static int64_t day_ms(int day, int minutes)
{
    return ((int64_t)day * 1440 + minutes) * 60000;
}

/* ----------------------------------------------------------------- names */

static const char *const male_names[][3] = {
    {"Александр", "Александрович", "Александровна"}, {"Алексей", "Алексеевич", "Алексеевна"},
    {"Андрей", "Андреевич", "Андреевна"},             {"Антон", "Антонович", "Антоновна"},
    {"Артём", "Артёмович", "Артёмовна"},              {"Борис", "Борисович", "Борисовна"},
    {"Вадим", "Вадимович", "Вадимовна"},              {"Валерий", "Валерьевич", "Валерьевна"},
    {"Василий", "Васильевич", "Васильевна"},          {"Виктор", "Викторович", "Викторовна"},
    {"Владимир", "Владимирович", "Владимировна"},     {"Дмитрий", "Дмитриевич", "Дмитриевна"},
    {"Евгений", "Евгеньевич", "Евгеньевна"},          {"Егор", "Егорович", "Егоровна"},
    {"Иван", "Иванович", "Ивановна"},                 {"Игорь", "Игоревич", "Игоревна"},
    {"Илья", "Ильич", "Ильинична"},                   {"Кирилл", "Кириллович", "Кирилловна"},
    {"Константин", "Константинович", "Константиновна"}, {"Максим", "Максимович", "Максимовна"},
    {"Михаил", "Михайлович", "Михайловна"},           {"Никита", "Никитич", "Никитична"},
    {"Николай", "Николаевич", "Николаевна"},          {"Олег", "Олегович", "Олеговна"},
    {"Павел", "Павлович", "Павловна"},                {"Роман", "Романович", "Романовна"},
    {"Сергей", "Сергеевич", "Сергеевна"},             {"Станислав", "Станиславович", "Станиславовна"},
    {"Тимофей", "Тимофеевич", "Тимофеевна"},          {"Юрий", "Юрьевич", "Юрьевна"},
    {"Ярослав", "Ярославович", "Ярославовна"},        {"Матвей", "Матвеевич", "Матвеевна"},
    {"Фёдор", "Фёдорович", "Фёдоровна"},              {"Григорий", "Григорьевич", "Григорьевна"},
    {"Денис", "Денисович", "Денисовна"},              {"Геннадий", "Геннадьевич", "Геннадьевна"},
};
#define N_MALE ((int)(sizeof male_names / sizeof male_names[0]))

static const char *const female_names[] = {
    "Анна", "Мария", "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Светлана",
    "Екатерина", "Анастасия", "Дарья", "Полина", "Виктория", "Ксения", "Алиса", "Софья",
    "Варвара", "Вера", "Юлия", "Марина", "Галина", "Людмила", "Алёна", "Ева",
    "Милана", "Арина", "Валерия", "Елизавета", "Кира", "Ульяна", "Надежда", "Оксана",
};
#define N_FEMALE ((int)(sizeof female_names / sizeof female_names[0]))

/* Male forms; female forms follow the rules in surname_form(). */
static const char *const surnames[] = {
    "Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов",
    "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров",
    "Павлов", "Козлов", "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин",
    "Захаров", "Зайцев", "Соловьёв", "Борисов", "Яковлев", "Григорьев", "Романов", "Воробьёв",
    "Сергеев", "Кузьмин", "Фролов", "Александров", "Дмитриев", "Королёв", "Гусев", "Киселёв",
    "Ильин", "Максимов", "Поляков", "Сорокин", "Виноградов", "Ковалёв", "Белов", "Медведев",
    "Антонов", "Тарасов", "Жуков", "Баранов", "Филиппов", "Комаров", "Давыдов", "Беляев",
    "Герасимов", "Богданов", "Осипов", "Сидоров", "Матвеев", "Титов", "Марков", "Миронов",
    "Крылов", "Куликов", "Карпов", "Власов", "Мельников", "Денисов", "Гаврилов", "Тихонов",
    "Казаков", "Афанасьев", "Данилов", "Савельев", "Тимофеев", "Фомин", "Чернов", "Абрамов",
    "Мартынов", "Ефимов", "Федотов", "Щербаков", "Назаров", "Калинин", "Исаев", "Быков",
    "Маслов", "Родионов", "Коновалов", "Лазарев", "Воронин", "Климов", "Филатов", "Пономарёв",
    "Голубев", "Кудрявцев", "Прохоров", "Наумов", "Потапов", "Журавлёв", "Трофимов", "Леонов",
    "Соболев", "Ермаков", "Колесников", "Гончаров", "Емельянов", "Никифоров", "Котов", "Гришин",
    "Архипов", "Громов", "Кириллов", "Малышев", "Панов", "Моисеев", "Румянцев", "Акимов",
    "Галкин", "Скворцов", "Юдин", "Белоусов", "Нестеров", "Симонов", "Цветков", "Воронцов",
    "Островский", "Вишневский", "Ковальский", "Шевченко", "Бондаренко", "Ткаченко", "Черных", "Ким",
    "Толстой", "Крутой",
};
#define N_SURNAMES ((int)(sizeof surnames / sizeof surnames[0]))

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* Иванов/Иванова, Ильин/Ильина, Островский/Островская, Толстой/Толстая;
 * Шевченко, Черных, Ким do not change. */
static void surname_form(int idx, int female, char *out, size_t outlen)
{
    const char *m = surnames[idx];
    size_t n = strlen(m);
    if (!female) {
        snprintf(out, outlen, "%s", m);
    } else if (ends_with(m, "ий") || ends_with(m, "ой")) {
        snprintf(out, outlen, "%.*sая", (int)(n - strlen("ий")), m);
    } else if (ends_with(m, "ов") || ends_with(m, "ев") || ends_with(m, "ёв") || ends_with(m, "ин")) {
        snprintf(out, outlen, "%sа", m);
    } else {
        snprintf(out, outlen, "%s", m);
    }
}

/* ------------------------------------------------------------ curriculum */

enum { G_PRIMARY, G_RUS, G_MATH, G_ENG, G_HIST, G_GEO, G_BIO, G_PHYS, G_CHEM, G_INF, G_MUS, G_ART, G_PE, G_COUNT };
enum { HW_NONE, HW_EX, HW_NUM, HW_PAR, HW_READ };

typedef struct {
    const char *name;
    int group;        /* teacher speciality from grade 5 on */
    int primary_core; /* taught by the class's own teacher in grades 1-4 */
    int hw;
    unsigned char hours[11]; /* lessons a week in grades 1..11 */
    const char *topics[6];
} subj_def_t;

static const subj_def_t subj_defs[] = {
    {"Русский язык", G_RUS, 1, HW_EX, {5, 5, 5, 5, 5, 5, 4, 3, 3, 2, 2},
     {"Правописание безударных гласных", "Части речи", "Имя существительное", "Глагол", "Сложное предложение", "Знаки препинания"}},
    {"Литературное чтение", G_PRIMARY, 1, HW_READ, {4, 4, 4, 3, 0, 0, 0, 0, 0, 0, 0},
     {"Русские народные сказки", "Стихи о природе", "Басни И. А. Крылова", "Рассказы о детях", "Произведения А. С. Пушкина", "Внеклассное чтение"}},
    {"Литература", G_RUS, 0, HW_READ, {0, 0, 0, 0, 3, 3, 2, 2, 3, 3, 3},
     {"А. С. Пушкин. Лирика", "Н. В. Гоголь", "И. С. Тургенев", "Л. Н. Толстой", "Поэзия Серебряного века", "Сочинение-рассуждение"}},
    {"Математика", G_MATH, 1, HW_NUM, {4, 4, 4, 4, 5, 5, 0, 0, 0, 0, 0},
     {"Сложение и вычитание", "Таблица умножения", "Дроби", "Уравнения", "Периметр и площадь", "Решение задач"}},
    {"Алгебра", G_MATH, 0, HW_NUM, {0, 0, 0, 0, 0, 0, 3, 3, 3, 3, 3},
     {"Линейные уравнения", "Системы уравнений", "Квадратные уравнения", "Функции и графики", "Неравенства", "Прогрессии"}},
    {"Геометрия", G_MATH, 0, HW_NUM, {0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2},
     {"Треугольники", "Признаки равенства треугольников", "Параллельные прямые", "Четырёхугольники", "Подобие", "Окружность"}},
    {"Вероятность и статистика", G_MATH, 0, HW_NUM, {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1},
     {"Таблицы и диаграммы", "Среднее и медиана", "Случайные события", "Комбинаторика"}},
    {"Окружающий мир", G_PRIMARY, 1, HW_READ, {2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0},
     {"Времена года", "Растения и животные", "Наш край", "Человек и здоровье", "Карта и глобус"}},
    {"Английский язык", G_ENG, 0, HW_EX, {0, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3},
     {"Present Simple", "My Family", "Past Simple", "Travelling", "Future forms", "Reading practice"}},
    {"История", G_HIST, 0, HW_PAR, {0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2},
     {"Древний Египет", "Древняя Русь", "Смутное время", "Петровские реформы", "XIX век", "Великая Отечественная война"}},
    {"Обществознание", G_HIST, 0, HW_PAR, {0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2},
     {"Человек и общество", "Право", "Экономика", "Политика", "Социальная сфера"}},
    {"География", G_GEO, 0, HW_PAR, {0, 0, 0, 0, 1, 1, 2, 2, 2, 1, 1},
     {"План и карта", "Литосфера", "Атмосфера", "Материки и океаны", "География России"}},
    {"Биология", G_BIO, 0, HW_PAR, {0, 0, 0, 0, 1, 1, 1, 2, 2, 1, 1},
     {"Клетка", "Растения", "Животные", "Человек", "Экосистемы", "Генетика"}},
    {"Физика", G_PHYS, 0, HW_NUM, {0, 0, 0, 0, 0, 0, 2, 2, 3, 2, 2},
     {"Механическое движение", "Сила и масса", "Давление", "Тепловые явления", "Электричество", "Оптика"}},
    {"Химия", G_CHEM, 0, HW_PAR, {0, 0, 0, 0, 0, 0, 0, 2, 2, 1, 1},
     {"Атомы и молекулы", "Периодическая система", "Химические реакции", "Растворы", "Органические вещества"}},
    {"Информатика", G_INF, 0, HW_PAR, {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1},
     {"Информация и её кодирование", "Алгоритмы", "Программирование", "Электронные таблицы", "Сети"}},
    {"Музыка", G_MUS, 0, HW_NONE, {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0},
     {"Музыкальные жанры", "Народная музыка", "Русские композиторы", "Музыкальный театр"}},
    {"ИЗО", G_ART, 1, HW_NONE, {1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},
     {"Рисунок с натуры", "Цвет и композиция", "Декоративное искусство", "Пейзаж"}},
    {"Технология", G_ART, 1, HW_NONE, {1, 1, 1, 1, 2, 2, 2, 1, 0, 0, 0},
     {"Работа с бумагой", "Материалы и инструменты", "Проектная работа", "Моделирование"}},
    {"ОРКСЭ", G_PRIMARY, 1, HW_NONE, {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0},
     {"Культура и традиции", "Нравственные ценности", "Праздники народов России"}},
    {"ОБЖ", G_PE, 0, HW_PAR, {0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1},
     {"Безопасность дома", "Первая помощь", "Чрезвычайные ситуации", "Безопасность на дорогах"}},
    {"Физкультура", G_PE, 0, HW_NONE, {3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2},
     {"Лёгкая атлетика", "Гимнастика", "Баскетбол", "Волейбол", "Лыжная подготовка"}},
};
#define NSUBJ ((int)(sizeof subj_defs / sizeof subj_defs[0]))

static int subj_group(int s, int grade)
{
    return grade <= 4 && subj_defs[s].primary_core ? G_PRIMARY : subj_defs[s].group;
}

static int subj_topics(int s)
{
    int n = 0;
    while (n < 6 && subj_defs[s].topics[n])
        n++;
    return n;
}

static const char *const letters[] = {"А", "Б", "В", "Г", "Д", "Е", "Ж", "З", "И", "К", "Л", "М", "Н", "О", "П", "Р"};
#define N_LETTERS ((int)(sizeof letters / sizeof letters[0]))

#define MAX_SLOT 8   /* lesson numbers 1..MAX_SLOT */
#define NDAYS 5      /* Monday..Friday */

/* ------------------------------------------------------ the school model */

typedef struct {
    int64_t id;
    int group;
    int load;
    int female, surname, name, patr;
    int class_of; /* class index where class teacher, -1 */
    unsigned char busy[NDAYS][MAX_SLOT + 1];
} teacher_t;

typedef struct {
    int64_t id;
    int grade, letter;
    int nstudents, first; /* students[first .. first+nstudents) */
    int teacher_of[NSUBJ];
    int class_teacher;
    signed char slot[NDAYS][MAX_SLOT + 1]; /* subject or -1 */
} class_t;

typedef struct {
    int64_t id;
    int cls, family, female, name;
    double ability;
} student_t;

typedef struct {
    int surname, father, father_patr, mother_name, mother_patr;
    int has_father, has_mother, nchildren, first_child;
    int parents_done; /* parent users queued (their ids come with the flush) */
    int64_t parent_id[2];
} family_t;

typedef struct {
    long long users, classes, lessons, slots, marks, attendance, checkpoints, works;
    long long at_commit; /* rows written when the last chunk committed */
    double chunk_t0;     /* when the current write transaction began (mono_now) */
    int dropped_hours;
} counts_t;

/* What differs between the demo and one school of a generated region. */
typedef struct {
    int64_t region_id;
    const char *name;
    int year_start, today;
    int lessons_to;         /* last day with lessons (inclusive) */
    int nclasses;
    int grade[176], letter[176], size[176];
    int mark_every;
    double absent_rate, sibling_p, two_parents_p;
    int load;               /* target teaching hours a week */
    int demo;
    unsigned seed;
    const char *hash;       /* the one password hash of every seeded user */
    FILE *csv;
    int64_t *sysadmin_id;   /* gen: create one on first school when 0 */
    counts_t *n;
} school_spec_t;

/* Tables written through multi-row INSERT buffers (see "batched inserts"),
 * in the order flush_all() writes them: a row is queued only once the ids it
 * refers to are known, or it refers to them through a 'r' value of a table
 * that is flushed first. */
enum { B_USER, B_ROLE, B_MEMBER, B_LINK, B_ASSIGN, B_SLOT, B_LESSON, B_CHECKPOINT, B_MARK, B_ATTEND, B_WORK, B_COUNT };

struct batch;

/* What a queued user still needs once its id is known. */
typedef struct {
    const char *role;
    int64_t role_school, class_id;
    int64_t *id;
} user_aux_t;

typedef struct {
    school_spec_t *sp;
    dn_db_t *db;
    struct batch *b[B_COUNT];
    user_aux_t *uaux; /* parallel to the rows of b[B_USER] */
    rng_t rng;
    int64_t school_id;
    int64_t subj_id[NSUBJ];
    int64_t term_id[4];
    int term_from[4], term_to[4];
    int nholidays;
    int hol_from[8], hol_to[8];
    teacher_t *t;
    int nt, capt;
    class_t *c;
    student_t *s;
    int ns;
    family_t *f;
    int nf;
    int64_t admin_id;
    /* demo: the fixed users */
    int demo_class, demo_student, demo_sibling;
} school_t;

/* --------------------------------------------------------------- queries */

static dn_query_t q_has_data = {"SELECT id FROM schools LIMIT 1"};
static dn_query_t q_region_ins = {"INSERT INTO regions (name) VALUES (?) ON CONFLICT (name) DO NOTHING"};
static dn_query_t q_region_get = {"SELECT id FROM regions WHERE name = ?"};
static dn_query_t q_school = {"INSERT INTO schools (region_id, name, term_kind, created_at) VALUES (?, ?, 'quarter', ?) RETURNING id"};
static dn_query_t q_term = {"INSERT INTO terms (school_id, year_start, number, starts_on, ends_on) VALUES (?, ?, ?, ?, ?) RETURNING id"};
static dn_query_t q_holiday = {"INSERT INTO holidays (school_id, name, starts_on, ends_on) VALUES (?, ?, ?, ?)"};
static dn_query_t q_subject = {"INSERT INTO subjects (school_id, name) VALUES (?, ?) RETURNING id"};
/* The sysadmin login may exist already (bootstrap admin): then keep it. */
static dn_query_t q_user_opt = {
    "INSERT INTO users (login, password_hash, last_name, first_name, middle_name, must_change_password, created_at) "
    "VALUES (?, ?, ?, ?, ?, 0, ?) ON CONFLICT (login) DO NOTHING RETURNING id"};
static dn_query_t q_class = {"INSERT INTO classes (school_id, start_year, letter, class_teacher_id) VALUES (?, ?, ?, ?) RETURNING id"};

/*
 * Bind by a format string and run: 'i' int64_t, 'd' int, 'z' int64_t with
 * 0 meaning NULL, 't' text. The first column of a returned row goes to
 * id_out (RETURNING id). Arguments must have exactly these C types.
 */
static int run(dn_db_t *db, dn_query_t *q, int64_t *id_out, const char *fmt, ...)
{
    dn_stmt_t *st = dn_db_prepare(db, q);
    if (!st) {
        fprintf(stderr, "seed: prepare: %s\n", dn_db_errmsg(db));
        return dn_db_errcode(db) ? dn_db_errcode(db) : DN_EDB;
    }
    va_list ap;
    va_start(ap, fmt);
    int rc = 0, idx = 1;
    for (const char *f = fmt; *f && rc == 0; f++, idx++) {
        switch (*f) {
        case 'i': rc = dn_stmt_bind_int64(st, idx, va_arg(ap, int64_t)); break;
        case 'd': rc = dn_stmt_bind_int64(st, idx, va_arg(ap, int)); break;
        case 'z': {
            int64_t v = va_arg(ap, int64_t);
            rc = v ? dn_stmt_bind_int64(st, idx, v) : dn_stmt_bind_null(st, idx);
            break;
        }
        case 't': rc = dn_stmt_bind_text(st, idx, va_arg(ap, const char *), -1); break;
        default: rc = DN_EINVAL;
        }
    }
    va_end(ap);
    if (rc < 0)
        return rc;
    rc = dn_stmt_step(st);
    if (rc == DN_DB_ROW) {
        if (id_out)
            *id_out = dn_stmt_int64(st, 0);
        rc = dn_stmt_step(st);
    }
    if (rc < 0)
        fprintf(stderr, "seed: %s\n", dn_db_errmsg(db));
    return rc < 0 ? rc : 0;
}

#define TRY(expr)              \
    do {                       \
        rc = (expr);           \
        if (rc < 0)            \
            goto fail;         \
    } while (0)

/* ------------------------------------------------------ batched inserts */

/*
 * Bulk rows go through multi-row INSERT ... VALUES (?, ..), (?, ..) buffers,
 * one per table: PostgreSQL pays a network round trip per statement, so one
 * statement per row capped it at a few thousand rows a second. A buffer
 * holds up to BATCH_MAX rows; flushing n rows runs statements of 2^k rows
 * (largest first), so each table has at most BATCH_LOG + 1 prepared shapes
 * (kept in the connection's statement cache) and the full shape takes
 * 256 * 15 parameters, far under PostgreSQL's 65535 and SQLite's 32766.
 * Rows are inserted in the order they were queued, table by table, so ids
 * are the same as with one INSERT per row.
 *
 * Ids: a table whose rows' ids are needed has "RETURNING id, key columns";
 * neither backend promises RETURNING order, so each returned row is matched
 * to its queued row by the key columns (compared as text). Rows without an
 * id destination may share keys: they are interchangeable.
 */
#define BATCH_LOG 8
#define BATCH_MAX (1 << BATCH_LOG)
#define BATCH_COLS 15
#define BATCH_KEYS 2

typedef struct {
    const char *head;                /* "INSERT INTO t (a, b) VALUES " */
    int ncols;
    const char *ret;                 /* NULL or " RETURNING id, <key columns>" */
    int nkeys, key[BATCH_KEYS];      /* the key columns, as indexes of the row */
    dn_query_t q[BATCH_LOG + 1];     /* q[k] inserts 1 << k rows (with ret) */
    dn_query_t qn[BATCH_LOG + 1];    /* the same without RETURNING */
} batch_def_t;

static batch_def_t batch_defs[B_COUNT] = {
    [B_USER] = {"INSERT INTO users (login, password_hash, last_name, first_name, middle_name, must_change_password, "
                "created_at) VALUES ", 7, " RETURNING id, login", 1, {0, 0}, {{0}}, {{0}}},
    [B_ROLE] = {"INSERT INTO user_roles (user_id, school_id, role) VALUES ", 3, NULL, 0, {0, 0}, {{0}}, {{0}}},
    [B_MEMBER] = {"INSERT INTO class_students (class_id, student_id, from_date) VALUES ", 3, NULL, 0, {0, 0}, {{0}}, {{0}}},
    [B_LINK] = {"INSERT INTO parent_links (parent_id, student_id) VALUES ", 2, NULL, 0, {0, 0}, {{0}}, {{0}}},
    [B_ASSIGN] = {"INSERT INTO assignments (school_id, teacher_id, class_id, subject_id) VALUES ", 4, NULL, 0, {0, 0},
                  {{0}}, {{0}}},
    [B_SLOT] = {"INSERT INTO timetable_slots (school_id, class_id, weekday, lesson_no, subject_id, teacher_id, room, "
                "valid_from, valid_to) VALUES ", 9, NULL, 0, {0, 0}, {{0}}, {{0}}},
    [B_LESSON] = {"INSERT INTO lessons (school_id, class_id, subject_id, teacher_id, date, lesson_no, room, topic, "
                  "homework, updated_at) VALUES ", 10, " RETURNING id, date, lesson_no", 2, {4, 5}, {{0}}, {{0}}},
    [B_CHECKPOINT] = {"INSERT INTO checkpoints (school_id, class_id, subject_id, teacher_id, lesson_id, kind, title, "
                      "description, due_date, weight, created_at) VALUES ", 11, " RETURNING id, lesson_id, kind", 2,
                      {4, 5}, {{0}}, {{0}}},
    [B_MARK] = {"INSERT INTO marks (school_id, student_id, class_id, subject_id, term_id, lesson_id, checkpoint_id, "
                "date, value, weight, kind, comment, created_by, created_at, updated_at) VALUES ", 15,
                " RETURNING id, student_id, checkpoint_id", 2, {1, 6}, {{0}}, {{0}}},
    [B_ATTEND] = {"INSERT INTO attendance (lesson_id, student_id, status, updated_by, updated_at) VALUES ", 5, NULL, 0,
                  {0, 0}, {{0}}, {{0}}},
    [B_WORK] = {"INSERT INTO works (school_id, checkpoint_id, student_id, status, versions, comments, mark_id, "
                "submitted_at, updated_at) VALUES ", 9, NULL, 0, {0, 0}, {{0}}, {{0}}},
};
static pthread_once_t batch_once = PTHREAD_ONCE_INIT;
static int batch_sql_ok;

/* Build every statement text once per process; the descriptors must outlive
 * all connections (their cache slots are process-wide), so they are never
 * freed. */
static void batch_build_sql(void)
{
    for (int t = 0; t < B_COUNT; t++) {
        batch_def_t *d = &batch_defs[t];
        size_t rowlen = 2 + (size_t)d->ncols * 3; /* "(?, ?)" plus ", " */
        for (int k = 0; k <= BATCH_LOG; k++) {
            size_t rows = (size_t)1 << k, cap = strlen(d->head) + rows * rowlen + (d->ret ? strlen(d->ret) : 0) + 1;
            char *sql = malloc(cap);
            if (!sql)
                return;
            size_t len = (size_t)snprintf(sql, cap, "%s", d->head);
            for (size_t r = 0; r < rows; r++) {
                sql[len++] = r ? ',' : '(';
                if (r) {
                    sql[len++] = ' ';
                    sql[len++] = '(';
                }
                for (int c = 0; c < d->ncols; c++) {
                    if (c) {
                        sql[len++] = ',';
                        sql[len++] = ' ';
                    }
                    sql[len++] = '?';
                }
                sql[len++] = ')';
            }
            sql[len] = '\0';
            d->qn[k].sql = sql;
            if (d->ret) {
                char *rsql = malloc(len + strlen(d->ret) + 1);
                if (!rsql)
                    return;
                memcpy(rsql, sql, len);
                memcpy(rsql + len, d->ret, strlen(d->ret) + 1);
                d->q[k].sql = rsql;
            }
        }
    }
    batch_sql_ok = 1;
}

/* One queued value: 'i' int64, 'n' NULL, 't' text at txt + i, 'r' the int64
 * behind ref read at flush time (0 = NULL). */
typedef struct {
    char type;
    int64_t i;
    const int64_t *ref;
} bval_t;

typedef struct batch {
    batch_def_t *def;
    int dep;                    /* table flushed first ('r' values point into its ids), -1 */
    int n;                      /* rows queued */
    bval_t v[BATCH_MAX * BATCH_COLS];
    int64_t *out[BATCH_MAX];    /* where a row's RETURNING id goes, NULL = not needed */
    char *txt;
    size_t tlen, tcap;
} batch_t;

static int csv_row(school_t *sc, const char *login, const char *role, int64_t uid, int64_t school_id, int64_t class_id);
static int batch_add(school_t *sc, int t, int64_t *out, const char *fmt, ...);

static int batches_open(school_t *sc)
{
    pthread_once(&batch_once, batch_build_sql);
    if (!batch_sql_ok)
        return DN_ENOMEM;
    sc->uaux = calloc(BATCH_MAX, sizeof *sc->uaux);
    if (!sc->uaux)
        return DN_ENOMEM;
    for (int t = 0; t < B_COUNT; t++) {
        batch_t *b = calloc(1, sizeof *b);
        if (!b)
            return DN_ENOMEM;
        b->def = &batch_defs[t];
        b->dep = t == B_WORK ? B_MARK : -1;
        sc->b[t] = b;
    }
    return 0;
}

static void batches_close(school_t *sc)
{
    for (int t = 0; t < B_COUNT; t++) {
        if (sc->b[t])
            free(sc->b[t]->txt);
        free(sc->b[t]);
        sc->b[t] = NULL;
    }
    free(sc->uaux);
    sc->uaux = NULL;
}

/* Text form of a queued value, for matching RETURNING keys. */
static const char *bval_text(const batch_t *b, const bval_t *v, char buf[24])
{
    switch (v->type) {
    case 'i': snprintf(buf, 24, "%lld", (long long)v->i); return buf;
    case 't': return b->txt + v->i;
    case 'r':
        if (v->ref && *v->ref) {
            snprintf(buf, 24, "%lld", (long long)*v->ref);
            return buf;
        }
        return "";
    default: return "";
    }
}

static int row_matches(dn_stmt_t *st, const batch_t *b, int row)
{
    char buf[24];
    for (int k = 0; k < b->def->nkeys; k++) {
        const char *got = dn_stmt_text(st, 1 + k, NULL);
        const char *want = bval_text(b, &b->v[row * b->def->ncols + b->def->key[k]], buf);
        if (strcmp(got ? got : "", want) != 0)
            return 0;
    }
    return 1;
}

/* Insert rows [first, first + 2^k) with one statement. */
static int flush_chunk(school_t *sc, batch_t *b, int first, int k)
{
    int rows = 1 << k, ncols = b->def->ncols, want_ids = 0;
    for (int r = first; r < first + rows; r++)
        want_ids |= b->out[r] != NULL;
    dn_stmt_t *st = dn_db_prepare(sc->db, want_ids ? &b->def->q[k] : &b->def->qn[k]);
    if (!st) {
        fprintf(stderr, "seed: prepare: %s\n", dn_db_errmsg(sc->db));
        return dn_db_errcode(sc->db) ? dn_db_errcode(sc->db) : DN_EDB;
    }
    int rc = 0, idx = 1;
    for (int r = first; r < first + rows && rc == 0; r++)
        for (int c = 0; c < ncols && rc == 0; c++, idx++) {
            const bval_t *v = &b->v[r * ncols + c];
            int64_t x = v->type == 'r' ? (v->ref ? *v->ref : 0) : v->i;
            if (v->type == 't')
                rc = dn_stmt_bind_text(st, idx, b->txt + v->i, -1);
            else if (v->type == 'n' || (v->type == 'r' && !x))
                rc = dn_stmt_bind_null(st, idx);
            else
                rc = dn_stmt_bind_int64(st, idx, x);
        }
    if (rc < 0)
        return rc;
    unsigned char taken[BATCH_MAX] = {0};
    int got = 0;
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        /* Rows come back in VALUES order in practice; search otherwise. */
        int row = first + got;
        if (got >= rows || taken[row - first] || !row_matches(st, b, row)) {
            row = -1;
            for (int r = first; r < first + rows && row < 0; r++)
                if (!taken[r - first] && row_matches(st, b, r))
                    row = r;
        }
        if (row < 0) {
            fprintf(stderr, "seed: RETURNING row matches no queued row\n");
            return DN_EDB;
        }
        taken[row - first] = 1;
        if (b->out[row])
            *b->out[row] = dn_stmt_int64(st, 0);
        got++;
    }
    if (rc < 0) {
        fprintf(stderr, "seed: %s\n", dn_db_errmsg(sc->db));
        return rc;
    }
    if (want_ids && got != rows) {
        fprintf(stderr, "seed: %d of %d rows returned an id\n", got, rows);
        return DN_EDB;
    }
    return 0;
}

static int batch_flush(school_t *sc, int t)
{
    batch_t *b = sc->b[t];
    int rc = 0;
    if (!b->n)
        return 0;
    if (b->dep >= 0)
        TRY(batch_flush(sc, b->dep));
    for (int first = 0; first < b->n;) {
        int k = BATCH_LOG;
        while ((1 << k) > b->n - first)
            k--;
        TRY(flush_chunk(sc, b, first, k));
        first += 1 << k;
    }
    if (t == B_USER) {
        /* Ids known: the role rows and the logins file follow, in order. */
        for (int r = 0; r < b->n; r++) {
            user_aux_t *a = &sc->uaux[r];
            TRY(batch_add(sc, B_ROLE, NULL, "iit", *a->id, a->role_school, a->role));
            TRY(csv_row(sc, b->txt + b->v[r * b->def->ncols].i, a->role, *a->id, a->role_school, a->class_id));
        }
    }
    b->n = 0;
    b->tlen = 0;
fail:
    return rc;
}

static int flush_all(school_t *sc)
{
    int rc = 0;
    for (int t = 0; t < B_COUNT; t++)
        TRY(batch_flush(sc, t));
fail:
    return rc;
}

/*
 * Queue one row of table t; formats as run() plus 'r' (const int64_t *,
 * read at flush time, NULL or 0 meaning SQL NULL). out receives the row's id
 * when the buffer is flushed (the table needs a RETURNING clause then).
 */
static int batch_add(school_t *sc, int t, int64_t *out, const char *fmt, ...)
{
    batch_t *b = sc->b[t];
    int ncols = b->def->ncols, row = b->n;
    if ((int)strlen(fmt) != ncols || (out && !b->def->ret))
        return DN_EINVAL;
    va_list ap;
    va_start(ap, fmt);
    for (int c = 0; c < ncols; c++) {
        bval_t *v = &b->v[row * ncols + c];
        v->ref = NULL;
        switch (fmt[c]) {
        case 'i': v->type = 'i'; v->i = va_arg(ap, int64_t); break;
        case 'd': v->type = 'i'; v->i = va_arg(ap, int); break;
        case 'z': v->i = va_arg(ap, int64_t); v->type = v->i ? 'i' : 'n'; break;
        case 'r': v->type = 'r'; v->ref = va_arg(ap, const int64_t *); break;
        case 't': {
            const char *s = va_arg(ap, const char *);
            size_t len = strlen(s) + 1;
            if (b->tlen + len > b->tcap) {
                size_t cap = b->tcap ? b->tcap * 2 : 16384;
                while (cap < b->tlen + len)
                    cap *= 2;
                char *p = realloc(b->txt, cap);
                if (!p) {
                    va_end(ap);
                    return DN_ENOMEM;
                }
                b->txt = p;
                b->tcap = cap;
            }
            memcpy(b->txt + b->tlen, s, len);
            v->type = 't';
            v->i = (int64_t)b->tlen;
            b->tlen += len;
            break;
        }
        default: va_end(ap); return DN_EINVAL;
        }
    }
    va_end(ap);
    b->out[row] = out;
    b->n++;
    return b->n == BATCH_MAX ? batch_flush(sc, t) : 0;
}

/* -------------------------------------------------------- calendar setup */

static int term_of(const school_t *sc, int day)
{
    for (int i = 0; i < 4; i++)
        if (day >= sc->term_from[i] && day <= sc->term_to[i])
            return i;
    return -1;
}

static int is_school_day(const school_t *sc, int day)
{
    if (weekday0(day) >= NDAYS || term_of(sc, day) < 0)
        return 0;
    for (int i = 0; i < sc->nholidays; i++)
        if (day >= sc->hol_from[i] && day <= sc->hol_to[i])
            return 0;
    return 1;
}

static void calendar(school_t *sc, int y)
{
    sc->term_from[0] = days_from_civil(y, 9, 1);
    sc->term_to[0] = days_from_civil(y, 10, 26);
    sc->term_from[1] = days_from_civil(y, 11, 5);
    sc->term_to[1] = days_from_civil(y, 12, 28);
    sc->term_from[2] = days_from_civil(y + 1, 1, 9);
    sc->term_to[2] = days_from_civil(y + 1, 3, 22);
    sc->term_from[3] = days_from_civil(y + 1, 4, 1);
    sc->term_to[3] = days_from_civil(y + 1, 5, 25);
}

static const char *const holiday_names[] = {
    "Осенние каникулы", "Зимние каникулы", "Весенние каникулы", "День защитника Отечества",
    "Международный женский день", "Праздник Весны и Труда", "День Победы",
};

static int write_calendar(school_t *sc)
{
    int y = sc->sp->year_start, rc = 0;
    char a[11], b[11];
    calendar(sc, y);
    for (int i = 0; i < 4; i++) {
        day_iso(sc->term_from[i], a);
        day_iso(sc->term_to[i], b);
        TRY(run(sc->db, &q_term, &sc->term_id[i], "iddtt", sc->school_id, y, i + 1, a, b));
    }
    int hol[7][2] = {
        {days_from_civil(y, 10, 27), days_from_civil(y, 11, 4)},
        {days_from_civil(y, 12, 29), days_from_civil(y + 1, 1, 8)},
        {days_from_civil(y + 1, 3, 23), days_from_civil(y + 1, 3, 31)},
        {days_from_civil(y + 1, 2, 23), days_from_civil(y + 1, 2, 23)},
        {days_from_civil(y + 1, 3, 9), days_from_civil(y + 1, 3, 9)}, /* 8 March observed */
        {days_from_civil(y + 1, 5, 1), days_from_civil(y + 1, 5, 1)},
        {days_from_civil(y + 1, 5, 9), days_from_civil(y + 1, 5, 11)},
    };
    sc->nholidays = 7;
    for (int i = 0; i < 7; i++) {
        sc->hol_from[i] = hol[i][0];
        sc->hol_to[i] = hol[i][1];
        day_iso(hol[i][0], a);
        day_iso(hol[i][1], b);
        TRY(run(sc->db, &q_holiday, NULL, "itt" "t", sc->school_id, holiday_names[i], a, b));
    }
fail:
    return rc;
}

/* ------------------------------------------------- teachers and timetable */

static int new_teacher(school_t *sc, int group)
{
    if (sc->nt == sc->capt) {
        int cap = sc->capt ? sc->capt * 2 : 64;
        teacher_t *t = realloc(sc->t, (size_t)cap * sizeof *t);
        if (!t)
            return -1;
        sc->t = t;
        sc->capt = cap;
    }
    teacher_t *t = &sc->t[sc->nt];
    memset(t, 0, sizeof *t);
    t->group = group;
    t->class_of = -1;
    /* Most Russian schoolteachers are women; PE and technology less so. */
    t->female = rng_unit(&sc->rng) < (group == G_PE || group == G_PHYS ? 0.45 : 0.85);
    t->surname = rng_int(&sc->rng, N_SURNAMES);
    t->name = t->female ? rng_int(&sc->rng, N_FEMALE) : rng_int(&sc->rng, N_MALE);
    t->patr = rng_int(&sc->rng, N_MALE);
    return sc->nt++;
}

/* Give every (class, subject) a teacher: one teacher per primary class for
 * its core subjects, and per speciality enough teachers for ~load hours a
 * week each, classes going to the least loaded one. */
static int allocate_teachers(school_t *sc)
{
    int load = sc->sp->load;
    for (int k = 0; k < sc->sp->nclasses; k++) {
        class_t *c = &sc->c[k];
        for (int s = 0; s < NSUBJ; s++)
            c->teacher_of[s] = -1;
        c->class_teacher = -1;
        if (c->grade <= 4) {
            int t = new_teacher(sc, G_PRIMARY);
            if (t < 0)
                return DN_ENOMEM;
            for (int s = 0; s < NSUBJ; s++)
                if (subj_group(s, c->grade) == G_PRIMARY && subj_defs[s].hours[c->grade - 1])
                    c->teacher_of[s] = t;
            sc->t[t].load += 0;
            c->class_teacher = t;
            sc->t[t].class_of = k;
        }
    }
    for (int g = 1; g < G_COUNT; g++) {
        int total = 0;
        for (int k = 0; k < sc->sp->nclasses; k++)
            for (int s = 0; s < NSUBJ; s++)
                if (subj_group(s, sc->c[k].grade) == g)
                    total += subj_defs[s].hours[sc->c[k].grade - 1];
        if (!total)
            continue;
        int first = sc->nt, n = (total + load - 1) / load;
        for (int i = 0; i < n; i++)
            if (new_teacher(sc, g) < 0)
                return DN_ENOMEM;
        for (int k = 0; k < sc->sp->nclasses; k++) {
            class_t *c = &sc->c[k];
            int h = 0;
            for (int s = 0; s < NSUBJ; s++)
                if (subj_group(s, c->grade) == g)
                    h += subj_defs[s].hours[c->grade - 1];
            if (!h)
                continue;
            int best = first;
            for (int t = first; t < first + n; t++)
                if (sc->t[t].load < sc->t[best].load)
                    best = t;
            sc->t[best].load += h;
            for (int s = 0; s < NSUBJ; s++)
                if (subj_group(s, c->grade) == g && subj_defs[s].hours[c->grade - 1])
                    c->teacher_of[s] = best;
        }
    }
    /* Class teachers of grades 5-11: a teacher of the class who has no class
     * yet, trying subjects from a random start. */
    for (int k = 0; k < sc->sp->nclasses; k++) {
        class_t *c = &sc->c[k];
        if (c->class_teacher >= 0)
            continue;
        int start = rng_int(&sc->rng, NSUBJ);
        for (int i = 0; i < NSUBJ && c->class_teacher < 0; i++) {
            int t = c->teacher_of[(start + i) % NSUBJ];
            if (t >= 0 && sc->t[t].class_of < 0) {
                c->class_teacher = t;
                sc->t[t].class_of = k;
            }
        }
    }
    return 0;
}

/* Place a class's weekly hours into (day, lesson_no) cells where the class
 * and the teacher are both free; hours spread evenly over the days, at most
 * one lesson of a subject a day (two for 5-hour subjects) when possible. */
static void schedule_class(school_t *sc, class_t *c)
{
    int rem[NSUBJ], total = 0, g = c->grade - 1;
    memset(c->slot, -1, sizeof c->slot);
    for (int s = 0; s < NSUBJ; s++) {
        rem[s] = c->teacher_of[s] >= 0 ? subj_defs[s].hours[g] : 0;
        total += rem[s];
    }
    for (int d = 0; d < NDAYS; d++) {
        int want = total / NDAYS + (d < total % NDAYS), placed = 0, today[NSUBJ] = {0};
        for (int l = 1; l <= MAX_SLOT && placed < want; l++) {
            int best = -1, bestscore = -1;
            for (int pass = 0; pass < 2 && best < 0; pass++) {
                for (int s = 0; s < NSUBJ; s++) {
                    if (!rem[s] || sc->t[c->teacher_of[s]].busy[d][l])
                        continue;
                    int cap = pass ? 2 : (subj_defs[s].hours[g] >= 5 ? 2 : 1);
                    if (today[s] >= cap)
                        continue;
                    int score = rem[s] * 16 + rng_int(&sc->rng, 16);
                    if (score > bestscore) {
                        bestscore = score;
                        best = s;
                    }
                }
            }
            if (best < 0)
                continue;
            c->slot[d][l] = (signed char)best;
            sc->t[c->teacher_of[best]].busy[d][l] = 1;
            rem[best]--;
            today[best]++;
            placed++;
        }
    }
    /* Leftovers: the first free cell of the earliest possible day. */
    for (int s = 0; s < NSUBJ; s++) {
        while (rem[s]) {
            int done = 0;
            for (int l = 1; l <= MAX_SLOT && !done; l++)
                for (int d = 0; d < NDAYS && !done; d++)
                    if (c->slot[d][l] < 0 && !sc->t[c->teacher_of[s]].busy[d][l]) {
                        c->slot[d][l] = (signed char)s;
                        sc->t[c->teacher_of[s]].busy[d][l] = 1;
                        done = 1;
                    }
            rem[s]--;
            if (!done)
                sc->sp->n->dropped_hours++;
        }
    }
}

/* ---------------------------------------------------------------- people */

static void teacher_name(const school_t *sc, const teacher_t *t, char *last, char *first, const char **middle)
{
    surname_form(t->surname, t->female, last, 64);
    snprintf(first, 64, "%s", t->female ? female_names[t->name] : male_names[t->name][0]);
    *middle = male_names[t->patr][t->female ? 2 : 1];
    (void)sc;
}

static int csv_row(school_t *sc, const char *login, const char *role, int64_t uid, int64_t school_id, int64_t class_id)
{
    if (!sc->sp->csv)
        return 0;
    char cls[24] = "";
    if (class_id)
        snprintf(cls, sizeof cls, "%lld", (long long)class_id);
    return fprintf(sc->sp->csv, "%s,%s,%s,%lld,%lld,%s\n", login, DN_SEED_GEN_PASSWORD, role, (long long)uid,
                   (long long)school_id, cls) < 0 ? DN_EIO : 0;
}

static int add_user(school_t *sc, const char *login, const char *last, const char *first, const char *middle,
                    const char *role, int64_t role_school, int64_t class_id, int64_t *id)
{
    int rc = 0;
    int64_t now = day_ms(sc->term_from[0] - 10, 9 * 60);
    *id = 0;
    if (!strcmp(role, "sysadmin")) {
        /* ON CONFLICT may insert nothing, so this one is a statement of its
         * own, after the users queued before it (ids keep their order). */
        TRY(batch_flush(sc, B_USER));
        TRY(run(sc->db, &q_user_opt, id, "ttttti", login, sc->sp->hash, last, first, middle, now));
        if (!*id)
            return 0; /* an existing sysadmin login: left as it is */
        TRY(batch_add(sc, B_ROLE, NULL, "iit", *id, role_school, role));
        TRY(csv_row(sc, login, role, *id, role_school, class_id));
        sc->sp->n->users++;
        return 0;
    }
    /* The role row and the logins line follow when the id is known (batch_flush). */
    sc->uaux[sc->b[B_USER]->n] = (user_aux_t){role, role_school, class_id, id};
    TRY(batch_add(sc, B_USER, id, "tttttdi", login, sc->sp->hash, last, first, middle, 0, now));
    sc->sp->n->users++;
fail:
    return rc;
}

static void login_of(const school_t *sc, char *out, size_t n, const char *kind, int idx)
{
    if (sc->sp->demo)
        snprintf(out, n, "demo-%s%04d", kind, idx);
    else
        snprintf(out, n, "g%lld-%s%d", (long long)sc->school_id, kind, idx);
}

static int write_teachers(school_t *sc)
{
    int rc = 0;
    char login[64], last[64], first[64];
    const char *middle;
    for (int i = 0; i < sc->nt; i++) {
        teacher_t *t = &sc->t[i];
        teacher_name(sc, t, last, first, &middle);
        int is_demo_teacher = sc->sp->demo && t->class_of == sc->demo_class &&
                              sc->c[sc->demo_class].class_teacher == i;
        if (is_demo_teacher)
            snprintf(login, sizeof login, "teacher");
        else
            login_of(sc, login, sizeof login, "t", i + 1);
        TRY(add_user(sc, login, last, first, middle, "teacher", sc->school_id, 0, &t->id));
    }
fail:
    return rc;
}

/* Students and their families. A family is one surname: the father's first
 * name gives the children's patronymic. Some families have two children in
 * different classes; parents are linked to every child. */
static int build_families(school_t *sc)
{
    int total = 0;
    for (int k = 0; k < sc->sp->nclasses; k++)
        total += sc->sp->size[k];
    sc->s = calloc((size_t)total + 1, sizeof *sc->s);
    sc->f = calloc((size_t)total + 1, sizeof *sc->f);
    if (!sc->s || !sc->f)
        return DN_ENOMEM;
    sc->ns = 0;
    for (int k = 0; k < sc->sp->nclasses; k++) {
        sc->c[k].first = sc->ns;
        sc->c[k].nstudents = sc->sp->size[k];
        for (int i = 0; i < sc->sp->size[k]; i++) {
            student_t *st = &sc->s[sc->ns];
            st->cls = k;
            st->female = rng_int(&sc->rng, 2);
            st->name = st->female ? rng_int(&sc->rng, N_FEMALE) : rng_int(&sc->rng, N_MALE);
            double a = 3.9 + 0.55 * rng_normal(&sc->rng);
            st->ability = a < 2.7 ? 2.7 : a > 4.95 ? 4.95 : a;
            st->family = -1;
            if (sc->ns > 0 && rng_unit(&sc->rng) < sc->sp->sibling_p) {
                int j = rng_int(&sc->rng, sc->ns);
                family_t *fj = &sc->f[sc->s[j].family];
                if (sc->s[j].cls != k && fj->nchildren == 1) {
                    st->family = sc->s[j].family;
                    fj->nchildren++;
                }
            }
            if (st->family < 0) {
                family_t *f = &sc->f[sc->nf];
                f->surname = rng_int(&sc->rng, N_SURNAMES);
                f->father = rng_int(&sc->rng, N_MALE);
                f->father_patr = rng_int(&sc->rng, N_MALE);
                f->mother_name = rng_int(&sc->rng, N_FEMALE);
                f->mother_patr = rng_int(&sc->rng, N_MALE);
                double u = rng_unit(&sc->rng);
                if (u < sc->sp->two_parents_p) {
                    f->has_father = f->has_mother = 1;
                } else if (u < sc->sp->two_parents_p + (1 - sc->sp->two_parents_p) * 0.8) {
                    f->has_mother = 1;
                } else {
                    f->has_father = 1;
                }
                f->nchildren = 1;
                st->family = sc->nf++;
            }
            sc->ns++;
        }
    }
    return 0;
}

static int write_students(school_t *sc)
{
    int rc = 0;
    char login[64], last[64], from[11];
    day_iso(sc->term_from[0], from);
    for (int i = 0; i < sc->ns; i++) {
        student_t *st = &sc->s[i];
        family_t *f = &sc->f[st->family];
        surname_form(f->surname, st->female, last, sizeof last);
        const char *first = st->female ? female_names[st->name] : male_names[st->name][0];
        const char *middle = male_names[f->father][st->female ? 2 : 1];
        if (sc->sp->demo && i == sc->demo_student)
            snprintf(login, sizeof login, "student");
        else
            login_of(sc, login, sizeof login, "s", i + 1);
        int64_t cid = sc->c[st->cls].id;
        TRY(add_user(sc, login, last, first, middle, "student", sc->school_id, cid, &st->id));
    }
    TRY(batch_flush(sc, B_USER)); /* student ids */
    for (int i = 0; i < sc->ns; i++)
        TRY(batch_add(sc, B_MEMBER, NULL, "iit", sc->c[sc->s[i].cls].id, sc->s[i].id, from));
    int np = 0;
    for (int i = 0; i < sc->ns; i++) {
        family_t *f = &sc->f[sc->s[i].family];
        if (f->parents_done)
            continue; /* a second child: parents exist already */
        for (int p = 0; p < 2; p++) {
            if (!(p == 0 ? f->has_mother : f->has_father))
                continue;
            surname_form(f->surname, p == 0, last, sizeof last);
            const char *first = p == 0 ? female_names[f->mother_name] : male_names[f->father][0];
            const char *middle = p == 0 ? male_names[f->mother_patr][2] : male_names[f->father_patr][1];
            if (sc->sp->demo && sc->s[i].family == sc->s[sc->demo_student].family && p == 0)
                snprintf(login, sizeof login, "parent");
            else
                login_of(sc, login, sizeof login, "p", ++np);
            TRY(add_user(sc, login, last, first, middle, "parent", sc->school_id, 0, &f->parent_id[p]));
        }
        f->parents_done = 1;
    }
    TRY(batch_flush(sc, B_USER)); /* parent ids */
    for (int i = 0; i < sc->ns; i++) {
        family_t *f = &sc->f[sc->s[i].family];
        for (int p = 0; p < 2; p++)
            if (f->parent_id[p])
                TRY(batch_add(sc, B_LINK, NULL, "ii", f->parent_id[p], sc->s[i].id));
    }
fail:
    return rc;
}

static double mono_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/*
 * The journal is written in chunks: flush the buffers, commit and begin
 * again (checked between classes). PostgreSQL serialises writers with one
 * advisory lock (5 s lock_timeout), so a chunk there ends at the first class
 * boundary after PG_CHUNK_SECONDS: by time, not rows, because the insert
 * rate varies tenfold (foreign key triggers on or off, sanitizer builds), and
 * other writers (a server, parallel tests) must get the lock in time. With
 * multi-row inserts one commit per second costs next to nothing. SQLite pays
 * an fsync per commit, so its chunks are big. A failure rolls back only the
 * current chunk: the caller reports it.
 */
#define PG_CHUNK_SECONDS 1.0
static int maybe_commit(school_t *sc)
{
    counts_t *n = sc->sp->n;
    long long rows = n->users + n->classes + n->lessons + n->slots + n->marks + n->attendance + n->checkpoints + n->works;
    if (dn_db_backend(sc->db) == DN_DB_POSTGRES ? mono_now() - n->chunk_t0 < PG_CHUNK_SECONDS
                                                : rows - n->at_commit < 200000)
        return 0;
    int rc = flush_all(sc);
    if (rc == 0)
        rc = dn_db_commit(sc->db);
    if (rc == 0)
        rc = dn_db_begin_write(sc->db);
    n->at_commit = rows;
    n->chunk_t0 = mono_now();
    return rc;
}

/* ------------------------------------------------------- the dated journal */

static const char *const work_texts[] = {
    "Выполнил все упражнения, в третьем сомневаюсь.",
    "Решение во вложении, задача 4 решена двумя способами.",
    "Сделала конспект параграфа и ответила на вопросы.",
    "Прикладываю выполненное задание.",
};
static const char *const teacher_comments[] = {
    "Хорошая работа, аккуратно оформлено.",
    "Исправьте ошибки во втором задании и пришлите ещё раз.",
    "Не хватает вывода, в остальном верно.",
    "Отлично! Обратите внимание на оформление ответа.",
};

static void homework_text(int s, int k, char *out, size_t n)
{
    switch (subj_defs[s].hw) {
    case HW_EX: snprintf(out, n, "Упр. %d, %d", 40 + k * 3, 41 + k * 3); break;
    case HW_NUM: snprintf(out, n, "№ %d, %d, %d", 100 + k * 4, 102 + k * 4, 105 + k * 4); break;
    case HW_PAR: snprintf(out, n, "§ %d, ответить на вопросы 1–%d", 1 + k / 2, 3 + k % 3); break;
    case HW_READ: snprintf(out, n, "Прочитать с. %d–%d, пересказ", 10 + k * 5, 14 + k * 5); break;
    default: out[0] = '\0';
    }
}

static int mark_value(school_t *sc, double ability, double shift)
{
    double v = ability + shift + 0.75 * rng_normal(&sc->rng);
    int m = (int)lround(v);
    return m < 2 ? 2 : m > 5 ? 5 : m;
}

/* The checkpoint of a homework with works (see write_works). */
static int queue_homework(school_t *sc, class_t *c, int s, int lesson_day, int64_t lesson_id, int64_t *cp)
{
    int64_t teacher = sc->t[c->teacher_of[s]].id;
    char due_iso[11], title[160];
    day_iso(lesson_day + 7, due_iso);
    snprintf(title, sizeof title, "Домашняя работа: %s", subj_defs[s].topics[0]);
    sc->sp->n->checkpoints++;
    return batch_add(sc, B_CHECKPOINT, cp, "iiiiittttdi", sc->school_id, c->id, sc->subj_id[s], teacher, lesson_id,
                     "homework", title, "Выполните задания и прикрепите решение.", due_iso, 1,
                     day_ms(lesson_day, 14 * 60));
}

/* Homework with student works: some graded (with a mark), some returned for
 * rework with a comment, some just submitted. cp is the homework's
 * checkpoint; mark_ids (one per student of c) receive the graded marks' ids,
 * which the works rows read when they are flushed after the marks. */
static int write_works(school_t *sc, class_t *c, int s, int term, int lesson_day, int64_t cp, int64_t *mark_ids)
{
    int rc = 0;
    int64_t teacher = sc->t[c->teacher_of[s]].id;
    int due = lesson_day + 7;
    for (int i = 0; i < c->nstudents; i++) {
        student_t *st = &sc->s[c->first + i];
        if (rng_unit(&sc->rng) < 0.4)
            continue;
        int sub_day = lesson_day + 1 + rng_int(&sc->rng, 6);
        if (sub_day >= sc->sp->today)
            continue;
        int64_t sub_at = day_ms(sub_day, 17 * 60 + rng_int(&sc->rng, 300));
        int graded = due < sc->sp->today && rng_unit(&sc->rng) < 0.7;
        int returned = !graded && due < sc->sp->today;
        char versions[512], comments[512];
        snprintf(versions, sizeof versions, "[{\"version\":1,\"text\":\"%s\",\"submitted_at\":%lld}]",
                 work_texts[rng_int(&sc->rng, 4)], (long long)sub_at);
        int64_t upd = sub_at;
        if (graded || returned) {
            upd = day_ms(due + 1, 15 * 60);
            snprintf(comments, sizeof comments, "[{\"author_id\":%lld,\"text\":\"%s\",\"at\":%lld}]", (long long)teacher,
                     teacher_comments[returned ? 1 : rng_int(&sc->rng, 2) ? 0 : 3],
                     (long long)upd);
        } else {
            snprintf(comments, sizeof comments, "[]");
        }
        if (graded) {
            char d[11];
            day_iso(due + 1, d);
            int t = term_of(sc, due + 1) >= 0 ? term_of(sc, due + 1) : term;
            TRY(batch_add(sc, B_MARK, &mark_ids[i], "iiiiizztddttiii", sc->school_id, st->id, c->id,
                          sc->subj_id[s], sc->term_id[t], (int64_t)0, cp, d, mark_value(sc, st->ability, 0.1), 1,
                          "homework", "", teacher, upd, upd));
            sc->sp->n->marks++;
        }
        TRY(batch_add(sc, B_WORK, NULL, "iiittt" "rii", sc->school_id, cp, st->id,
                      graded ? "graded" : returned ? "returned" : "submitted", versions, comments,
                      graded ? (const int64_t *)&mark_ids[i] : (const int64_t *)NULL, sub_at, upd));
        sc->sp->n->works++;
    }
fail:
    return rc;
}

static const char *const absent_comments[] = {"", "Не выполнено домашнее задание", "Забыл тетрадь"};

/* Marks and attendance of one past lesson. cp_kind: NULL for an ordinary
 * lesson, "test"/"control" for a checkpoint lesson (everyone present writes). */
static int write_lesson_marks(school_t *sc, class_t *c, int s, int term, int day, int lno, int64_t lesson_id,
                              const char *cp_kind, int64_t cp_id)
{
    int rc = 0;
    int64_t teacher = sc->t[c->teacher_of[s]].id;
    int64_t at = day_ms(day, 8 * 60 + lno * 55);
    char iso[11];
    day_iso(day, iso);
    int marks = c->grade >= 2; /* grade 1 is taught without marks */
    for (int i = 0; i < c->nstudents; i++) {
        student_t *st = &sc->s[c->first + i];
        if (rng_unit(&sc->rng) < sc->sp->absent_rate) {
            double u = rng_unit(&sc->rng);
            const char *status = u < 0.5 ? "absent" : u < 0.8 ? "excused" : "late";
            TRY(batch_add(sc, B_ATTEND, NULL, "iitii", lesson_id, st->id, status, teacher, at));
            sc->sp->n->attendance++;
            if (status[0] != 'l')
                continue;
        }
        if (!marks)
            continue;
        if (cp_kind) {
            int w = cp_kind[0] == 'c' ? 3 : 2;
            TRY(batch_add(sc, B_MARK, NULL, "iiiiiiztddttiii", sc->school_id, st->id, c->id, sc->subj_id[s],
                          sc->term_id[term], lesson_id, cp_id, iso, mark_value(sc, st->ability, -0.25), w, cp_kind,
                          "", teacher, at, at));
            sc->sp->n->marks++;
        } else if (rng_int(&sc->rng, sc->sp->mark_every) == 0) {
            int v = mark_value(sc, st->ability, 0);
            const char *cm = v == 2 && rng_int(&sc->rng, 3) == 0 ? absent_comments[1 + rng_int(&sc->rng, 2)] : "";
            TRY(batch_add(sc, B_MARK, NULL, "iiiiiiztddttiii", sc->school_id, st->id, c->id, sc->subj_id[s],
                          sc->term_id[term], lesson_id, (int64_t)0, iso, v, 1, "lesson", cm, teacher, at, at));
            sc->sp->n->marks++;
        }
    }
fail:
    return rc;
}

/* All dated lessons of one class, term by term, with checkpoints: two tests
 * (weight 2) and one control work (weight 3) per subject and term, and a
 * homework with works in the two main subjects.
 * The same walk over the lessons runs three times so that every row is
 * queued only after the ids it refers to came back: pass 0 queues the
 * lessons, pass 1 their checkpoints, pass 2 marks, attendance and works.
 * Only pass 2 draws from the PRNG, in the order of the one-pass original. */
static int write_class_lessons(school_t *sc, class_t *c)
{
    int rc = 0;
    char iso[11], room[16], topic[200], hw[160];
    int cap = (sc->sp->lessons_to - sc->term_from[0] + 1) * MAX_SLOT;
    if (cap < 1)
        cap = 1;
    /* Per lesson (in walk order): its id, its test/control checkpoint, its
     * homework checkpoint; per homework: the graded marks of its students. */
    int64_t *lid = calloc((size_t)cap * 3, sizeof *lid), *cpid = lid + cap, *hwid = lid + 2 * (size_t)cap;
    int64_t *wmark = NULL;
    int nhw = 0;
    if (!lid)
        return DN_ENOMEM;
    for (int pass = 0; pass < 3; pass++) {
        int li = 0, ihw = 0;
        for (int term = 0; term < 4; term++) {
            int from = sc->term_from[term], to = sc->term_to[term];
            if (from > sc->sp->lessons_to)
                break;
            if (to > sc->sp->lessons_to)
                to = sc->sp->lessons_to;
            int total[NSUBJ] = {0}, k[NSUBJ] = {0};
            for (int day = from; day <= sc->term_to[term]; day++)
                if (is_school_day(sc, day))
                    for (int l = 1; l <= MAX_SLOT; l++)
                        if (c->slot[weekday0(day)][l] >= 0)
                            total[(int)c->slot[weekday0(day)][l]]++;
            int main1 = -1, main2 = -1; /* the two main subjects of the class */
            int recent[NSUBJ] = {0};    /* homework of the last days handed out */
            for (int s = 0; s < NSUBJ; s++)
                if (c->teacher_of[s] >= 0 && subj_defs[s].hw != HW_NONE && subj_defs[s].hours[c->grade - 1] >= 3) {
                    if (main1 < 0)
                        main1 = s;
                    else if (main2 < 0)
                        main2 = s;
                }
            for (int day = from; day <= to; day++) {
                if (!is_school_day(sc, day))
                    continue;
                day_iso(day, iso);
                int wd = weekday0(day), past = day < sc->sp->today;
                for (int l = 1; l <= MAX_SLOT; l++) {
                    int s = c->slot[wd][l];
                    if (s < 0)
                        continue;
                    if (li >= cap) {
                        rc = DN_EINVAL; /* cannot happen: cap bounds the school days */
                        goto fail;
                    }
                    teacher_t *t = &sc->t[c->teacher_of[s]];
                    int n = total[s], idx = k[s]++, nt = subj_topics(s);
                    const char *cp_kind = NULL;
                    if (c->grade >= 2 && subj_defs[s].hw != HW_NONE) {
                        if (n >= 4 && idx == n - 2)
                            cp_kind = "control";
                        else if ((n >= 8 && (idx == n / 3 || idx == 2 * n / 3)) || (n < 8 && idx == n / 2))
                            cp_kind = "test";
                    }
                    /* Homework with works: one mid-term, one handed out in the
                     * last days (due after today: submitted, not yet checked). */
                    int homework = past && (s == main1 || s == main2) && c->grade >= 2 &&
                                   (idx == n / 2 || (!recent[s] && day >= sc->sp->today - 4));
                    if (homework && day >= sc->sp->today - 4)
                        recent[s] = 1;
                    if (pass == 0) {
                        snprintf(room, sizeof room, "%d", 100 + (int)(t - sc->t) % 40 + 100 * ((int)(t - sc->t) / 40));
                        if (cp_kind)
                            snprintf(topic, sizeof topic, "%s: %s",
                                     cp_kind[0] == 'c' ? "Контрольная работа" : "Проверочная работа",
                                     subj_defs[s].topics[(idx / 6) % nt]);
                        else
                            snprintf(topic, sizeof topic, "%s", subj_defs[s].topics[(idx / 6) % nt]);
                        homework_text(s, idx, hw, sizeof hw);
                        int64_t upd = past ? day_ms(day, 15 * 60) : 0;
                        TRY(batch_add(sc, B_LESSON, &lid[li], "iiiitdttti", sc->school_id, c->id, sc->subj_id[s],
                                      t->id, iso, l, room, past ? topic : "", past ? hw : "", upd));
                        sc->sp->n->lessons++;
                    } else if (pass == 1) {
                        if (cp_kind) {
                            char title[200];
                            snprintf(title, sizeof title, "%s по теме «%s»",
                                     cp_kind[0] == 'c' ? "Контрольная работа" : "Проверочная работа",
                                     subj_defs[s].topics[(idx / 6) % nt]);
                            TRY(batch_add(sc, B_CHECKPOINT, &cpid[li], "iiiiittttdi", sc->school_id, c->id,
                                          sc->subj_id[s], t->id, lid[li], cp_kind, title, "", iso,
                                          cp_kind[0] == 'c' ? 3 : 2, day_ms(day - 7, 15 * 60)));
                            sc->sp->n->checkpoints++;
                        }
                        if (homework) {
                            TRY(queue_homework(sc, c, s, day, lid[li], &hwid[li]));
                            nhw++;
                        }
                    } else {
                        if (past)
                            TRY(write_lesson_marks(sc, c, s, term, day, l, lid[li], cp_kind, cpid[li]));
                        if (homework)
                            TRY(write_works(sc, c, s, term, day, hwid[li], &wmark[(size_t)ihw++ * (size_t)c->nstudents]));
                    }
                    li++;
                }
            }
        }
        if (pass == 0) {
            TRY(batch_flush(sc, B_LESSON));
        } else if (pass == 1) {
            TRY(batch_flush(sc, B_CHECKPOINT));
            wmark = calloc((size_t)(nhw ? nhw : 1) * (size_t)(c->nstudents ? c->nstudents : 1), sizeof *wmark);
            if (!wmark) {
                rc = DN_ENOMEM;
                goto fail;
            }
        }
    }
    TRY(flush_all(sc)); /* works read wmark: write them before it goes */
fail:
    free(lid);
    free(wmark);
    return rc;
}

/* ---------------------------------------------------------- one school */

static int write_school(dn_db_t *db, school_spec_t *sp, rng_t rng, int64_t *school_out)
{
    int rc = 0;
    school_t sc = {.sp = sp, .db = db, .rng = rng, .demo_class = -1, .demo_student = -1, .demo_sibling = -1};
    sc.c = calloc((size_t)sp->nclasses, sizeof *sc.c);
    if (!sc.c)
        return DN_ENOMEM;
    TRY(batches_open(&sc));
    int64_t created = day_ms(days_from_civil(sp->year_start, 8, 20), 9 * 60);
    TRY(run(db, &q_school, &sc.school_id, "iti", sp->region_id, sp->name, created));
    if (school_out)
        *school_out = sc.school_id;
    TRY(write_calendar(&sc));

    for (int s = 0; s < NSUBJ; s++)
        TRY(run(db, &q_subject, &sc.subj_id[s], "it", sc.school_id, subj_defs[s].name));

    for (int k = 0; k < sp->nclasses; k++) {
        sc.c[k].grade = sp->grade[k];
        sc.c[k].letter = sp->letter[k];
    }
    if (sp->demo) {
        for (int k = 0; k < sp->nclasses; k++)
            if (sp->grade[k] == 7 && sp->letter[k] == 1)
                sc.demo_class = k;
    }
    TRY(allocate_teachers(&sc));
    if (sc.demo_class >= 0) {
        /* "teacher" teaches algebra in 7Б and is its class teacher. */
        class_t *c = &sc.c[sc.demo_class];
        int alg = -1;
        for (int s = 0; s < NSUBJ; s++)
            if (!strcmp(subj_defs[s].name, "Алгебра"))
                alg = s;
        int t = c->teacher_of[alg];
        if (sc.t[t].class_of >= 0 && sc.t[t].class_of != sc.demo_class)
            sc.c[sc.t[t].class_of].class_teacher = c->class_teacher;
        if (c->class_teacher >= 0)
            sc.t[c->class_teacher].class_of = sc.t[t].class_of;
        c->class_teacher = t;
        sc.t[t].class_of = sc.demo_class;
    }
    /* Senior classes first: they have the most hours to fit. */
    for (int g = 11; g >= 1; g--)
        for (int k = 0; k < sp->nclasses; k++)
            if (sc.c[k].grade == g)
                schedule_class(&sc, &sc.c[k]);

    TRY(build_families(&sc));
    if (sp->demo && sc.demo_class >= 0) {
        /* "student" is the first of 7Б; "parent" (the mother) also has a
         * child in 3А, so one parent follows two classes. */
        class_t *dc = &sc.c[sc.demo_class];
        for (int i = dc->first; i < dc->first + dc->nstudents && sc.demo_student < 0; i++)
            if (sc.f[sc.s[i].family].nchildren == 1)
                sc.demo_student = i;
        if (sc.demo_student < 0)
            sc.demo_student = dc->first;
        for (int k = 0; k < sp->nclasses; k++)
            if (sp->grade[k] == 3 && sp->letter[k] == 0)
                for (int i = sc.c[k].first; i < sc.c[k].first + sc.c[k].nstudents && sc.demo_sibling < 0; i++)
                    if (sc.f[sc.s[i].family].nchildren == 1)
                        sc.demo_sibling = i;
        family_t *f = &sc.f[sc.s[sc.demo_student].family];
        f->has_mother = 1;
        f->has_father = 1;
        if (sc.demo_sibling >= 0 && sc.s[sc.demo_sibling].family != sc.s[sc.demo_student].family) {
            sc.f[sc.s[sc.demo_sibling].family].nchildren--;
            /* Orphaned family of one child: give it back a parent-less state
             * only if the child moved; the child now belongs to f. */
            sc.s[sc.demo_sibling].family = sc.s[sc.demo_student].family;
            f->nchildren++;
        }
    }

    TRY(write_teachers(&sc));
    {
        char login[64];
        if (sp->demo)
            snprintf(login, sizeof login, "admin");
        else
            snprintf(login, sizeof login, "g%lld-admin", (long long)sc.school_id);
        TRY(add_user(&sc, login, "Смирнова", "Елена", "Викторовна", "admin", sc.school_id, 0, &sc.admin_id));
        if (sp->sysadmin_id && !*sp->sysadmin_id) {
            if (sp->demo)
                snprintf(login, sizeof login, "sysadmin");
            else
                snprintf(login, sizeof login, "g%lld-sysadmin", (long long)sc.school_id);
            TRY(add_user(&sc, login, "Орлов", "Андрей", "Николаевич", "sysadmin", 0, 0, sp->sysadmin_id));
        }
        TRY(batch_flush(&sc, B_USER)); /* teacher ids, for the class teachers */
    }
    for (int k = 0; k < sp->nclasses; k++) {
        class_t *c = &sc.c[k];
        int64_t ct = c->class_teacher >= 0 ? sc.t[c->class_teacher].id : 0;
        TRY(run(db, &q_class, &c->id, "idtz", sc.school_id, sp->year_start - c->grade + 1, letters[c->letter], ct));
        sp->n->classes++;
    }
    TRY(write_students(&sc));

    char vfrom[11], vto[11], room[16];
    day_iso(sc.term_from[0], vfrom);
    day_iso(days_from_civil(sp->year_start + 1, 5, 31), vto);
    for (int k = 0; k < sp->nclasses; k++) {
        class_t *c = &sc.c[k];
        for (int s = 0; s < NSUBJ; s++)
            if (c->teacher_of[s] >= 0)
                TRY(batch_add(&sc, B_ASSIGN, NULL, "iiii", sc.school_id, sc.t[c->teacher_of[s]].id, c->id,
                              sc.subj_id[s]));
        for (int d = 0; d < NDAYS; d++)
            for (int l = 1; l <= MAX_SLOT; l++) {
                int s = c->slot[d][l];
                if (s < 0)
                    continue;
                int ti = c->teacher_of[s];
                snprintf(room, sizeof room, "%d", 100 + ti % 40 + 100 * (ti / 40));
                TRY(batch_add(&sc, B_SLOT, NULL, "iidd" "iitt" "t", sc.school_id, c->id, d + 1, l, sc.subj_id[s],
                              sc.t[ti].id, room, vfrom, vto));
                sp->n->slots++;
            }
    }
    for (int k = 0; k < sp->nclasses; k++) {
        TRY(maybe_commit(&sc));
        TRY(write_class_lessons(&sc, &sc.c[k]));
    }
    TRY(flush_all(&sc)); /* the caller commits: nothing may stay queued */
fail:
    batches_close(&sc); /* after a failure, queued rows die with the rolled back transaction */
    free(sc.c);
    free(sc.t);
    free(sc.s);
    free(sc.f);
    return rc;
}

static int region_id(dn_db_t *db, const char *name, int64_t *id)
{
    int rc = run(db, &q_region_ins, NULL, "t", name);
    if (rc < 0)
        return rc;
    *id = 0;
    rc = run(db, &q_region_get, id, "t", name);
    return rc < 0 ? rc : *id ? 0 : DN_EDB;
}

/* Hash once: argon2id costs ~30 ms and every seeded user shares the
 * password, so every seeded user shares this one hash (seed data only). */
static int hash_once(const char *password, char *out, size_t outlen)
{
    int rc = dn_password_hash(password, out, outlen);
    if (rc < 0)
        fprintf(stderr, "seed: password hash failed: %s\n", dn_strerror(rc));
    return rc;
}

/* ------------------------------------------------------------ public API */

int dn_seed_has_data(dn_db_t *db)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_has_data);
    if (!st)
        return 0;
    int rc = dn_stmt_step(st);
    int found = rc == DN_DB_ROW;
    while (rc == DN_DB_ROW) /* finish, so no read snapshot stays open */
        rc = dn_stmt_step(st);
    return found;
}

int dn_seed_demo(dn_db_t *db, FILE *out)
{
    return dn_seed_demo_on(db, out, NULL);
}

int dn_seed_demo_on(dn_db_t *db, FILE *out, const char *today_iso)
{
    int today = today_days(), y, m, d;
    if (today_iso) {
        if (sscanf(today_iso, "%4d-%2d-%2d", &y, &m, &d) != 3 || m < 1 || m > 12 || d < 1 || d > 31)
            return DN_EINVAL;
        today = days_from_civil(y, m, d);
    }
    char hash[256];
    int rc = hash_once(DN_SEED_DEMO_PASSWORD, hash, sizeof hash);
    if (rc < 0)
        return rc;
    counts_t n = {0};
    int64_t sysadmin = 0, school = 0;
    school_spec_t sp = {
        .name = "МБОУ «Средняя школа № 1»",
        .year_start = year_start_of(today),
        .today = today,
        .mark_every = 3,
        .absent_rate = 0.04,
        .sibling_p = 0.12,
        .two_parents_p = 0.55,
        .load = 24,
        .demo = 1,
        .hash = hash,
        .sysadmin_id = &sysadmin,
        .n = &n,
    };
    /* Lessons from 1 September to the end of the current term: the term
     * holding today, or the next one during a break (the whole year in summer). */
    school_t cal = {0};
    calendar(&cal, sp.year_start);
    sp.lessons_to = cal.term_to[3];
    for (int i = 0; i < 4; i++)
        if (today <= cal.term_to[i]) {
            sp.lessons_to = cal.term_to[i];
            break;
        }
    rng_t rng = {0x5eed0001u};
    for (int g = 1; g <= 11; g++)
        for (int l = 0; l < 3; l++) {
            int k = sp.nclasses++;
            sp.grade[k] = g;
            sp.letter[k] = l;
            sp.size[k] = 22 + rng_int(&rng, 6);
        }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = dn_db_begin_write(db);
    if (rc < 0)
        return rc;
    n.chunk_t0 = mono_now();
    rc = region_id(db, "Демонстрационный регион", &sp.region_id);
    if (rc == 0)
        rc = write_school(db, &sp, rng, &school);
    if (rc < 0) {
        dn_db_rollback(db);
        return rc;
    }
    rc = dn_db_commit(db);
    if (rc < 0)
        return rc;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (out) {
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        fprintf(out, "Demo school «%s» (id %lld) created in %.1f s: %lld classes, %lld users, %lld lessons, "
                     "%lld marks, %lld attendance notes, %lld works.\n\n",
                sp.name, (long long)school, secs, n.classes, n.users, n.lessons, n.marks, n.attendance, n.works);
        fprintf(out, "%-10s %-10s %-10s %s\n", "role", "login", "password", "who");
        fprintf(out, "%-10s %-10s %-10s %s\n", "sysadmin", "sysadmin", DN_SEED_DEMO_PASSWORD, "system administrator (all schools)");
        fprintf(out, "%-10s %-10s %-10s %s\n", "admin", "admin", DN_SEED_DEMO_PASSWORD, "school administrator");
        fprintf(out, "%-10s %-10s %-10s %s\n", "teacher", "teacher", DN_SEED_DEMO_PASSWORD,
                "teacher of algebra etc., class teacher of 7Б");
        fprintf(out, "%-10s %-10s %-10s %s\n", "student", "student", DN_SEED_DEMO_PASSWORD, "student of 7Б");
        fprintf(out, "%-10s %-10s %-10s %s\n", "parent", "parent", DN_SEED_DEMO_PASSWORD,
                "mother of \"student\" (7Б) and of a child in 3А");
        fprintf(out, "Other demo users: demo-t0001.. (teachers), demo-s0001.. (students), demo-p0001.. (parents), "
                     "same password.\n");
    }
    return 0;
}

static double elapsed_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void progress(FILE *out, int done, int schools, long long students, long long total, const counts_t *n, double secs)
{
    if (!out)
        return;
    char bar[21];
    int fill = schools ? done * 20 / schools : 20;
    for (int i = 0; i < 20; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[20] = '\0';
    fprintf(out, "\r[%s] %3d%% schools %d/%d students %lld/%lld lessons %.2fM marks %.2fM %.0fs ", bar,
            schools ? done * 100 / schools : 100, done, schools, students, total, (double)n->lessons / 1e6,
            (double)n->marks / 1e6, secs);
    fflush(out);
}

int dn_seed_generate(dn_db_t *db, const dn_seed_options_t *opt)
{
    if (!opt || opt->schools < 1 || opt->students < opt->schools)
        return DN_EINVAL;
    char hash[256];
    int rc = hash_once(DN_SEED_GEN_PASSWORD, hash, sizeof hash);
    if (rc < 0)
        return rc;
    FILE *csv = NULL;
    if (opt->logins_out) {
        csv = fopen(opt->logins_out, "w");
        if (!csv)
            return DN_EIO;
        fprintf(csv, "login,password,role,user_id,school_id,class_id\n");
    }
    if (dn_db_backend(db) == DN_DB_SQLITE)
        dn_db_exec(db, "PRAGMA cache_size=-262144"); /* 256 MiB page cache: the indexes stay hot */
    /* PostgreSQL checks each foreign key of each row with a trigger query:
     * ~80% of the server's time for marks (8 keys a row). Like pg_restore
     * --disable-triggers, a bulk load whose references come from ids the
     * server just returned can skip them: replica mode fires no ordinary
     * triggers, and the schema has none but the FK ones. It needs superuser
     * (or GRANT SET ON PARAMETER); without it the load runs checked, slower.
     * The tests verify every reference of generated data with anti-joins. */
    int replica = 0;
    if (dn_db_backend(db) == DN_DB_POSTGRES && !opt->fk_checks) {
        replica = dn_db_exec(db, "SET session_replication_role = replica") == 0;
        if (!replica && opt->progress)
            fprintf(opt->progress, "note: cannot skip foreign key triggers (%s); loading with them\n", dn_db_errmsg(db));
    }
    counts_t n = {0};
    int64_t sysadmin = 0;
    int today = today_days();
    int ys = opt->year_start ? opt->year_start : year_start_of(today);
    school_t cal = {0};
    calendar(&cal, ys);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rng_t rng = {opt->seed ? opt->seed : 0x5eed0002u};
    long long done_students = 0;
    char name[128];
    for (int i = 0; i < opt->schools && rc == 0; i++) {
        int students = opt->students / opt->schools + (i < opt->students % opt->schools);
        school_spec_t sp = {
            .name = name,
            .year_start = ys,
            .today = today,
            .lessons_to = cal.term_to[3],
            .mark_every = opt->mark_every > 0 ? opt->mark_every : 4,
            .absent_rate = 0.03,
            .sibling_p = 0.05,
            .two_parents_p = 0.0, /* one parent per family (some shared by siblings) */
            .load = 25,
            .hash = hash,
            .csv = csv,
            .sysadmin_id = &sysadmin,
            .n = &n,
        };
        snprintf(name, sizeof name, "МБОУ «Школа № %d»", i + 1);
        int nc = (students + 12) / 25;
        if (nc < 1)
            nc = 1;
        if (nc > 11 * N_LETTERS)
            nc = 11 * N_LETTERS;
        sp.nclasses = nc;
        for (int k = 0; k < nc; k++) {
            sp.grade[k] = k % 11 + 1;
            sp.letter[k] = k / 11;
            sp.size[k] = students / nc + (k < students % nc);
        }
        rng_t school_rng = {rng_next(&rng)};
        rc = dn_db_begin_write(db);
        if (rc < 0)
            break;
        n.chunk_t0 = mono_now();
        rc = region_id(db, "Регион нагрузочного теста", &sp.region_id);
        if (rc == 0)
            rc = write_school(db, &sp, school_rng, NULL);
        if (rc < 0) {
            dn_db_rollback(db);
            break;
        }
        rc = dn_db_commit(db);
        done_students += students;
        progress(opt->progress, i + 1, opt->schools, done_students, opt->students, &n, elapsed_since(&t0));
    }
    if (replica && dn_db_exec(db, "RESET session_replication_role") < 0 && rc == 0)
        rc = DN_EDB;
    if (csv && fclose(csv) != 0 && rc == 0)
        rc = DN_EIO;
    if (opt->progress) {
        fprintf(opt->progress,
                "\n%s in %.1f s: %lld users, %lld classes, %lld timetable slots, %lld lessons, %lld marks, "
                "%lld attendance notes, %lld checkpoints, %lld works, %d weekly hours not placed\n",
                rc == 0 ? "done" : "FAILED", elapsed_since(&t0), n.users, n.classes, n.slots, n.lessons, n.marks,
                n.attendance, n.checkpoints, n.works, n.dropped_hours);
    }
    if (rc == 0 && dn_db_backend(db) == DN_DB_SQLITE)
        dn_db_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)"); /* the WAL holds the whole run: fold it in */
    return rc;
}
