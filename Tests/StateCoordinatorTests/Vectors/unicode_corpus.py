"""Generates documents whose names and strings mix Unicode normalization forms, with what Python's
json makes of them: an RFC 7396 merge patch applied, an RFC 6901 pointer looked up, and whether the
patch changed the document. One JSON line per case: {"document", "patch", "merged", "pointer",
"found", "unchanged"}. Usage: unicode_corpus.py SEED COUNT"""
import json, random, sys

# é precomposed and decomposed, Å as U+00C5, U+212B (the Ångström sign) and A + ring, a lone
# combining mark, and names with / and ~ next to combining marks.
NAMES = ["\u00e9", "e\u0301", "\u00c5", "\u212b", "A\u030a", "\u0301", "a/\u0301", "~\u0301", "a", "b"]
STRINGS = NAMES + ["", "x"]


def value(r, depth=0):
    kind = r.randrange(6 if depth < 3 else 4)
    if kind == 0: return r.randint(-3, 3)
    if kind == 1: return r.choice(STRINGS)
    if kind == 2: return r.random() < 0.5
    if kind == 3: return None
    if kind == 4: return [value(r, depth + 1) for _ in range(r.randint(0, 3))]
    return {r.choice(NAMES): value(r, depth + 1) for _ in range(r.randint(0, 4))}


def merge(target, patch):
    """RFC 7396 section 2, as written."""
    if not isinstance(patch, dict): return patch
    if not isinstance(target, dict): target = {}
    result = dict(target)
    for name, member in patch.items():
        if member is None: result.pop(name, None)
        else: result[name] = merge(result.get(name), member)
    return result


def escape(token):
    return token.replace("~", "~0").replace("/", "~1")


def pointer_into(r, document):
    """A pointer to something that exists, or one step beside it (another normalization form)."""
    tokens, current = [], document
    while isinstance(current, (dict, list)) and current and r.random() < 0.7:
        if isinstance(current, dict):
            name = r.choice(list(current)) if r.random() < 0.7 else r.choice(NAMES)
            tokens.append(name)
            current = current.get(name, "<missing>")
        else:
            index = r.randrange(len(current))
            tokens.append(str(index))
            current = current[index]
    return "".join("/" + escape(t) for t in tokens), current


def main():
    seed, count = int(sys.argv[1]), int(sys.argv[2])
    r = random.Random(seed)
    for _ in range(count):
        document = {r.choice(NAMES): value(r, 1) for _ in range(r.randint(1, 5))}
        patch = {r.choice(NAMES): (None if r.random() < 0.3 else value(r, 1)) for _ in range(r.randint(0, 3))}
        merged = merge(document, patch)
        pointer, found = pointer_into(r, document)
        # Equality as JSON text (Python's 1 == True would blur a boolean with a number).
        unchanged = json.dumps(merged, sort_keys=True) == json.dumps(document, sort_keys=True)
        print(json.dumps({"document": document, "patch": patch, "merged": merged, "pointer": pointer,
                          "found": found, "unchanged": unchanged}, ensure_ascii=False))


main()
