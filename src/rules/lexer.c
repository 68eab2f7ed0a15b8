/* Lexer: one token at a time, positions as 1-based line:column (columns count
 * bytes). Keywords (and function names, see parser.c) are case-insensitive;
 * field names are not. */
#include "rules/rules_impl.h"

#include <string.h>
#include <strings.h>

void eng__lex_init(eng__lexer *lx, const char *src, size_t len)
{
    lx->src = lx->p = lx->line_start = src;
    lx->end = src + len;
    lx->line = 1;
}

const char *eng__tok_name(int kind)
{
    static const char *const names[] = {
        "end of input", "identifier", "integer", "decimal", "string", "'('", "')'", "','", "'-'",
        "'=='", "'!='", "'<'", "'<='", "'>'", "'>='",
        "'and'", "'or'", "'not'", "'in'", "'between'", "'is'", "'null'", "'true'", "'false'",
        "'contains'", "'starts'", "'ends'", "'with'"};
    return kind >= 0 && kind < (int)(sizeof names / sizeof names[0]) ? names[kind] : "?";
}

static const struct { const char *w; int k; } keywords[] = {
    {"and", TK_AND}, {"or", TK_OR}, {"not", TK_NOT}, {"in", TK_IN}, {"between", TK_BETWEEN},
    {"is", TK_IS}, {"null", TK_NULL}, {"true", TK_TRUE}, {"false", TK_FALSE},
    {"contains", TK_CONTAINS}, {"starts", TK_STARTS}, {"ends", TK_ENDS}, {"with", TK_WITH}};

static uint32_t col_of(const eng__lexer *lx, const char *p)
{
    return (uint32_t)(p - lx->line_start) + 1;
}

static int is_ident0(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int lex_number(eng__lexer *lx, eng__token *t)
{
    const char *p = lx->p;
    uint64_t v = 0;
    int scale = 0, frac = 0;
    for (; p < lx->end && (is_digit(*p) || (*p == '.' && !frac)); p++) {
        if (*p == '.') {
            frac = 1;
            if (p + 1 >= lx->end || !is_digit(p[1]))
                return eng__rerr(ENG_EPARSE, t->line, col_of(lx, p + 1), "expected a digit after '.'");
            continue;
        }
        /* up to 2^63 units, so that -9223372036854775808 can be written */
        if (v > (UINT64_C(9223372036854775808) - (uint64_t)(*p - '0')) / 10)
            return eng__rerr(ENG_EPARSE, t->line, t->col, "number out of range (at most 9223372036854775807 units)");
        v = v * 10 + (uint64_t)(*p - '0');
        if (frac && ++scale > ENG_RULE_MAX_SCALE)
            return eng__rerr(ENG_EPARSE, t->line, t->col, "too many digits after the decimal point (at most %d)",
                             ENG_RULE_MAX_SCALE);
    }
    if (p < lx->end && (is_ident0(*p) || *p == '.'))
        return eng__rerr(ENG_EPARSE, t->line, col_of(lx, p), "unexpected character '%c' in a number", *p);
    t->kind = frac ? TK_DEC : TK_INT;
    t->big = v == UINT64_C(9223372036854775808);
    t->i = t->big ? INT64_MIN : (int64_t)v;
    t->scale = scale;
    t->p = lx->p;
    t->len = (size_t)(p - lx->p);
    lx->p = p;
    return ENG_OK;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* \u{H...}: 1 to 6 hex digits naming a Unicode scalar value. Returns the
 * escape's length after the backslash (p points at 'u'), 0 if malformed. */
static size_t u_escape(const char *p, const char *end, uint32_t *cp)
{
    size_t k = 2;
    *cp = 0;
    if (end - p < 4 || p[1] != '{')
        return 0;
    for (; p + k < end && hexval(p[k]) >= 0 && k < 8; k++)
        *cp = *cp * 16 + (uint32_t)hexval(p[k]);
    if (k == 2 || p + k >= end || p[k] != '}' || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
        return 0;
    return k + 1;
}

static const char escape_help[] = "use \\\\ \\\" \\' \\n \\r \\t or \\u{hex}";

static int lex_string(eng__lexer *lx, eng__token *t)
{
    char q = *lx->p;
    const char *p = lx->p + 1;
    for (; p < lx->end && *p != q; p++) {
        if (*p == '\\') {
            if (p + 1 >= lx->end) /* a backslash as the last byte: the string never ends */
                return eng__rerr(ENG_EPARSE, t->line, t->col, "unterminated string");
            char e = p[1];
            uint32_t cp;
            size_t k = 1;
            if (e == 'u') {
                if (!(k = u_escape(p + 1, lx->end, &cp)))
                    return eng__rerr(ENG_EPARSE, t->line, col_of(lx, p),
                                     "bad \\u escape (write \\u{41}: 1 to 6 hex digits of a Unicode scalar value)");
            } else if (e != '\\' && e != '"' && e != '\'' && e != 'n' && e != 't' && e != 'r') {
                return eng__rerr(ENG_EPARSE, t->line, col_of(lx, p), "unknown escape '\\%c' (%s)",
                                 (e >= 0x20 && e < 0x7f) ? e : '?', escape_help);
            }
            p += k;
        } else if ((unsigned char)*p < 0x20) {
            return eng__rerr(ENG_EPARSE, t->line, col_of(lx, p),
                             "control character in a string (write \\n, \\r, \\t or \\u{hex}; strings end on the same "
                             "line)");
        }
    }
    if (p >= lx->end)
        return eng__rerr(ENG_EPARSE, t->line, t->col, "unterminated string");
    t->kind = TK_STR;
    t->p = lx->p + 1;
    t->len = (size_t)(p - t->p);
    if (!eng__utf8_valid(t->p, t->len))
        return eng__rerr(ENG_EPARSE, t->line, t->col, "string is not valid UTF-8");
    lx->p = p + 1;
    return ENG_OK;
}

size_t eng__unescape(const char *p, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c != '\\') {
            out[o++] = c;
            continue;
        }
        c = p[++i];
        if (c != 'u') {
            out[o++] = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
            continue;
        }
        uint32_t cp;
        i += u_escape(p + i, p + n, &cp) - 1; /* checked by the lexer */
        if (cp < 0x80) {
            out[o++] = (char)cp;
        } else if (cp < 0x800) {
            out[o++] = (char)(0xC0 | cp >> 6);
            out[o++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out[o++] = (char)(0xE0 | cp >> 12);
            out[o++] = (char)(0x80 | (cp >> 6 & 0x3F));
            out[o++] = (char)(0x80 | (cp & 0x3F));
        } else {
            out[o++] = (char)(0xF0 | cp >> 18);
            out[o++] = (char)(0x80 | (cp >> 12 & 0x3F));
            out[o++] = (char)(0x80 | (cp >> 6 & 0x3F));
            out[o++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    return o;
}

int eng__lex_next(eng__lexer *lx, eng__token *t)
{
    memset(t, 0, sizeof *t);
    for (;;) {
        while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r' || *lx->p == '\n')) {
            if (*lx->p == '\n') {
                lx->line++;
                lx->line_start = lx->p + 1;
            }
            lx->p++;
        }
        if (lx->p + 1 < lx->end && lx->p[0] == '-' && lx->p[1] == '-') { /* comment to end of line */
            const char *e = memchr(lx->p, '\n', (size_t)(lx->end - lx->p));
            if (!e)
                e = lx->end;
            size_t bad = eng__utf8_check(lx->p, (size_t)(e - lx->p));
            if (bad < (size_t)(e - lx->p)) /* comments are text too: refused like everywhere else */
                return eng__rerr(ENG_EPARSE, lx->line, col_of(lx, lx->p + bad), "comment is not valid UTF-8");
            lx->p = e;
            continue;
        }
        break;
    }
    t->line = lx->line;
    t->col = col_of(lx, lx->p);
    t->p = lx->p;
    if (lx->p >= lx->end) {
        t->kind = TK_EOF;
        return ENG_OK;
    }
    const char *p = lx->p;
    char c = *p;
    if (is_digit(c))
        return lex_number(lx, t);
    if (c == '"' || c == '\'')
        return lex_string(lx, t);
    if (is_ident0(c)) {
        const char *e = p;
        while (e < lx->end && (is_ident0(*e) || is_digit(*e) || *e == '.'))
            e++;
        if (e[-1] == '.')
            return eng__rerr(ENG_EPARSE, t->line, col_of(lx, e - 1), "a name cannot end with '.'");
        t->kind = TK_IDENT;
        t->len = (size_t)(e - p);
        for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
            if (strlen(keywords[i].w) == t->len && strncasecmp(keywords[i].w, p, t->len) == 0)
                t->kind = keywords[i].k;
        lx->p = e;
        return ENG_OK;
    }
    int two = p + 1 < lx->end ? p[1] : 0;
    lx->p++;
    t->len = 1;
    switch (c) {
    case '(': t->kind = TK_LP; return ENG_OK;
    case ')': t->kind = TK_RP; return ENG_OK;
    case ',': t->kind = TK_COMMA; return ENG_OK;
    case '-': t->kind = TK_MINUS; return ENG_OK;
    case '=':
        if (two == '=') { lx->p++; t->len = 2; t->kind = TK_EQ; return ENG_OK; }
        t->kind = TK_EQ; /* '=' alone is accepted as '==' */
        return ENG_OK;
    case '!':
        if (two == '=') { lx->p++; t->len = 2; t->kind = TK_NE; return ENG_OK; }
        return eng__rerr(ENG_EPARSE, t->line, t->col, "unexpected '!' (write 'not' or '!=')");
    case '<':
        if (two == '=') { lx->p++; t->len = 2; t->kind = TK_LE; return ENG_OK; }
        if (two == '>') { lx->p++; t->len = 2; t->kind = TK_NE; return ENG_OK; }
        t->kind = TK_LT;
        return ENG_OK;
    case '>':
        if (two == '=') { lx->p++; t->len = 2; t->kind = TK_GE; return ENG_OK; }
        t->kind = TK_GT;
        return ENG_OK;
    default:
        if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
            return eng__rerr(ENG_EPARSE, t->line, t->col, "unexpected character '%c'", c);
        return eng__rerr(ENG_EPARSE, t->line, t->col, "unexpected byte 0x%02x", (unsigned char)c);
    }
}
