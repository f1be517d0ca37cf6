# The reference side of `cairn bench vector` (see bench/vector.rs for the workload).
# argv: folder n dims queries k M ef_construction efs(comma) filter_mods(comma)
# Reads base.f32, queries.f32 (little-endian float32, row-major) from the folder; prints one
# JSON object: per system, build seconds, memory (RSS growth across the build), bytes of the
# saved index, open (load the saved index) + first query in ms, and per row the result ids and
# latencies.
import json, os, sys, time
import numpy as np

folder, n, dims, nq, k, m, efc = sys.argv[1], *map(int, sys.argv[2:8])
efs = [int(x) for x in sys.argv[8].split(",")]
mods = [int(x) for x in sys.argv[9].split(",")]
base = np.fromfile(f"{folder}/base.f32", dtype="<f4").reshape(n, dims)
queries = np.fromfile(f"{folder}/queries.f32", dtype="<f4").reshape(nq, dims)
out = {}


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def saved(path, save, load, query):
    """Saves the index, then times loading it back and answering one query."""
    save(path)
    size = os.path.getsize(path)
    t = time.perf_counter()
    loaded = load(path)
    query(loaded, queries[0])
    open_ms = (time.perf_counter() - t) * 1e3
    os.remove(path)
    return {"disk_bytes": size, "open_ms": open_ms}


def timed(run):
    ids, lat = [], []
    for q in queries:
        t = time.perf_counter()
        found = run(q)
        lat.append(time.perf_counter() - t)
        ids.append([int(x) for x in found])
    return {"ids": ids, "latencies_s": lat}


try:
    import hnswlib

    index = hnswlib.Index(space="l2", dim=dims)
    index.set_num_threads(1)
    before = rss()
    t = time.perf_counter()
    index.init_index(max_elements=n, M=m, ef_construction=efc, random_seed=1)
    index.add_items(base, np.arange(n), num_threads=1)
    build = time.perf_counter() - t
    memory = rss() - before

    def hnsw_load(path):
        other = hnswlib.Index(space="l2", dim=dims)
        other.load_index(path, max_elements=n)
        other.set_ef(64)
        return other

    files = saved(f"{folder}/hnswlib.bin", index.save_index, hnsw_load,
                  lambda i, q: i.knn_query(q, k=k, num_threads=1))
    rows = {}
    for ef in efs:
        index.set_ef(max(ef, k))
        rows[f"ef{ef}"] = timed(lambda q: index.knn_query(q, k=k, num_threads=1)[0][0])
    index.set_ef(64)
    for mod in mods:
        keep = lambda label, mod=mod: label % mod == 0
        def filtered(q, keep=keep):
            labels, _ = index.knn_query(q, k=k, num_threads=1, filter=keep)
            return labels[0]
        try:
            rows[f"filter{mod}"] = timed(filtered)
        except RuntimeError as err:  # fewer than k found: hnswlib raises
            rows[f"filter{mod}"] = {"error": str(err)}
    out["hnswlib"] = {"build_s": build, "memory_bytes": memory, "rows": rows, **files}
except ImportError as err:
    out["hnswlib"] = {"error": str(err)}

try:
    import faiss

    faiss.omp_set_num_threads(1)
    index = faiss.IndexHNSWFlat(dims, m)
    index.hnsw.efConstruction = efc
    before = rss()
    t = time.perf_counter()
    index.add(base)
    build = time.perf_counter() - t
    memory = rss() - before
    files = saved(f"{folder}/faiss.bin", lambda p: faiss.write_index(index, p), faiss.read_index,
                  lambda i, q: i.search(q.reshape(1, -1), k))
    rows = {}
    for ef in efs:
        index.hnsw.efSearch = max(ef, k)
        rows[f"ef{ef}"] = timed(lambda q: index.search(q.reshape(1, -1), k)[1][0])
    out["faiss"] = {"build_s": build, "memory_bytes": memory, "rows": rows, **files}
except ImportError as err:
    out["faiss"] = {"error": str(err)}

try:
    from usearch.index import Index

    index = Index(ndim=dims, metric="l2sq", dtype="f32", connectivity=m, expansion_add=efc)
    before = rss()
    t = time.perf_counter()
    index.add(np.arange(n), base, threads=1)
    build = time.perf_counter() - t
    memory = rss() - before

    def usearch_load(path):
        other = Index(ndim=dims, metric="l2sq", dtype="f32", connectivity=m)
        other.load(path)
        return other

    files = saved(f"{folder}/usearch.bin", index.save, usearch_load,
                  lambda i, q: i.search(q, k, threads=1))
    rows = {}
    for ef in efs:
        index.expansion_search = max(ef, k)
        rows[f"ef{ef}"] = timed(lambda q: index.search(q, k, threads=1).keys)
    out["usearch"] = {"build_s": build, "memory_bytes": memory, "rows": rows, **files}
except ImportError as err:
    out["usearch"] = {"error": str(err)}

print(json.dumps(out))
