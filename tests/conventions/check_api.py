#!/usr/bin/env python3
"""The mechanical part of docs/api-conventions.md, checked over include/engage/*.h:

  1. out-parameters last: in every ENG_API function no input follows an output
     (outputs: `T **`, a non-const pointer to a number, or a parameter documented
     `@param[out]`; a buffer's capacity right after the buffer belongs to it);
  2. callbacks are `eng_*_fn` typedefs and take `user` last;
  3. no varargs in ENG_API functions;
  4. enum values travel as `int`: no parameter or field has an enum type;
  5. every struct starting with `unsigned int version` has ENG_X_VERSION, ENG_X_INIT
     and eng_x_init(eng_x *, unsigned int);
  6. no public struct is embedded by value in another (sub-structs go by pointer);
  7. every public struct is layout-locked in tests/abi/test_abi_layout.c: its sizeof
     and the offset of each of its fields;
  8. a struct the library fills (a non-const `eng_x *` parameter of an ENG_API
     function, eng_x defined in a header) starts with `unsigned int version`;
  9. every versioned struct is in the table of tests/unit/core/test_versioned.c,
     which checks that eng_x_init() writes only the caller's version;
 10. every eng_* name README.md and docs/*.md mention is declared in a header (eng_x_...
     stands for any), and a call written in a code span (`eng_f(a, b)`) has the header's
     number of arguments (the docs suite compiles the fenced blocks).

usage: check_api.py <source root>
"""
import os
import re
import sys

NUMBER = r'(?:int|unsigned(?: int)?|long|size_t|double|float|u?int(?:8|16|32|64)_t|eng_time)'


def strip_comments(text):
    # blanks of the same length: offsets into the stripped text are offsets into the raw one
    return re.sub(r'/\*.*?\*/|//[^\n]*', lambda m: re.sub(r'[^\n]', ' ', m.group(0)), text, flags=re.S)


def split_params(s):
    out, depth, cur = [], 0, ''
    for c in s:
        if c == '(':
            depth += 1
        elif c == ')':
            depth -= 1
        if c == ',' and depth == 0:
            out.append(cur.strip())
            cur = ''
        else:
            cur += c
    if cur.strip():
        out.append(cur.strip())
    return [] if out == ['void'] else out


def param_name(p):
    m = re.search(r'\(\s*\*\s*(\w+)\s*\)', p)  # function pointer
    if m:
        return m.group(1)
    m = re.search(r'(\w+)\s*(\[[^\]]*\])?\s*$', p)
    return m.group(1) if m else p


def struct_fields(body):
    """Top-level field names of a struct body (depth 0 declarations; a nested union/struct counts as its name)."""
    fields, depth, cur = [], 0, ''
    for c in body:
        if c == '{':
            depth += 1
        elif c == '}':
            depth -= 1
        elif c == ';' and depth == 0:
            decl = ' '.join(cur.split())
            if decl:
                fields.append((decl, param_name(decl)))
            cur = ''
            continue
        if depth == 0 or c in '{}':
            cur += c if depth == 0 and c not in '{}' else ''
    return fields


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..')
    hdir = os.path.join(root, 'include', 'engage')
    headers = sorted(f for f in os.listdir(hdir) if f.endswith('.h'))
    raw, code = {}, {}
    for h in headers:
        raw[h] = open(os.path.join(hdir, h), encoding='utf-8').read()
        code[h] = strip_comments(raw[h])
    alltext = '\n'.join(code.values())
    enums = set(re.findall(r'typedef enum \w+ \{.*?\}\s*(\w+);', alltext, re.S))
    structs = {}
    for h in headers:
        for m in re.finditer(r'typedef struct (\w+) \{(.*?)\n\}\s*(\w+);', code[h], re.S):
            structs[m.group(3)] = (h, struct_fields(m.group(2)))
    problems = []

    # 1, 3, 4: functions
    for h in headers:
        for m in re.finditer(r'ENG_API\s+([^;{]*?)\b(eng_\w+)\s*\(([^;]*?)\)\s*;', code[h], re.S):
            name, params = m.group(2), split_params(m.group(3))
            doc = raw[h][:m.start()]
            doc = doc[doc.rfind('/**'):] if doc.rfind('/**') > doc.rfind('*/', 0, max(doc.rfind('/**'), 0)) else ''
            documented_out = set(re.findall(r'@param\[out\]\s+(\w+)', doc))
            kinds = []
            for i, p in enumerate(params):
                pn = param_name(p)
                if p == '...':
                    problems.append(f'{h}: {name}() takes varargs')
                    continue
                for en in enums:
                    if re.match(rf'(const\s+)?{en}\b(?!\s*\*)', p):
                        problems.append(f'{h}: {name}(): parameter {pn} has enum type {en}; pass enum values as int')
                is_out = (pn in documented_out or re.search(r'\*\s*\*', p) is not None
                          or (not p.startswith('const') and re.match(rf'{NUMBER}\s*\*\s*\w+$', p) is not None))
                is_cap = (i > 0 and kinds and kinds[-1] == 'out' and re.match(r'size_t\s+(cap|len|n)\w*$', p)
                          and re.search(r'(char|void|uint\d+_t)\s*\*', params[i - 1]))
                kinds.append('out' if is_out or is_cap else 'in')
            if 'out' in kinds and 'in' in kinds[kinds.index('out'):]:
                problems.append(f'{h}: {name}(): an input follows an out-parameter '
                                f'({", ".join(param_name(p) + ("*" if k == "out" else "") for p, k in zip(params, kinds))})')
    # 2: callbacks
    for h in headers:
        for m in re.finditer(r'typedef\s+[^;()]*\(\s*\*\s*(\w+)\s*\)\s*\(([^;]*?)\)\s*;', code[h], re.S):
            name, params = m.group(1), split_params(m.group(2))
            if not (name.startswith('eng_') and name.endswith('_fn')):
                problems.append(f'{h}: callback type {name} is not named eng_*_fn')
            if not params or not re.search(r'void\s*\*\s*\w*user$', params[-1]):
                problems.append(f'{h}: callback {name} does not take its user pointer last')
    # 4-7: structs
    abi_path = os.path.join(root, 'tests', 'abi', 'test_abi_layout.c')
    abi = open(abi_path, encoding='utf-8').read()
    for s, (h, fields) in sorted(structs.items()):
        for decl, fname in fields:
            for en in enums:
                if re.match(rf'(const\s+)?{en}\s+\w+', decl):
                    problems.append(f'{h}: {s}.{fname} has enum type {en}; store enum values as int')
            for other in structs:
                if re.match(rf'(const\s+)?{other}\s+\w+', decl):
                    problems.append(f'{h}: {s}.{fname} embeds struct {other} by value; pass it by pointer '
                                    f'so that it can grow')
        if fields and re.match(r'unsigned int version$', fields[0][0]):
            up = s.upper()
            for need in (f'#define {up}_VERSION', f'#define {up}_INIT'):
                if need not in alltext:
                    problems.append(f'{h}: {s} is versioned but has no {need.split()[1]}')
            if not re.search(rf'ENG_API int {s}_init\({s} \*\w+, unsigned int version\);', alltext):
                problems.append(f'{h}: {s} is versioned but has no ENG_API int {s}_init({s} *, unsigned int version)')
        if f'sizeof({s})' not in abi:
            problems.append(f'tests/abi/test_abi_layout.c: {s} ({h}) is not layout-locked (no sizeof({s}))')
        for _, fname in fields:
            if not re.search(rf'OFF\({s}, {fname}, \d+\)', abi):
                problems.append(f'tests/abi/test_abi_layout.c: the offset of {s}.{fname} is not locked')
    # 8: structs the library fills are versioned (the caller's version says how much to write)
    for h in headers:
        for m in re.finditer(r'ENG_API\s+[^;{]*?\b(eng_\w+)\s*\(([^;]*?)\)\s*;', code[h], re.S):
            for p in split_params(m.group(2)):
                t = re.match(r'(eng_\w+)\s*\*\s*\w+$', p)
                if t and t.group(1) in structs and not re.match(r'unsigned int version$',
                                                                (structs[t.group(1)][1] or [('', '')])[0][0]):
                    problems.append(f'{h}: {m.group(1)}() fills {t.group(1)}, which has no leading version')
    # 9: every versioned struct's init is checked at every version
    vpath = os.path.join(root, 'tests', 'unit', 'core', 'test_versioned.c')
    vtext = open(vpath, encoding='utf-8').read()
    for s, (h, fields) in sorted(structs.items()):
        if fields and re.match(r'unsigned int version$', fields[0][0]) and f'X({s}, ' not in vtext:
            problems.append(f'tests/unit/core/test_versioned.c: {s} ({h}) is missing from the table of inits')
    # 10: the names and calls the docs mention
    arity = {}
    for m in re.finditer(r'ENG_API\s+[^;{]*?\b(eng_\w+)\s*\(([^;]*?)\)\s*;', alltext, re.S):
        arity[m.group(1)] = len(split_params(m.group(2)))
    names = set(re.findall(r'\beng_\w+', alltext))
    for doc in ['README.md'] + sorted('docs/' + f for f in os.listdir(os.path.join(root, 'docs')) if f.endswith('.md')):
        text = open(os.path.join(root, doc), encoding='utf-8').read()
        for m in re.finditer(r'\beng_[a-z0-9]\w*', text):
            n = m.group(0)
            if n not in names and not n.endswith('_') and not re.match(r'eng_x(_|$)', n):
                problems.append(f'{doc}:{text.count(chr(10), 0, m.start()) + 1}: {n} is not declared in include/engage')
        for span in re.finditer(r'`([^`\n]*)`', text):
            for c in re.finditer(r'\b(eng_\w+)\(([^()]*(?:\([^()]*\)[^()]*)*)\)', span.group(1)):
                args = c.group(2).strip()
                if c.group(1) not in arity or not args or re.search(r'\.\.\.|…|^_\w+$', args):
                    continue
                if len(split_params(args)) != arity[c.group(1)]:
                    problems.append(f'{doc}:{text.count(chr(10), 0, span.start()) + 1}: `{c.group(0)}` has '
                                    f'{len(split_params(args))} arguments, {c.group(1)} takes {arity[c.group(1)]}')
    for p in problems:
        print(p)
    print(f'{len(headers)} headers, {len(structs)} structs: {"ok" if not problems else str(len(problems)) + " problem(s)"}')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
