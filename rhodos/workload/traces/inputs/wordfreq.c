/* Input of the `cc1` trace: a small word-counting program for the compiler to compile.
 * It is never run; it gives `cc1 -O2` some real code to parse, optimise and emit. */
/* The declarations it needs, instead of the system headers (whose parsing would
 * dominate the trace). */
typedef unsigned long size_t;
typedef struct _IO_FILE FILE;
extern FILE *stdin;
#define EOF (-1)
#define NULL ((void *)0)
void *calloc(size_t, size_t);
void *malloc(size_t);
void free(void *);
int strcmp(const char *, const char *);
char *strdup(const char *);
FILE *fopen(const char *, const char *);
int fgetc(FILE *);
int printf(const char *, ...);
void perror(const char *);
int isalpha(int);
int tolower(int);

struct entry {
    char *word;
    unsigned long count;
    struct entry *next;
};

struct table {
    struct entry **buckets;
    size_t size;
    size_t used;
};

static unsigned long hash(const char *s)
{
    unsigned long h = 5381;
    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h;
}

static void grow(struct table *t)
{
    size_t size = t->size ? t->size * 2 : 64;
    struct entry **buckets = calloc(size, sizeof *buckets);
    for (size_t i = 0; i < t->size; i++) {
        struct entry *e = t->buckets[i];
        while (e) {
            struct entry *next = e->next;
            size_t j = hash(e->word) % size;
            e->next = buckets[j];
            buckets[j] = e;
            e = next;
        }
    }
    free(t->buckets);
    t->buckets = buckets;
    t->size = size;
}

static void add(struct table *t, const char *word)
{
    if (t->used >= t->size * 3 / 4)
        grow(t);
    size_t i = hash(word) % t->size;
    for (struct entry *e = t->buckets[i]; e; e = e->next)
        if (strcmp(e->word, word) == 0) {
            e->count++;
            return;
        }
    struct entry *e = malloc(sizeof *e);
    e->word = strdup(word);
    e->count = 1;
    e->next = t->buckets[i];
    t->buckets[i] = e;
    t->used++;
}

int main(int argc, char **argv)
{
    FILE *in = argc > 1 ? fopen(argv[1], "r") : stdin;
    if (!in) {
        perror(argv[1]);
        return 1;
    }
    struct table t = {0};
    char word[128];
    size_t len = 0;
    unsigned long total = 0;
    int c;
    while ((c = fgetc(in)) != EOF) {
        if (isalpha(c) && len + 1 < sizeof word) {
            word[len++] = (char)tolower(c);
        } else if (len) {
            word[len] = '\0';
            add(&t, word);
            total++;
            len = 0;
        }
    }
    printf("%lu words, %lu distinct\n", total, (unsigned long)t.used);
    return 0;
}
