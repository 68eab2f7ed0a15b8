#!/usr/bin/env python3
"""Include layering: every #include "..." under src/ and include/engage/ goes to its own layer
or a layer below it, in the order of the table in docs/architecture.md (the one list).

usage: check_layers.py <source root>
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def read_layers(doc):
    """[(layer, folder, [public headers])] in order, from the table between the layer markers."""
    text = open(doc, encoding='utf-8').read()
    m = re.search(r'<!-- layers:begin -->(.*?)<!-- layers:end -->', text, re.S)
    if not m:
        sys.exit(f'{doc}: no <!-- layers:begin --> ... <!-- layers:end --> table')
    layers = []
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) < 3 or not cells[1].startswith('`src/'):
            continue
        folder = re.match(r'`src/([a-z_]+)`', cells[1]).group(1)
        headers = re.findall(r'`([a-z_]+\.h)`', cells[2])
        layers.append((cells[0], folder, headers))
    if len(layers) < 2:
        sys.exit(f'{doc}: the layer table lists fewer than two layers')
    return layers


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..')
    layers = read_layers(os.path.join(root, 'docs', 'architecture.md'))
    rank_of_folder = {folder: i for i, (_, folder, _) in enumerate(layers)}
    rank_of_header = {}
    for i, (_, _, headers) in enumerate(layers):
        for h in headers:
            if h in rank_of_header:
                sys.exit(f'docs/architecture.md: engage/{h} is listed under two layers')
            rank_of_header[h] = i

    problems = []

    def rank_of(path):
        """Layer rank of a repository-relative path, or None when the table does not place it."""
        parts = path.split('/')
        if parts[0] == 'src' and len(parts) > 2:
            return rank_of_folder.get(parts[1])
        if parts[:2] == ['include', 'engage']:
            name = parts[2][:-3] if parts[2].endswith('.h.in') else parts[2]
            return rank_of_header.get(name)
        return None

    def target_of(src, inc):
        """Repository-relative path an include names (as the build's -I include and -I src resolve it)."""
        here = os.path.dirname(src)
        if '/' not in inc:
            return f'{here}/{inc}'
        if inc.startswith('engage/'):
            return f'include/{inc}'
        return f'src/{inc}'

    files = []
    for top in ('src', os.path.join('include', 'engage')):
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for n in sorted(names):
                if n.endswith(('.c', '.h', '.h.in')):
                    files.append(os.path.relpath(os.path.join(dirpath, n), root))
    for f in sorted(files):
        me = rank_of(f)
        if me is None:
            problems.append(f'{f}: its folder or header is not in the layer table of docs/architecture.md')
            continue
        text = open(os.path.join(root, f), encoding='utf-8').read()
        # A layer below reaches one above only through a hook it declares and the upper layer
        # defines (bound by the linker), never by load-time registration: constructors are not C11.
        for m in re.finditer(r'__attribute__\s*\(\(\s*(?:__)?(?:con|de)structor', text):
            problems.append(f'{f}:{text.count(chr(10), 0, m.start()) + 1}: a load-time constructor/destructor '
                            f'(not plain C11): declare a hook in the lower layer and define it in the upper one')
        for m in INCLUDE.finditer(text):
            inc = m.group(1)
            line = text.count('\n', 0, m.start()) + 1
            to = target_of(f, inc)
            other = rank_of(to)
            if other is None:
                if not os.path.exists(os.path.join(root, to)) and not to.startswith('include/engage/version.h'):
                    problems.append(f'{f}:{line}: "{inc}" does not name a file of the tree')
                else:
                    problems.append(f'{f}:{line}: "{inc}" is in no layer of docs/architecture.md')
            elif other > me:
                problems.append(f'{f}:{line}: "{inc}" goes up: layer {layers[me][0]} includes layer '
                                f'{layers[other][0]} (order: {" -> ".join(l[0] for l in layers)})')
    for p in problems:
        print(p)
    print(f'{len(files)} files, {len(layers)} layers: '
          f'{"ok" if not problems else str(len(problems)) + " problem(s)"}')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
