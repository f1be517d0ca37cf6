# The tantivy side of `cairn bench text` (see bench/text.rs for the workload).
# argv: folder k rounds
# Reads corpus.json (a list of paragraphs; the id is the position) and queries.json (a list of
# {"class", "words"}) from the folder; prints one JSON object: build seconds, index bytes, mean
# commit-to-searchable milliseconds and per query [ids, seconds] (null when not asked).
import json, os, re, sys, time

folder, k, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
try:
    import tantivy
except ImportError as err:
    print(json.dumps({"error": f"tantivy does not import: {err}"}))
    sys.exit(0)

docs = json.load(open(f"{folder}/corpus.json"))
queries = json.load(open(f"{folder}/queries.json"))

builder = tantivy.SchemaBuilder()
builder.add_integer_field("id", stored=True, indexed=True, fast=True)
# en_stem: tantivy's simple tokenizer, long-token removal, lowercase, Snowball English.
builder.add_text_field("body", stored=False, tokenizer_name="en_stem", index_option="position")
schema = builder.build()
path = f"{folder}/tantivy"
os.makedirs(path, exist_ok=True)
index = tantivy.Index(schema, path=path)

started = time.perf_counter()
# One indexing thread (the machine has two cores), a 64 MB budget (above tantivy's 15 MB floor).
writer = index.writer(heap_size=64_000_000, num_threads=1)
for i, body in enumerate(docs):
    writer.add_document(tantivy.Document(id=i, body=body))
writer.commit()
writer.wait_merging_threads()
build_s = time.perf_counter() - started
index_bytes = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))

index.reload()
searcher = index.searcher()


def make(q):
    w = q["words"]
    c = q["class"]
    if c == "term":
        return index.parse_query(w[0], ["body"])
    if c == "and":
        return index.parse_query(f"+{w[0]} +{w[1]}", ["body"])
    if c == "or":
        return index.parse_query(f"{w[0]} {w[1]}", ["body"])
    if c == "phrase":
        return index.parse_query(f'"{w[0]} {w[1]}"', ["body"])
    if c == "prefix":
        return tantivy.Query.regex_query(schema, "body", re.escape(w[0]) + ".*")
    return tantivy.Query.fuzzy_term_query(schema, "body", w[0], distance=1)


built = [make(q) for q in queries]
answers = []
for _pass in range(2):  # the first pass warms the caches; the second is measured
    answers = []
    for query in built:
        t = time.perf_counter()
        result = searcher.search(query, k)
        elapsed = time.perf_counter() - t
        ids = [searcher.doc(address)["id"][0] for _score, address in result.hits]
        answers.append([ids, elapsed])

# Commit to searchable: add one paragraph, then commit, reload and search until it is found.
writer = index.writer(heap_size=64_000_000, num_threads=1)
total = 0.0
for r in range(rounds):
    word = sys.argv[4 + r] if len(sys.argv) > 4 + r else f"zqxw{r}"
    writer.add_document(tantivy.Document(id=len(docs) + r, body=f"a fresh paragraph about {word}"))
    t = time.perf_counter()
    writer.commit()
    index.reload()
    found = index.searcher().search(index.parse_query(word, ["body"]), k).count
    total += time.perf_counter() - t
    if found != 1:
        print(json.dumps({"error": f"a committed paragraph was not found ({found})"}))
        sys.exit(0)
writer.wait_merging_threads()

print(json.dumps({
    "build_s": build_s,
    "index_bytes": index_bytes,
    "visible_ms": total * 1e3 / rounds,
    "answers": answers,
}))
