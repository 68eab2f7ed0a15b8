#!/usr/bin/env python3
"""Writes a C program that calls every ENG_API function of include/engage/*.h the way a careless
host would, to check the rules of docs/api-conventions.md that hold for every call:

  B  every handle NULL, every out-parameter pointing at poison: the call fails (ENG_EMISUSE when
     its first parameter is a handle), sets each out-parameter to NULL / 0 / "" (a struct it
     fills: zero after its version), and eng_error_last() holds that code with a message;
  A  every pointer NULL, outs too: the call fails and does not crash;
  C  a live engine, every other pointer NULL, outs poisoned: whatever the answer, a failure
     zeroes the outs and is told by eng_error_last();
  D  as C with the actor "root" and the org "acme" (an org the program creates), outs poisoned
     and then NULL: the same.
A parameter the generator does not know how to fill stops it, so a new kind of argument needs a
decision here; the calls themselves come from the headers, so a new function is called without
anyone listing it (abi_symbols checks that the headers' functions are the exported ones).

usage: gen_api_calls.py <include/engage dir> <output.c>
"""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'conventions'))
from check_api import param_name, split_params, strip_comments  # noqa: E402

NUMBER = r'(?:unsigned int|unsigned|int|long|size_t|double|float|u?int(?:8|16|32|64)_t|eng_time)'
# Calls that succeed with every input NULL: the defaults (their result is released as any other).
OK_WITH_NULLS = {'eng_store_memory_new', 'eng_open'}
# Documented answers for a NULL handle that are not ENG_EMISUSE (see their headers).
NULL_HANDLE_OK = {'eng_close',            # NULL is a no-op returning ENG_OK, as free()
                  'eng_validation_find'}  # a NULL report has no failure: ENG_OK
# Out-parameters whose documented value on failure is not zero.
ON_FAILURE = {('eng_rule_eval_row', 'result'): 'ENG_RULE_NULL'}
# Calls that take the engine away: run on an engine of their own in modes C and D.
CONSUMES_ENGINE = {'eng_close'}
STRINGS_D = {'actor': '"root"', 'org': '"acme"'}


def parse(hdir):
    code = ''
    for h in sorted(f for f in os.listdir(hdir) if f.endswith('.h')):
        code += strip_comments(open(os.path.join(hdir, h), encoding='utf-8').read()) + '\n'
    opaque = set(re.findall(r'typedef struct (eng_\w+) \1;', code))
    versioned = {m.group(2) for m in re.finditer(r'typedef struct (\w+) \{\s*unsigned int version;.*?\n\}\s*(\w+);',
                                                 code, re.S)}
    funcs = [(' '.join(m.group(1).split()), m.group(2), split_params(' '.join(m.group(3).split())))
             for m in re.finditer(r'ENG_API\s+([^;{]*?)\b(eng_\w+)\s*\(([^;]*?)\)\s*;', code, re.S)]
    frees = {}
    for ret, name, params in funcs:
        t = re.match(r'(eng_\w+) \*\w+$', params[0]) if ret == 'void' and len(params) == 1 else None
        if t and t.group(1) in opaque:
            frees[t.group(1)] = name
    frees['eng_engine'] = 'eng_close'
    return opaque, versioned, funcs, frees


def classify(params, opaque, versioned, fname):
    """One (kind, C type, name) a parameter; kinds: engine handle in num out_ptr out_num out_buf
    out_arr out_struct cap."""
    kinds = []
    for i, p in enumerate(params):
        name = param_name(p)
        decl = p[:p.rfind(name)].strip()
        arr = re.search(r'\[(\d+)\]$', p)
        if decl == 'eng_engine *':
            kinds.append(('engine', decl, name))
        elif re.fullmatch(r'(const )?(eng_\w+) \*', decl) and re.fullmatch(r'(const )?(eng_\w+) \*', decl).group(2) in opaque:
            kinds.append(('handle', decl, name))
        elif arr:
            kinds.append(('out_arr', decl, name + ':' + arr.group(1)))
        elif decl.endswith('**') or decl.endswith('* *'):
            kinds.append(('out_ptr', decl[:-1].strip(), name))
        elif re.fullmatch(r'char \*', decl):
            kinds.append(('out_buf', 'char', name))
        elif re.fullmatch(rf'{NUMBER} \*', decl):
            nxt = params[i + 1] if i + 1 < len(params) else ''
            prev = params[i - 1] if i else ''
            arr = re.match(r'size_t (cap|n)\b', nxt) or re.match(r'size_t n$', prev) or name == 'sel'
            kinds.append(('out_arr' if arr else 'out_num', decl[:-1].strip(), name))
        elif re.fullmatch(r'(eng_\w+) \*', decl) and decl[:-2] in versioned:
            # eng_x_init(x, version) fills x from nothing: a refusal (bad version) has no size to clear
            init = fname == decl[:-2] + '_init'
            kinds.append(('in', decl, name) if init else ('out_struct', decl[:-2], name))
        elif re.fullmatch(rf'{NUMBER}', decl):
            cap = i > 0 and kinds[-1][0] in ('out_buf', 'out_arr') and re.match(r'(cap|n)$', name)
            kinds.append(('cap' if cap else 'num', decl, name))
        elif decl.startswith('const ') and decl.endswith('*') or decl == 'void *' or re.fullmatch(r'eng_\w+_fn', decl):
            kinds.append(('in', decl, name))
        else:
            sys.exit(f'gen_api_calls.py: {fname}(): no rule for parameter "{p}"; add one')
    return kinds


def emit_call(ret, name, kinds, mode, frees, versioned):
    """The C statements of one call in one mode (A, B, C, D or D0)."""
    live = mode in ('C', 'D', 'D0')
    poison = mode in ('B', 'C', 'D')
    lines, args, checks, release = [], [], [], []
    for j, (kind, ctype, pname) in enumerate(kinds):
        v = f'o{j}'
        if kind == 'engine':
            args.append('e' if live else 'NULL')
        elif kind in ('handle', 'in'):
            args.append(STRINGS_D.get(pname, 'NULL') if mode in ('D', 'D0') and ctype == 'const char *' else 'NULL')
        elif kind == 'num':
            args.append('0')
        elif kind == 'cap':
            args.append('4' if poison else '0')
        elif not poison:
            args.append('NULL')
        elif kind == 'out_ptr':
            lines.append(f'{ctype} {v}; memset(&{v}, 0xA5, sizeof {v});')
            args.append(f'&{v}')
            checks.append(f'if ({v} != NULL) bad(where, "{pname}", "not NULL on failure");')
            base = re.sub(r'^const ', '', ctype[:-1].strip())
            if base in frees and not ctype.startswith('const '):
                release.append(f'{frees[base]}({v});')
            elif not ctype.startswith('const '):
                release.append(f'eng_free(e, {v});')
        elif kind == 'out_num':
            lines.append(f'{ctype} {v}; memset(&{v}, 0xA5, sizeof {v});')
            args.append(f'&{v}')
            want = ON_FAILURE.get((name, pname), '0')
            checks.append(f'if ({v} != {want}) bad(where, "{pname}", "not {want} on failure");')
        elif kind == 'out_buf':
            lines.append(f'char {v}[4]; memset({v}, 0xA5, sizeof {v});')
            args.append(v)
            checks.append(f'if ({v}[0] != 0) bad(where, "{pname}", "not \\"\\" on failure");')
        elif kind == 'out_arr':
            n = pname.split(':')[1] if ':' in pname else '4'
            lines.append(f'{ctype} {v}[{n}]; memset({v}, 0xA5, sizeof {v});')
            args.append(v)
            if ':' in pname:  # a fixed-size array (a hash): all of it is the out-parameter
                checks.append(f'if (!all_zero({v}, sizeof {v})) bad(where, "{pname.split(":")[0]}", '
                              f'"not zeroed on failure");')
        elif kind == 'out_struct':
            up = ctype.upper()
            lines.append(f'{ctype} {v}; memset(&{v}, 0xA5, sizeof {v}); {v}.version = {up}_VERSION;')
            args.append(f'&{v}')
            checks.append(f'if ({v}.version != {up}_VERSION || !all_zero((const char *)&{v} + sizeof {v}.version, '
                          f'sizeof {v} - sizeof {v}.version)) bad(where, "{pname}", "not zero after its version on failure");')
    call = f'{name}({", ".join(args)})'
    out = [f'/* {mode} */ {{', f'    const char *where = "{name} ({mode})";', '    (void)where;'] + ['    ' + x for x in lines]
    out.append('    eng_error_clear();')
    if ret == 'int':
        out.append(f'    int rc = {call};')
        has_ptr = any(k in ('engine', 'handle', 'in') or k.startswith('out') for k, _, _ in kinds)
        if mode in ('A', 'B') and has_ptr and name not in OK_WITH_NULLS and name not in NULL_HANDLE_OK:
            out.append('    if (rc == ENG_OK) bad(where, "", "ENG_OK with NULL arguments");')
        if mode == 'B' and kinds and kinds[0][0] in ('engine', 'handle') and name not in NULL_HANDLE_OK:
            out.append('    if (rc != ENG_EMISUSE) bad_code(where, rc, ENG_EMISUSE);')
        out.append('    if (rc < 0 && rc != ENG_ITEROVER) {')
        out.append('        told(where, rc);')
        out += ['        ' + c for c in checks]
        out.append('    }')
        if release:
            out.append('    if (rc == ENG_OK) {')
            out += ['        ' + r for r in release]
            out.append('    }')
    elif ret == 'void':
        out.append(f'    {call};')
    else:
        out.append(f'    (void){call};')
    out.append('    calls++;')
    out.append('}')
    return out


def main():
    hdir, target = sys.argv[1:3]
    opaque, versioned, funcs, frees = parse(hdir)
    body = []
    for ret, name, params in funcs:
        kinds = classify(params, opaque, versioned, name)
        body.append(f'static void call_{name}(eng_engine *e)\n{{\n    (void)e;')
        for mode in ('A', 'B'):
            body += ['    ' + x for x in emit_call(ret, name, kinds, mode, frees, versioned)]
        if any(k == 'engine' for k, _, _ in kinds):
            if name in CONSUMES_ENGINE:
                body.append('    e = fresh_engine(NULL);')
            for mode in ('C', 'D', 'D0'):
                if name in CONSUMES_ENGINE and mode != 'C':
                    continue
                body += ['    ' + x for x in emit_call(ret, name, kinds, mode, frees, versioned)]
        body.append('}\n')
    table = ',\n'.join(f'    {{"{name}", call_{name}}}' for _, name, _ in funcs)
    with open(target, 'w', encoding='utf-8') as f:
        f.write('/* Generated by tests/abi/gen_api_calls.py from the public headers: do not edit. */\n')
        f.write('#include "api_calls.h"\n\n')
        f.write('\n'.join(body))
        f.write(f'\nconst api_call api_calls[] = {{\n{table}\n}};\n')
        f.write(f'const size_t api_ncalls = {len(funcs)};\n')


if __name__ == '__main__':
    main()
